"""Exact scoring and top-k over row sources (memtable and segments).

Scores follow Pinecone: cosine similarity and dot product (higher is better) and
squared Euclidean distance (lower is better); hybrid = dense score + sparse dot
product. Each source contributes its best ``top_k`` rows plus every row tied with the
k-th, so the final merge can break ties by id exactly as a single global sort would.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from spruce.engine.rows import Csr, RowSource
from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = ["Candidate", "Metric", "QuerySpec", "merge_top_k", "source_candidates"]

Metric = Literal["cosine", "euclidean", "dotproduct"]
# Rows per chunk for the Euclidean difference, bounding its temporary to a few MiB.
_CHUNK = 4096


@dataclass(frozen=True)
class QuerySpec:
    metric: Metric
    top_k: int
    vector: npt.NDArray[np.float32] | None
    sparse_indices: npt.NDArray[np.uint32] | None  # sorted, unique
    sparse_values: npt.NDArray[np.float32] | None

    @classmethod
    def build(
        cls,
        metric: Metric,
        top_k: int,
        vector: npt.NDArray[np.float32] | None,
        sparse: SparseVector | None,
    ) -> QuerySpec:
        if sparse is None:
            return cls(metric, top_k, vector, None, None)
        indices = np.asarray(sparse.indices, dtype=np.uint32)
        values = np.asarray(sparse.values, dtype=np.float32)
        if indices.shape != values.shape or indices.ndim != 1:
            raise InvalidArgument("sparse indices and values must have the same length")
        # Duplicate indices are summed, so the query means one sparse vector.
        unique, inverse = np.unique(indices, return_inverse=True)
        summed = np.bincount(inverse, weights=values, minlength=len(unique)).astype(np.float32)
        return cls(metric, top_k, vector, unique.astype(np.uint32), summed)

    @property
    def higher_is_better(self) -> bool:
        return self.metric != "euclidean"


@dataclass(frozen=True)
class Candidate:
    key: float  # smaller is better
    id: str
    score: float
    source: int
    row: int


def _dense(
    src: RowSource, rows: npt.NDArray[np.intp], q: npt.NDArray[np.float32], metric: Metric
) -> npt.NDArray[np.float32]:
    vectors = src.vectors()
    if vectors is None:
        raise InvalidArgument("this index has no dense vectors; query with sparse values only")
    # Score every row and pick when most rows are allowed (no gather copy); gather otherwise.
    full = rows.size * 4 >= vectors.shape[0]
    sub = vectors if full else vectors[rows]
    if metric == "euclidean":
        # The difference, not |v|^2 - 2v.q + |q|^2, which cancels badly in float32.
        out = np.empty(sub.shape[0], dtype=np.float32)
        for lo in range(0, sub.shape[0], _CHUNK):
            diff = np.asarray(sub[lo : lo + _CHUNK], dtype=np.float32) - q
            out[lo : lo + _CHUNK] = np.einsum("ij,ij->i", diff, diff)
    else:
        out = np.asarray(sub @ q, dtype=np.float32)
        if metric == "cosine":
            norms = src.norms() if full else src.norms()[rows]
            denom = norms * np.float32(np.linalg.norm(q))
            # A zero vector has no direction: score it 0 rather than NaN.
            out = np.divide(out, denom, out=np.zeros_like(out), where=denom > 0)
    return out[rows] if full else out


def _sparse(
    csr: Csr, size: int, q_indices: npt.NDArray[np.uint32], q_values: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Sparse dot product of every row with the query, and whether any index overlaps."""
    if q_indices.size == 0 or csr.indices.size == 0:
        return np.zeros(size, dtype=np.float64), np.zeros(size, dtype=np.bool_)
    row_of_nnz = np.repeat(np.arange(size), np.diff(csr.indptr))
    pos = np.minimum(np.searchsorted(q_indices, csr.indices), q_indices.size - 1)
    hit = q_indices[pos] == csr.indices
    rows = row_of_nnz[hit]
    weights = csr.values[hit].astype(np.float64) * q_values[pos[hit]]
    scores = np.bincount(rows, weights=weights, minlength=size).astype(np.float64, copy=False)
    overlap = np.bincount(rows, minlength=size) > 0
    return scores, overlap


def source_candidates(
    src: RowSource, allowed: npt.NDArray[np.bool_], spec: QuerySpec
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Rows of ``src`` that may be in the global top-k, with their scores."""
    rows = np.flatnonzero(allowed)
    scores = np.zeros(rows.size, dtype=np.float64)
    if rows.size == 0:
        return rows, scores
    if spec.vector is not None:
        scores += _dense(src, rows, spec.vector, spec.metric)
    if spec.sparse_indices is not None and spec.sparse_values is not None:
        sparse, overlap = _sparse(src.csr(), src.size, spec.sparse_indices, spec.sparse_values)
        scores += sparse[rows]
        if spec.vector is None:
            # A sparse-only query matches records sharing at least one dimension with it,
            # as an inverted index would.
            keep = overlap[rows]
            rows, scores = rows[keep], scores[keep]
    keys = -scores if spec.higher_is_better else scores
    if rows.size > spec.top_k:
        kth = np.partition(keys, spec.top_k - 1)[spec.top_k - 1]
        keep = keys <= kth  # keeps every row tied with the k-th
        rows, scores = rows[keep], scores[keep]
    return rows, scores


def merge_top_k(
    sources: Sequence[RowSource],
    per_source: Sequence[tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]],
    spec: QuerySpec,
) -> list[Candidate]:
    sign = -1.0 if spec.higher_is_better else 1.0
    candidates = (
        Candidate(sign * float(score), src.id_at(int(row)), float(score), i, int(row))
        for i, (src, (rows, scores)) in enumerate(zip(sources, per_source, strict=True))
        for row, score in zip(rows, scores, strict=True)
    )
    return heapq.nsmallest(spec.top_k, candidates, key=lambda c: (c.key, c.id))
