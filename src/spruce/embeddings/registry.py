"""Model names -> local models, and an honest answer for the names Spruce cannot run.

Spruce serves its local models under their own names. Pinecone's hosted models
(multilingual-e5-large, bge-reranker-v2-m3, ...) are different networks, so
their names are refused with an error that lists what is available, unless the
operator maps a name to a local model (``SPRUCE_MODEL_ALIASES``, e.g.
``multilingual-e5-large=all-MiniLM-L6-v2``). An alias is listed next to the
model it names, and every response reports the model that actually ran.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from spruce.embeddings.base import DenseEmbedder, ModelCard, Reranker, SparseEmbedder
from spruce.embeddings.bm25 import BM25
from spruce.embeddings.minilm import MiniLM
from spruce.embeddings.rerank import CosineReranker
from spruce.errors import InvalidArgument, NotFound

__all__ = ["PINECONE_MODELS", "Registry", "parse_aliases"]

#: Pinecone's hosted models and their kinds, to name them in refusals.
PINECONE_MODELS: dict[str, Literal["embed", "rerank"]] = {
    "multilingual-e5-large": "embed",
    "llama-text-embed-v2": "embed",
    "pinecone-sparse-english-v0": "embed",
    "bge-reranker-v2-m3": "rerank",
    "cohere-rerank-3.5": "rerank",
    "pinecone-rerank-v0": "rerank",
}


def parse_aliases(raw: str) -> dict[str, str]:
    """``"name=model,name2=model2"`` -> a dict; names compare case-insensitively."""
    aliases: dict[str, str] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"Model alias {item!r} must read NAME=LOCAL_MODEL")
        aliases[name.strip().lower()] = target.strip()
    return aliases


class Registry:
    """Every model this server runs; the heavy ones load on first use, once."""

    def __init__(self, aliases: dict[str, str] | None = None, *, threads: int = 0) -> None:
        self.minilm = MiniLM(threads=threads)
        self._embedders: dict[str, DenseEmbedder | SparseEmbedder] = {
            self.minilm.card.name.lower(): self.minilm,
            BM25.card.name.lower(): BM25(),
        }
        self._rerankers: dict[str, Reranker] = {}
        reranker = CosineReranker(self.minilm)
        self._rerankers[reranker.card.name.lower()] = reranker
        self._aliases: dict[str, ModelCard] = {}
        for name, target in (aliases or {}).items():
            card = self._own_card(target)
            if card is None:
                raise ValueError(
                    f"Model alias {name}={target}: {target!r} is not a local model "
                    f"({', '.join(c.name for c in self._own_cards())})"
                )
            kind = PINECONE_MODELS.get(name.lower())
            if kind is not None and kind != card.kind:
                raise ValueError(f"Model alias {name}={target}: {name} is a {kind} model")
            self._aliases[name.lower()] = dataclasses.replace(
                card,
                name=name,
                alias_of=card.name,
                description=f"Alias of {card.name} on this server. {card.description}",
            )

    def _own_cards(self) -> list[ModelCard]:
        return [m.card for m in self._embedders.values()] + [
            r.card for r in self._rerankers.values()
        ]

    def _own_card(self, name: str) -> ModelCard | None:
        found = self._embedders.get(name.lower()) or self._rerankers.get(name.lower())
        return found.card if found is not None else None

    def cards(self, kind: str | None = None, vector_type: str | None = None) -> list[ModelCard]:
        every = self._own_cards() + list(self._aliases.values())
        return [
            c
            for c in every
            if (kind is None or c.kind == kind)
            and (vector_type is None or c.vector_type == vector_type)
        ]

    def card(self, name: object, kind: str | None = None) -> ModelCard:
        """The card for a name (an alias keeps its own name); NotFound says what exists."""
        if not isinstance(name, str) or not name:
            raise InvalidArgument("model must be a non-empty string")
        found = self._aliases.get(name.lower()) or self._own_card(name)
        if found is None or (kind is not None and found.kind != kind):
            raise NotFound(self._unknown(name, kind))
        return found

    def _unknown(self, name: str, kind: str | None) -> str:
        available = self.cards(kind)
        listing = ", ".join(_label(c) for c in available) or "none"
        what = {"embed": "embedding", "rerank": "reranking"}.get(kind or "", "")
        if name.lower() in PINECONE_MODELS:
            return (
                f"Model {name!r} is hosted by Pinecone and cannot run on this server. "
                f"Available {what + ' ' if what else ''}models: {listing}. To keep the name, "
                f"map it to a local model with SPRUCE_MODEL_ALIASES={name}=<model>; "
                "responses then name the model that ran."
            )
        return f"Unknown {what + ' ' if what else ''}model {name!r}. Available: {listing}."

    def embedder(self, name: object) -> tuple[ModelCard, DenseEmbedder | SparseEmbedder]:
        card = self.card(name, "embed")
        return card, self._embedders[(card.alias_of or card.name).lower()]

    def reranker(self, name: object) -> tuple[ModelCard, Reranker]:
        card = self.card(name, "rerank")
        return card, self._rerankers[(card.alias_of or card.name).lower()]


def _label(card: ModelCard) -> str:
    if card.kind == "rerank":
        detail = "rerank"
    elif card.vector_type == "dense":
        detail = f"dense, {card.dimension}-d"
    else:
        detail = "sparse"
    alias = f", alias of {card.alias_of}" if card.alias_of else ""
    return f"{card.name} ({detail}{alias})"
