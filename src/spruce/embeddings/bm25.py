"""spruce-bm25-v0: a statistical sparse model, BM25 term weights over hashed words.

Pure Python and deterministic, no weights and no corpus:

* Text is NFKC-normalized and case-folded, split into runs of letters and
  digits, English stop words dropped, and each word reduced by the S-stemmer
  (Harman, 1991: plural endings only, so "databases" meets "database").
* A word's index is the first 4 bytes (little endian) of its BLAKE2b hash, so
  the same word has the same index in every process and every index.
* A passage weighs each word by BM25's saturated term frequency,
  ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))`` with k1 = 1.2,
  b = 0.75 and a fixed avglen of 64 words; a query weighs each word by its count.
  The dot product of the two is then BM25 without the IDF factor: the model
  keeps no corpus statistics, and the stop-word list stands in for the words an
  IDF would discount. It is not Pinecone's learned pinecone-sparse-english-v0.
* Inputs longer than 512 words are truncated (truncate END) or refused (NONE).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

import numpy as np

from spruce.embeddings.base import ModelCard, Parameter, SparseOutput
from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = ["BM25", "BM25_MODEL", "term_index", "terms"]

BM25_MODEL = "spruce-bm25-v0"
_K1 = 1.2
_B = 0.75
_AVG_LEN = 64.0
_MAX_WORDS = 512
_WORD = re.compile(r"[^\W_]+")
_STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t d ll m re ve""".split()  # noqa: SIM905
)


def _stem(word: str) -> str:
    """The S-stemmer: only plural endings, so it rarely merges unrelated words."""
    if len(word) > 3 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 2 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def terms(words: list[str]) -> list[str]:
    return [_stem(w) for w in words if w not in _STOP_WORDS]


def term_index(term: str) -> int:
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


class BM25:
    card = ModelCard(
        name=BM25_MODEL,
        kind="embed",
        description=(
            "Spruce's statistical sparse model: BM25 term-frequency weights (k1 1.2, b 0.75) "
            "over stemmed English words hashed to 32-bit indices, without IDF; queries "
            "weigh each word by its count. Local, no weights."
        ),
        provider="Spruce (local)",
        vector_type="sparse",
        metrics=("dotproduct",),
        max_sequence_length=_MAX_WORDS,
        parameters=(
            Parameter("input_type", "string", "passage", ("query", "passage")),
            Parameter("truncate", "string", "END", ("END", "NONE")),
            Parameter("return_tokens", "boolean", False),
        ),
    )

    def embed(
        self, texts: list[str], *, input_type: str, truncate: str, return_tokens: bool = False
    ) -> SparseOutput:
        vectors: list[SparseVector] = []
        names: list[list[str]] = []
        total = 0
        for i, text in enumerate(texts):
            words = _words(text)
            if len(words) > _MAX_WORDS:
                if truncate == "NONE":
                    raise InvalidArgument(
                        f"Input {i} has {len(words)} words, more than the {_MAX_WORDS} that "
                        f"{BM25_MODEL} accepts; shorten it or pass truncate END"
                    )
                words = words[:_MAX_WORDS]
            total += len(words)
            kept = terms(words)
            counts = Counter(kept)
            weights: dict[int, float] = {}
            first_name: dict[int, str] = {}
            norm = _K1 * (1 - _B + _B * len(kept) / _AVG_LEN)
            for term, tf in counts.items():
                index = term_index(term)
                weight = float(tf) if input_type == "query" else tf * (_K1 + 1) / (tf + norm)
                # Two words hashing alike (rare in 2**32) share one index and add up.
                weights[index] = weights.get(index, 0.0) + weight
                first_name.setdefault(index, term)
            order = sorted(weights)
            vectors.append(
                SparseVector(
                    np.asarray(order, dtype=np.uint32),
                    np.asarray([weights[k] for k in order], dtype=np.float32),
                )
            )
            names.append([first_name[k] for k in order])
        return SparseOutput(vectors, total, names if return_tokens else None)
