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

from spruce.engine.options import SearchTuning
from spruce.engine.read.ann import HnswIndex, faiss
from spruce.engine.read.rows import RowSource
from spruce.engine.read.sparse_index import sparse_scores, sparse_top_k
from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = ["Candidate", "Metric", "QuerySpec", "merge_top_k", "source_candidates"]

Metric = Literal["cosine", "euclidean", "dotproduct"]
_DEFAULT_TUNING = SearchTuning()


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
    """Exact dense scores of ``rows``: faiss's single-threaded SIMD kernels, reading the
    rows in place (no gathered copy) with the GIL released."""
    vectors = src.vectors()
    if vectors is None:
        raise InvalidArgument("this index has no dense vectors; query with sparse values only")
    out = np.empty(rows.size, dtype=np.float32)
    if rows.size == 0:
        return out
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    query = np.ascontiguousarray(q, dtype=np.float32)
    ids = np.ascontiguousarray(rows, dtype=np.int64)
    ptr = faiss.swig_ptr
    dim = base.shape[1]
    if metric == "euclidean":
        # Sums the squared differences, not |v|^2 - 2v.q + |q|^2 (which cancels badly).
        faiss.fvec_L2sqr_by_idx(ptr(out), ptr(query), ptr(base), ptr(ids), dim, 1, rows.size)
        return out
    faiss.fvec_inner_products_by_idx(ptr(out), ptr(query), ptr(base), ptr(ids), dim, 1, rows.size)
    if metric == "cosine":
        denom = src.norms()[rows] * np.float32(np.linalg.norm(query))
        # A zero vector has no direction: score it 0 rather than NaN.
        out = np.divide(out, denom, out=np.zeros_like(out), where=denom > 0)
    return out


def source_candidates(
    src: RowSource,
    allowed: npt.NDArray[np.bool_],
    spec: QuerySpec,
    tuning: SearchTuning | None = None,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Rows of ``src`` that may be in the global top-k, with their scores.

    The per-segment plan: a dense-only query on a segment with an HNSW index searches
    the graph (the allowed rows as an in-traversal bitmap, efSearch widened as the filter
    gets more selective), unless so few rows are allowed that an exact scan of them is
    cheaper and exact; everything else is scored exactly.
    """
    tuning = tuning or _DEFAULT_TUNING
    ann: HnswIndex | None = getattr(src, "ann", None)
    if ann is not None and spec.vector is not None and spec.sparse_indices is None:
        count = int(np.count_nonzero(allowed))
        if count > max(tuning.exact_max_rows, tuning.exact_max_fraction * src.size):
            return _ann_candidates(src, ann, allowed, count, spec, tuning)
    return _exact_candidates(src, allowed, spec)


def _ann_candidates(
    src: RowSource,
    ann: HnswIndex,
    allowed: npt.NDArray[np.bool_],
    count: int,
    spec: QuerySpec,
    tuning: SearchTuning,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    assert spec.vector is not None
    want = max(spec.top_k * tuning.rerank, tuning.rerank_min)
    selectivity = count / max(src.size, 1)
    ef = int(tuning.ef_search * (1.0 / selectivity) ** tuning.filter_ef_exponent)
    ef = max(min(ef, tuning.ef_max), want)
    labels, distances = ann.search(spec.vector, want, ef, None if count == src.size else allowed)
    rows = labels.astype(np.intp)
    if ann.params.storage == "f32":
        scores = distances.astype(np.float64)  # float32 storage: faiss's scores are exact
    else:
        # Re-rank from the float32 vectors: the graph's own storage is quantised.
        scores = _dense(src, rows, spec.vector, spec.metric).astype(np.float64)
    return _top(rows, scores, spec)


def _exact_candidates(
    src: RowSource, allowed: npt.NDArray[np.bool_], spec: QuerySpec
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    rows = np.flatnonzero(allowed)
    scores = np.zeros(rows.size, dtype=np.float64)
    if rows.size == 0:
        return rows, scores
    if spec.vector is not None:
        scores += _dense(src, rows, spec.vector, spec.metric)
    if spec.sparse_indices is not None and spec.sparse_values is not None:
        if spec.vector is None:
            return sparse_top_k(src, allowed, spec.sparse_indices, spec.sparse_values, spec.top_k)
        scores += sparse_scores(src, spec.sparse_indices, spec.sparse_values)[rows]
    return _top(rows, scores, spec)


def _top(
    rows: npt.NDArray[np.intp], scores: npt.NDArray[np.float64], spec: QuerySpec
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
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
