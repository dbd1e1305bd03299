"""Pinecone's ``match_terms``: keep records whose text holds every one of some words.

Pinecone (search, 2025-10): "Terms are normalized and tokenized into single tokens
before matching, and order does not matter": ``["animal", "CHARACTER", "donald Duck"]``
matches "Donald F. Duck is a funny animal character", not "A duck is a funny animal".
Here a token is a run of letters and digits of the NFKC-normalized, case-folded text,
on both sides; no stemming and no stop words, so every given word must be there as is.

``TermsAll`` is a filter node that no filter JSON parses to: the records API adds it to
a search (``service/text_records.py``). The metadata indexes cannot answer it, so
segments evaluate it row by row like any filter they do not index (one substring test
per term first, so most rows are rejected without being tokenized).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from spruce.engine.read.filters import Filter

__all__ = ["TermsAll", "words"]

_WORD = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """The tokens ``match_terms`` compares, in order."""
    return _WORD.findall(_fold(text))


@dataclass(frozen=True, eq=False)
class TermsAll(Filter):
    """The metadata text ``field`` contains every token of ``terms`` (``words`` of each)."""

    field: str
    terms: tuple[str, ...]

    def _compile(self) -> Callable[[Mapping[str, object]], bool]:
        field, wanted = self.field, frozenset(self.terms)

        def pred(m: Mapping[str, object]) -> bool:
            text = m.get(field)
            if not isinstance(text, str):
                return False
            folded = _fold(text)
            if not all(t in folded for t in wanted):
                return False
            return wanted.issubset(_WORD.findall(folded))

        return pred
