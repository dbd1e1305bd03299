"""Inference use cases: embed texts, rerank documents, describe models.

Calls are synchronous and may take a while (a model forward pass, a first
load); edges run them in worker threads, never on the event loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from spruce.embeddings import DenseEmbedder, ModelCard, Registry, SparseEmbedder
from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = ["Embeddings", "Inference", "Ranked", "Reranking"]

_RERANK_DOCS_PER_UNIT = 100


@dataclass
class Embeddings:
    """One embedding per input, dense or sparse, from the model that ran."""

    model: str
    vector_type: str
    dense: npt.NDArray[np.float32] | None
    sparse: list[SparseVector] | None
    token_names: list[list[str]] | None
    tokens: int


@dataclass
class Ranked:
    index: int
    score: float
    document: dict[str, Any] | None


@dataclass
class Reranking:
    model: str
    ranked: list[Ranked]
    units: int


class Inference:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    # -- models ----------------------------------------------------------------

    def list_models(self, kind: object = None, vector_type: object = None) -> list[ModelCard]:
        if kind is not None and kind not in ("embed", "rerank"):
            raise InvalidArgument(f"Invalid type {kind!r}: expected embed or rerank")
        if vector_type is not None and vector_type not in ("dense", "sparse"):
            raise InvalidArgument(f"Invalid vector_type {vector_type!r}: expected dense or sparse")
        return self.registry.cards(
            kind if isinstance(kind, str) else None,
            vector_type if isinstance(vector_type, str) else None,
        )

    def get_model(self, name: str) -> ModelCard:
        return self.registry.card(name)

    # -- embed -----------------------------------------------------------------

    def embed(self, model: object, inputs: object, parameters: object = None) -> Embeddings:
        """The /embed API: inputs are ``[{"text": ...}]`` (or plain strings)."""
        if not isinstance(inputs, list) or not inputs:
            raise InvalidArgument("inputs must be a non-empty list of {'text': ...} objects")
        texts = []
        for i, item in enumerate(inputs):
            text = item.get("text") if isinstance(item, Mapping) else item
            if not isinstance(text, str):
                raise InvalidArgument(f"Input {i} must be an object with a string 'text'")
            texts.append(text)
        return self.embed_texts(model, texts, parameters)

    def embed_texts(self, model: object, texts: list[str], parameters: object) -> Embeddings:
        card, embedder = self.registry.embedder(model)
        if len(texts) > card.max_batch_size:
            raise InvalidArgument(
                f"Model {card.name!r} embeds at most {card.max_batch_size} inputs per request, "
                f"got {len(texts)}"
            )
        params = card.check_parameters(parameters)
        name = card.alias_of or card.name
        input_type = str(params.get("input_type", "passage"))
        truncate = str(params.get("truncate", "END"))
        if card.vector_type == "sparse":
            sparse = cast(SparseEmbedder, embedder).embed(
                texts,
                input_type=input_type,
                truncate=truncate,
                return_tokens=bool(params.get("return_tokens", False)),
            )
            return Embeddings(
                name, "sparse", None, sparse.vectors, sparse.token_names, sparse.tokens
            )
        dense = cast(DenseEmbedder, embedder).embed(texts, input_type=input_type, truncate=truncate)
        return Embeddings(name, "dense", dense.vectors, None, None, dense.tokens)

    # -- rerank ----------------------------------------------------------------

    def rerank(
        self,
        model: object,
        query: object,
        documents: object,
        *,
        rank_fields: object = None,
        return_documents: object = True,
        top_n: object = None,
        parameters: object = None,
    ) -> Reranking:
        card, reranker = self.registry.reranker(model)
        if not isinstance(query, str) or not query:
            raise InvalidArgument("query must be a non-empty string")
        if not isinstance(documents, list) or not documents:
            raise InvalidArgument("documents must be a non-empty list")
        if len(documents) > card.max_batch_size:
            raise InvalidArgument(
                f"Model {card.name!r} reranks at most {card.max_batch_size} documents, "
                f"got {len(documents)}"
            )
        fields = ["text"] if rank_fields is None else rank_fields
        if (
            not isinstance(fields, list)
            or not fields
            or not all(isinstance(f, str) and f for f in fields)
        ):
            raise InvalidArgument("rank_fields must be a non-empty list of field names")
        if not isinstance(return_documents, bool):
            raise InvalidArgument("return_documents must be a boolean")
        docs = [
            d if isinstance(d, Mapping) else {"text": d} if isinstance(d, str) else None
            for d in documents
        ]
        texts = []
        for i, doc in enumerate(docs):
            if doc is None:
                raise InvalidArgument(f"Document {i} must be a string or an object")
            texts.append(rank_text(doc, fields, f"Document {i}"))
        count = len(texts)
        keep = count if top_n is None else _top_n(top_n)
        params = card.check_parameters(parameters)
        scores = reranker.score(query, texts, truncate=str(params.get("truncate", "END")))
        order = sorted(range(count), key=lambda i: (-scores[i], i))[:keep]
        ranked = [
            Ranked(i, scores[i], dict(docs[i] or {}) if return_documents else None) for i in order
        ]
        return Reranking(
            card.alias_of or card.name, ranked, math.ceil(count / _RERANK_DOCS_PER_UNIT)
        )

    def rerank_scores(
        self, model: object, query: str, texts: list[str], parameters: object = None
    ) -> tuple[str, list[float]]:
        """Scores for texts already drawn from records (the search API's rerank step)."""
        card, reranker = self.registry.reranker(model)
        params = card.check_parameters(parameters)
        scores = reranker.score(query, texts, truncate=str(params.get("truncate", "END")))
        return card.alias_of or card.name, scores


def rank_text(doc: Mapping[str, Any], fields: list[str], what: str) -> str:
    """The text a reranker reads: the rank fields' values, one per line."""
    parts = []
    for field in fields:
        if field not in doc:
            raise InvalidArgument(f"{what} has no field {field!r} to rank on")
        value = doc[field]
        if not isinstance(value, str):
            raise InvalidArgument(f"{what}: rank field {field!r} must be a string")
        parts.append(value)
    return "\n".join(parts)


def _top_n(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise InvalidArgument("top_n must be a positive integer")
    return raw
