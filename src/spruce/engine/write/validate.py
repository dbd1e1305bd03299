"""Input checks done before anything is logged: a WAL record must always replay.

The service layer checks Pinecone's limits and messages; these checks only guard the
engine's own invariants (shapes, finite numbers, metadata the WAL can encode).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spruce.errors import InvalidArgument
from spruce.types import Metadata, Record, SparseVector

__all__ = [
    "MAX_SQUARED_NORM",
    "ZERO_VECTOR",
    "check_dense",
    "check_id",
    "check_metadata",
    "check_records",
    "check_sparse",
    "squared_norms",
    "too_large",
]

_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what msgpack can carry

#: The largest sum of squares a stored or query vector (dense or sparse) may have: for
#: two vectors under it, every dot product, cosine denominator and squared distance
#: (|a - b|^2 <= 4 max(|a|^2, |b|^2) = 2^127) is a finite float32, so scores are never
#: infinite or NaN. The norm is then at most 2^62.5, about 6.5e18.
MAX_SQUARED_NORM = 2.0**125

#: Pinecone's message (400) for an all-zero dense vector written to a cosine index,
#: which has no direction to score (a zero query vector is allowed and scores 0). Here
#: with the bound above so that upserts and imports word both alike.
ZERO_VECTOR = "Dense vectors must contain at least one non-zero value"


def too_large(what: str, field: str) -> str:
    return (
        f"{what} values are too large ({field}): the sum of their squares must be at most "
        "2^125 (a norm of about 6.5e18), so that every score stays a finite float32"
    )


def squared_norms(matrix: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    """Each row's sum of squares, in float64 so that it cannot itself overflow."""
    rows = np.atleast_2d(matrix)
    norms: npt.NDArray[np.float64] = np.einsum("ij,ij->i", rows, rows, dtype=np.float64)
    return norms


def check_id(id: object) -> str:
    if not isinstance(id, str) or not id:
        raise InvalidArgument("record id must be a non-empty string")
    return id


def check_dense(values: Any, dimension: int | None, what: str) -> npt.NDArray[np.float32]:
    if dimension is None:
        raise InvalidArgument(f"{what}: this index is sparse-only and takes no dense values")
    try:
        arr = np.array(values, dtype=np.float32)  # a private copy
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what}: dense values must be numbers") from exc
    if arr.ndim != 1:
        raise InvalidArgument(f"{what}: dense values must be a flat list of numbers")
    if arr.shape != (dimension,):
        raise InvalidArgument(
            f"{what}: vector dimension {arr.size} does not match the index dimension {dimension}"
        )
    if not np.isfinite(arr).all():
        raise InvalidArgument(f"{what}: dense values must be finite")
    return arr


def check_sparse(sparse: Any, what: str) -> SparseVector:
    if not isinstance(sparse, SparseVector):
        raise InvalidArgument(f"{what}: sparse values must be a SparseVector")
    indices = np.asarray(sparse.indices)
    values = np.array(sparse.values, dtype=np.float32)
    if indices.ndim != 1 or indices.shape != values.shape:
        raise InvalidArgument(f"{what}: sparse indices and values must have the same length")
    if indices.size and (
        indices.dtype.kind not in "iu" or indices.min() < 0 or indices.max() > 2**32 - 1
    ):
        raise InvalidArgument(f"{what}: sparse indices must be integers in [0, 2**32)")
    if not np.isfinite(values).all():
        raise InvalidArgument(f"{what}: sparse values must be finite")
    return SparseVector(indices=indices.astype(np.uint32), values=values)


def _check_value(key: str, value: Any, what: str) -> None:
    if isinstance(value, (str, bool)):
        return
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise InvalidArgument(f"{what}: metadata field {key!r} is out of range")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgument(f"{what}: metadata field {key!r} must be finite")
        return
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return
    raise InvalidArgument(
        f"{what}: metadata field {key!r} must be a string, number, boolean or list of strings"
    )


def check_metadata(metadata: Any, what: str) -> Metadata:
    if not isinstance(metadata, Mapping):
        raise InvalidArgument(f"{what}: metadata must be an object")
    out: Metadata = {}
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise InvalidArgument(f"{what}: metadata keys must be strings")
        _check_value(key, value, what)
        out[key] = list(value) if isinstance(value, list) else value
    return out


def check_records(
    records: Sequence[Record], dimension: int | None
) -> tuple[
    list[str], npt.NDArray[np.float32] | None, list[SparseVector | None], list[Metadata | None]
]:
    """An upsert batch as ids, stacked dense values, sparse vectors and metadata (copies)."""
    # The common case: every row a finite vector of the right length, checked as one
    # matrix. Otherwise the rows are checked one by one, which names the offending one.
    stacked = None
    if dimension is not None and records:
        stacked = dense_matrix([rec.values for rec in records], dimension)
    ids: list[str] = []
    dense: list[npt.NDArray[np.float32]] = []
    sparse: list[SparseVector | None] = []
    metadata: list[Metadata | None] = []
    for i, rec in enumerate(records):
        what = f"record {i}"
        ids.append(check_id(rec.id))
        if stacked is None:
            if dimension is not None and rec.values is None:
                raise InvalidArgument(f"{what}: dense values are required in this index")
            if rec.values is not None:
                dense.append(check_dense(rec.values, dimension, what))
        sparse.append(None if rec.sparse is None else check_sparse(rec.sparse, what))
        md = rec.metadata
        metadata.append(None if md is None else check_metadata(md, what) or None)
    if dimension is None or not ids:
        return ids, None, sparse, metadata
    return ids, stacked if stacked is not None else np.stack(dense), sparse, metadata


def dense_matrix(rows: Sequence[Any], dimension: int) -> npt.NDArray[np.float32] | None:
    """``rows`` as one (len(rows), dimension) float32 matrix (a copy) if every row is a
    finite vector of that length; None otherwise, for the caller to check row by row."""
    try:
        matrix = np.array(rows, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if matrix.shape != (len(rows), dimension) or not np.isfinite(matrix).all():
        return None
    return matrix
