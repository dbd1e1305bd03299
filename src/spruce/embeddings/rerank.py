"""all-MiniLM-L6-v2-cosine: reranking by embedding similarity, run locally.

No cross-encoder ships in a package that installs offline, so Spruce's reranker
is what its name says: the query and each document are embedded with
all-MiniLM-L6-v2 and scored by cosine similarity, mapped from [-1, 1] to
[0, 1] as ``(1 + cos) / 2`` so scores read like Pinecone's rerankers'. It
orders by semantic closeness; a cross-encoder (bge-reranker-v2-m3 and the
like) reads query and document together and is usually more precise.
"""

from __future__ import annotations

import numpy as np

from spruce.embeddings.base import ModelCard, Parameter
from spruce.embeddings.minilm import MINILM, MiniLM

__all__ = ["COSINE_RERANKER", "CosineReranker"]

COSINE_RERANKER = f"{MINILM}-cosine"


class CosineReranker:
    card = ModelCard(
        name=COSINE_RERANKER,
        kind="rerank",
        description=(
            "Reranks by the cosine similarity of all-MiniLM-L6-v2 embeddings of the query "
            "and each document, reported as (1 + cosine) / 2. A bi-encoder, not a "
            "cross-encoder. Local, up to 256 tokens per document."
        ),
        provider="sentence-transformers (local)",
        max_sequence_length=256,
        max_batch_size=1000,
        parameters=(Parameter("truncate", "string", "END", ("END", "NONE")),),
    )

    def __init__(self, encoder: MiniLM) -> None:
        self._encoder = encoder

    def score(self, query: str, documents: list[str], *, truncate: str) -> list[float]:
        out = self._encoder.embed([query, *documents], input_type="query", truncate=truncate)
        q, docs = out.vectors[0], out.vectors[1:]
        cosine = np.clip(docs @ q, -1.0, 1.0)
        return [float(s) for s in (1.0 + cosine) / 2.0]
