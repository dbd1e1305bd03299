"""Full-text analysis of ``string`` fields: tantivy's analyzers, one per field config.

The pipeline of Pinecone's text processing guide: split on whitespace and punctuation,
lowercase, stem (``stemming``, by ``language``), drop stop words (``stop_words``), cap
each token at 40 characters. With ``ngram`` each word is cut into character n-grams
instead (``prefix_only``: only those starting the word). tantivy (Rust, on PyPI)
provides the tokenizers, Snowball stemmers and stop word lists; nothing here is a
hand-written stemmer or tokenizer.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson
import tantivy

from spruce.service.documents.schema import LANGUAGES

__all__ = ["MAX_TOKEN_CHARS", "Analyzer", "analyzer"]

MAX_TOKEN_CHARS = 40


class Analyzer:
    """Text -> tokens for one field configuration (``full_text_search`` resolved)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        language = LANGUAGES[str(config.get("language", "en"))]
        words = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(
            tantivy.Filter.lowercase()
        )
        ngram = config.get("ngram")
        self._grams: tantivy.TextAnalyzer | None = None
        if ngram is not None:
            self._grams = tantivy.TextAnalyzerBuilder(
                tantivy.Tokenizer.ngram(
                    int(ngram["min_gram"]), int(ngram["max_gram"]), bool(ngram["prefix_only"])
                )
            ).build()
        else:
            # Stemming before stop words, as the guide orders them.
            if config.get("stemming"):
                words = words.filter(tantivy.Filter.stemmer(language))
            if config.get("stop_words"):
                words = words.filter(tantivy.Filter.stopword(language))
        self._words = words.build()
        #: What the query parser tokenizes this field's query terms with (a word is one
        #: token at a time there, so n-grams of a word come out the same).
        self.tantivy = self._grams if self._grams is not None else self._words

    def tokens(self, text: str) -> list[str]:
        words = [w[:MAX_TOKEN_CHARS] for w in self._words.analyze(text)]
        if self._grams is None:
            return words
        grams = self._grams
        return [g for w in words for g in grams.analyze(w)]


@lru_cache(maxsize=256)
def _cached(key: bytes) -> Analyzer:
    return Analyzer(orjson.loads(key))


def analyzer(config: Mapping[str, Any]) -> Analyzer:
    """The (shared) analyzer of a resolved ``full_text_search`` config."""
    return _cached(orjson.dumps(dict(config), option=orjson.OPT_SORT_KEYS))
