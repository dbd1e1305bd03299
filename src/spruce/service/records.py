"""Validation of records, vectors and metadata as Pinecone applies it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from spruce.engine.write.validate import (
    MAX_SQUARED_NORM,
    ZERO_VECTOR,
    dense_matrix,
    squared_norms,
    too_large,
)
from spruce.errors import InvalidArgument
from spruce.service.limits import MAX_ID_LENGTH, MAX_METADATA_BYTES, MAX_SPARSE_NNZ
from spruce.types import DEFAULT_NAMESPACE, Metadata, Record, SparseVector, Vector

__all__ = [
    "SPARSE_NOT_SUPPORTED",
    "ZERO_VECTOR",
    "check_dense",
    "check_id",
    "check_metadata",
    "check_sparse",
    "check_record",
    "check_records",
    "namespace_name",
    "sparse_queries_allowed",
]

#: Pinecone's message (400) for sparse values (upserted, updated or queried) on a dense
#: index whose metric is not dotproduct: only dot product can add them to a dense score.
SPARSE_NOT_SUPPORTED = (
    "Index configuration does not support sparse values - only indexes that are sparse "
    "or using dotproduct are supported"
)


def sparse_queries_allowed(vector_type: str, metric: str) -> bool:
    """Sparse indexes, and dense ones scored by dot product (hybrid = dense + sparse)."""
    return vector_type == "sparse" or metric == "dotproduct"


def namespace_name(raw: object) -> str:
    """Pinecone treats "" and "__default__" as the same, default namespace."""
    if raw is None or raw == "":
        return DEFAULT_NAMESPACE
    if not isinstance(raw, str):
        raise InvalidArgument("Namespace must be a string")
    return raw


def check_id(raw: object) -> str:
    if not isinstance(raw, str):
        raise InvalidArgument(f"Vector ID must be a string, got {type(raw).__name__}")
    if not raw:
        raise InvalidArgument("Vector ID must not be empty")
    if len(raw.encode()) > MAX_ID_LENGTH:
        raise InvalidArgument(
            f"Vector ID must be at most {MAX_ID_LENGTH} bytes long, got {len(raw.encode())}"
        )
    return raw


def check_dense(
    raw: object, dimension: int | None, *, what: str = "Vector", field: str = "values"
) -> Vector:
    """``field`` is the request's name for the values, in messages about one of them."""
    if not isinstance(raw, list | tuple | np.ndarray):
        raise InvalidArgument(f"{what} values must be a list of numbers")
    try:
        values = np.asarray(raw, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{what} values must be a list of numbers") from None
    if values.ndim != 1:
        raise InvalidArgument(f"{what} values must be a flat list of numbers")
    if dimension is None:
        raise InvalidArgument("Upserting dense vectors is not supported for sparse indexes")
    if values.shape[0] != dimension:
        # Pinecone: "Vector dimension ..." for records, "Query vector dimension ..." in queries.
        raise InvalidArgument(
            f"{what} dimension {values.shape[0]} does not match the dimension of the index "
            f"{dimension}"
        )
    if not np.isfinite(values).all():
        raise InvalidArgument(f"{what} values must be finite numbers (no NaN or Infinity)")
    check_values(raw, values, what, field)
    return values


def check_values(raw: object, values: npt.NDArray[np.float32], what: str, field: str) -> None:
    """Refuse booleans among the numbers, and values too large to score."""
    refuse_booleans([raw], values.reshape(1, -1), lambda _: field)
    if squared_norms(values)[0] > MAX_SQUARED_NORM:
        raise InvalidArgument(too_large(what, field))


def refuse_booleans(
    rows: Sequence[object], matrix: npt.NDArray[np.float32], field: Callable[[int], str]
) -> None:
    """JSON ``true``/``false`` decode to bools, which numpy takes as 1.0/0.0; Pinecone
    refuses them. Only rows holding a 0 or a 1 can have one, so only those are looked at.
    ``field(row)`` names the values of row ``row`` in the message."""
    suspects = np.flatnonzero(((matrix == 0) | (matrix == 1)).any(axis=1))
    for r in suspects.tolist():
        row = rows[r]
        if isinstance(row, list | tuple) and bool in map(type, row):
            c = next(c for c, v in enumerate(row) if type(v) is bool)
            raise InvalidArgument(
                f"{field(r)}[{c}]: invalid type: boolean `{str(row[c]).lower()}`, expected a number"
            )


def check_sparse(
    raw: object, *, what: str = "Sparse vector", field: str = "sparseValues"
) -> SparseVector:
    if not isinstance(raw, Mapping):
        raise InvalidArgument("Sparse values must be an object with indices and values")
    indices_raw, values_raw = raw.get("indices"), raw.get("values")
    if not isinstance(indices_raw, list | tuple) or not isinstance(values_raw, list | tuple):
        raise InvalidArgument("Sparse vector must have lists of indices and values")
    if len(indices_raw) != len(values_raw):
        raise InvalidArgument(
            f"Sparse vector indices and values must have the same length, got "
            f"{len(indices_raw)} indices and {len(values_raw)} values"
        )
    if len(indices_raw) > MAX_SPARSE_NNZ:
        raise InvalidArgument(
            f"Sparse vector has {len(indices_raw)} non-zero values, the maximum is {MAX_SPARSE_NNZ}"
        )
    if any(
        not isinstance(i, int) or isinstance(i, bool) or i < 0 or i >= 2**32 for i in indices_raw
    ):
        raise InvalidArgument("Sparse vector indices must be unsigned 32-bit integers")
    if len(set(indices_raw)) != len(indices_raw):
        raise InvalidArgument("Sparse vector indices must be unique")
    try:
        values = np.asarray(values_raw, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgument("Sparse vector values must be numbers") from None
    if not np.isfinite(values).all():
        raise InvalidArgument("Sparse vector values must be finite numbers")
    check_values(values_raw, values, what, f"{field}.values")
    indices = np.asarray(indices_raw, dtype=np.uint32)
    order = np.argsort(indices, kind="stable")
    return SparseVector(indices[order], values[order])


def check_metadata(raw: object) -> Metadata | None:
    """Metadata values are strings, numbers, booleans or lists of strings; 40 KB at most."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidArgument("Metadata must be a JSON object")
    clean: Metadata = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgument("Metadata keys must be non-empty strings")
        if key.startswith("$"):
            raise InvalidArgument(f"Metadata key {key!r} must not start with '$'")
        clean[key] = _metadata_value(key, value)
    size = len(orjson.dumps(clean))
    if size > MAX_METADATA_BYTES:
        raise InvalidArgument(
            f"Metadata size is {size} bytes, which exceeds the limit of "
            f"{MAX_METADATA_BYTES} bytes per vector"
        )
    return clean


def _metadata_value(key: str, value: Any) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument(f"Metadata value for field {key!r} must be a finite number")
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    kind = "null" if value is None else type(value).__name__
    if isinstance(value, list):
        kind = "a list containing non-string values"
    raise InvalidArgument(
        f"Metadata value for field {key!r} must be a string, number, boolean or list of "
        f"strings, got {kind}"
    )


def check_record(
    raw: object,
    dimension: int | None,
    vector_type: str,
    metric: str,
    checked: Vector | None = None,
    *,
    position: int = 0,
) -> Record:
    """One record of an upsert, as a JSON object with id, values, sparseValues, metadata.

    ``checked``: the record's dense values, already checked by ``check_records``;
    ``position``: its place in the batch, for messages."""
    if not isinstance(raw, Mapping):
        raise InvalidArgument("Each vector must be an object with an id")
    record_id = check_id(raw.get("id"))
    values_raw = raw.get("values")
    sparse_raw = raw.get("sparseValues", raw.get("sparse_values"))
    values = None
    if vector_type == "sparse":
        if values_raw:
            raise InvalidArgument("Upserting dense vectors is not supported for sparse indexes")
        if sparse_raw is None:
            raise InvalidArgument(f"Sparse vector {record_id!r} must have sparse values")
    elif checked is not None:
        values = checked
    else:
        if values_raw is None or (isinstance(values_raw, list) and not values_raw):
            # A sparse-only record in a dense index is refused as Pinecone does: as a
            # dense vector of dimension 0 (hybrid records carry both).
            raise InvalidArgument(
                f"Vector dimension 0 does not match the dimension of the index {dimension}"
            )
        values = check_dense(values_raw, dimension, field=f"vectors[{position}].values")
    if values is not None:
        check_direction(values, metric)
    if sparse_raw is not None and not sparse_queries_allowed(vector_type, metric):
        raise InvalidArgument(SPARSE_NOT_SUPPORTED)
    sparse = (
        check_sparse(sparse_raw, field=f"vectors[{position}].sparseValues")
        if sparse_raw is not None
        else None
    )
    if sparse is not None and vector_type == "sparse" and len(sparse.indices) == 0:
        raise InvalidArgument(f"Sparse vector {record_id!r} must have at least one value")
    return Record(record_id, values, sparse, check_metadata(raw.get("metadata")))


def check_direction(values: Vector, metric: str) -> None:
    """A cosine index refuses to store a vector without a direction."""
    if metric == "cosine" and not values.any():
        raise InvalidArgument(ZERO_VECTOR)


def check_records(
    raw: list[Any], dimension: int | None, vector_type: str, metric: str
) -> list[Record]:
    """``check_record`` for a whole upsert batch.

    In a dense index the batch's values are checked as one matrix (one conversion, one
    finiteness, boolean and size test instead of a thousand); a batch that does not fit
    that mould takes the per-record path, which names the offending record.
    """
    matrix = None
    if vector_type == "dense" and dimension is not None and raw:
        try:
            rows = [item["values"] for item in raw]
            matrix = dense_matrix(rows, dimension)
        except (KeyError, TypeError):
            matrix = None
        if matrix is not None:
            refuse_booleans(rows, matrix, lambda r: f"vectors[{r}].values")
            if (squared_norms(matrix) > MAX_SQUARED_NORM).any():
                matrix = None  # the per-record path names the record
    if matrix is None:
        return [
            check_record(item, dimension, vector_type, metric, position=i)
            for i, item in enumerate(raw)
        ]
    return [
        check_record(item, dimension, vector_type, metric, values, position=i)
        for i, (item, values) in enumerate(zip(raw, matrix, strict=True))
    ]
