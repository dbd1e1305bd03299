"""Local models behind Pinecone's inference API and integrated indexes.

Dense: all-MiniLM-L6-v2 (optional extra ``spruce[embed]``, loaded lazily).
Sparse: spruce-bm25-v0 (pure Python). Rerank: all-MiniLM-L6-v2-cosine.
"""

from __future__ import annotations

from spruce.embeddings.base import (
    DenseEmbedder,
    DenseOutput,
    ModelCard,
    Parameter,
    Reranker,
    SparseEmbedder,
    SparseOutput,
)
from spruce.embeddings.bm25 import BM25_MODEL
from spruce.embeddings.minilm import MINILM
from spruce.embeddings.registry import PINECONE_MODELS, Registry, parse_aliases
from spruce.embeddings.rerank import COSINE_RERANKER

__all__ = [
    "BM25_MODEL",
    "COSINE_RERANKER",
    "MINILM",
    "PINECONE_MODELS",
    "DenseEmbedder",
    "DenseOutput",
    "ModelCard",
    "Parameter",
    "Registry",
    "Reranker",
    "SparseEmbedder",
    "SparseOutput",
    "parse_aliases",
]
