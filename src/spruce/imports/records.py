"""Validating one Arrow record batch of an import file, column by column.

Dense values go from the Parquet list column to one float32 matrix without passing
through Python lists; ids become Python strings, and each metadata text is parsed once
to check it, then stored as given. Each invalid row gets the first problem found
(columns in order id, values, sparse_values, metadata), with Pinecone's messages where
the guide has them and the upsert path's wording otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from spruce.engine.write.validate import MAX_SQUARED_NORM, ZERO_VECTOR, squared_norms, too_large
from spruce.imports.messages import MISSING_VALUES
from spruce.imports.plan import IndexShape
from spruce.types import SparseVector

__all__ = ["MAX_ID_BYTES", "MAX_METADATA_BYTES", "MAX_SPARSE_NNZ", "Rows", "validate_batch"]

# Pinecone's record limits; the same numbers as service/limits.py, which this layer
# may not import.
MAX_ID_BYTES = 512
MAX_METADATA_BYTES = 40 * 1024
MAX_SPARSE_NNZ = 2048

_DENSE_IN_SPARSE = "Upserting dense vectors is not supported for sparse indexes"
_METADATA = "Failed to parse metadata: "


@dataclass
class Rows:
    """The valid rows of a batch (in file order) and the problems of the others."""

    rows: npt.NDArray[np.int64]  # row numbers in the file
    ids: list[str]
    vectors: npt.NDArray[np.float32] | None
    sparse: list[SparseVector | None] | None
    metadata: list[str | None]  # each row's metadata JSON text, checked; None: none
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row in file, why)


class _Problems:
    """The first problem of each row of a batch."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=np.bool_)
        self.why: dict[int, str] = {}

    def flag(self, mask: npt.NDArray[np.bool_], why: str | Callable[[int], str]) -> None:
        fresh = mask & ~self.bad
        for row in np.flatnonzero(fresh).tolist():
            self.why[row] = why if isinstance(why, str) else why(row)
        self.bad |= fresh

    def one(self, row: int, why: str) -> None:
        if not self.bad[row]:
            self.bad[row] = True
            self.why[row] = why


def _lengths(column: pa.Array, null: int) -> npt.NDArray[np.int64]:
    return np.asarray(
        pc.fill_null(pc.list_value_length(column), null).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )


def _dense(
    column: pa.Array, dimension: int, metric: str, problems: _Problems
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float32]]:
    """Rows with a vector of the right length, and those vectors as one matrix."""
    lengths = _lengths(column, -1)
    problems.flag(lengths == -1, MISSING_VALUES.format(column="values"))
    problems.flag(
        (lengths != dimension) & (lengths != -1),
        lambda r: (
            f"Vector dimension {lengths[r]} does not match the dimension of the index {dimension}"
        ),
    )
    good = lengths == dimension
    picked = column if bool(good.all()) else pc.filter(column, pa.array(good))
    flat = picked.flatten().to_numpy(zero_copy_only=False)
    matrix = np.asarray(flat, dtype=np.float32).reshape(-1, dimension)
    rows = np.flatnonzero(good)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():
        mask = np.zeros(len(lengths), dtype=np.bool_)
        mask[rows[~finite]] = True
        problems.flag(mask, "Vector values must be finite numbers (no NaN or Infinity)")
    # The upsert path's rules (service/records.py): scores must stay finite, and a cosine
    # index takes no zero vector.
    squares = squared_norms(matrix) if len(rows) else np.zeros(0)
    for bad, why in (
        (squares > MAX_SQUARED_NORM, too_large("Vector", "values")),
        ((squares == 0) & (metric == "cosine"), ZERO_VECTOR),
    ):
        if bad.any():
            mask = np.zeros(len(lengths), dtype=np.bool_)
            mask[rows[bad]] = True
            problems.flag(mask, why)
    return rows, matrix


def _list_parts(column: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any], Any]:
    """(offsets, flat values, validity) of a list array, offsets indexing the values."""
    offsets = np.asarray(column.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    values = column.values.to_numpy(zero_copy_only=False)
    return offsets, values, column.is_valid().to_numpy(zero_copy_only=False)


def _sparse(column: pa.Array, required: bool, problems: _Problems) -> list[SparseVector | None]:
    n = len(column)
    present = column.is_valid().to_numpy(zero_copy_only=False)
    if required:
        problems.flag(~present, MISSING_VALUES.format(column="sparse_values"))
    indices = pc.struct_field(column, "indices")
    values = pc.struct_field(column, "values")
    if isinstance(indices, pa.FixedSizeListArray) or isinstance(values, pa.FixedSizeListArray):
        indices, values = (
            pa.array(x.to_pylist(), pa.list_(x.type.value_type)) for x in (indices, values)
        )
    i_off, i_val, i_ok = _list_parts(indices)
    v_off, v_val, v_ok = _list_parts(values)
    out: list[SparseVector | None] = [None] * n
    for row in np.flatnonzero(present & ~problems.bad).tolist():
        if not (i_ok[row] and v_ok[row]):
            problems.one(row, MISSING_VALUES.format(column="sparse_values"))
            continue
        idx = i_val[i_off[row] : i_off[row + 1]]
        val = np.asarray(v_val[v_off[row] : v_off[row + 1]], dtype=np.float32)
        why = _sparse_problem(idx, val, required)
        if why is not None:
            problems.one(row, why)
        elif len(idx):
            order = np.argsort(idx, kind="stable")
            out[row] = SparseVector(idx[order].astype(np.uint32), val[order])
    return out


def _sparse_problem(
    idx: npt.NDArray[Any], val: npt.NDArray[np.float32], required: bool
) -> str | None:
    if len(idx) != len(val):
        return (
            f"Sparse vector indices and values must have the same length, got {len(idx)} "
            f"indices and {len(val)} values"
        )
    if required and not len(idx):
        return "Sparse vector must have at least one value"
    if len(idx) > MAX_SPARSE_NNZ:
        return f"Sparse vector has {len(idx)} non-zero values, the maximum is {MAX_SPARSE_NNZ}"
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= 2**32):
        return "Sparse vector indices must be unsigned 32-bit integers"
    if len(np.unique(idx)) != len(idx):
        return "Sparse vector indices must be unique"
    if not np.isfinite(val).all():
        return "Sparse vector values must be finite numbers"
    if squared_norms(val)[0] > MAX_SQUARED_NORM:
        return too_large("Sparse vector", "sparse_values")
    return None


_SCALARS = frozenset({str, int, float, bool})  # what orjson gives for JSON scalars


def _metadata_problem(md: Any) -> str | None:
    if type(md) is not dict:
        return f"{_METADATA}metadata must be a JSON object, got {type(md).__name__}"
    for key, value in md.items():
        if not key or key[0] == "$":
            return f"{_METADATA}metadata key {key!r} must be non-empty and not start with '$'"
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind is list and all(type(v) is str for v in value):
            continue
        return (
            f"{_METADATA}value for field {key!r} must be a string, number, boolean or list of "
            "strings"
        )
    return None


def _metadata(column: pa.Array, problems: _Problems) -> list[str | None]:
    sizes = np.asarray(
        pc.fill_null(pc.binary_length(column), 0).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    problems.flag(
        sizes > MAX_METADATA_BYTES,
        lambda r: (
            f"Metadata size is {sizes[r]} bytes, which exceeds the limit of "
            f"{MAX_METADATA_BYTES} bytes per vector"
        ),
    )
    texts = column.to_pylist()
    out: list[str | None] = [None] * len(texts)
    bad = problems.bad
    for row, text in enumerate(texts):
        if text is None or bad[row]:
            continue
        try:
            md = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            problems.one(row, f"{_METADATA}{exc}")
            continue
        why = _metadata_problem(md)
        if why is not None:
            problems.one(row, why)
        elif md:
            out[row] = text  # stored as given: parsing it again yields what was checked
    return out


def validate_batch(batch: pa.RecordBatch, first_row: int, shape: IndexShape) -> Rows:
    """Split ``batch`` (rows ``first_row``.. of its file) into valid rows and problems."""
    n = batch.num_rows
    problems = _Problems(n)
    names = set(batch.schema.names)
    id_column = batch.column("id")
    problems.flag(
        ~id_column.is_valid().to_numpy(zero_copy_only=False), MISSING_VALUES.format(column="id")
    )
    id_bytes = np.asarray(
        pc.fill_null(pc.binary_length(id_column), 1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    problems.flag(id_bytes == 0, "Vector ID must not be empty")
    problems.flag(
        id_bytes > MAX_ID_BYTES,
        lambda r: f"Vector ID must be at most {MAX_ID_BYTES} bytes long, got {id_bytes[r]}",
    )
    vector_rows = matrix = None
    if shape.dimension is not None:
        vector_rows, matrix = _dense(
            batch.column("values"), shape.dimension, shape.metric, problems
        )
    elif "values" in names:
        problems.flag(_lengths(batch.column("values"), 0) > 0, _DENSE_IN_SPARSE)
    sparse = None
    if "sparse_values" in names:
        sparse = _sparse(batch.column("sparse_values"), shape.vector_type == "sparse", problems)
    elif shape.vector_type == "sparse":  # a dense-only file (plan.check_schema)
        problems.flag(np.ones(n, dtype=np.bool_), MISSING_VALUES.format(column="sparse_values"))
        sparse = [None] * n
    metadata: list[str | None] = [None] * n
    if "metadata" in names:
        metadata = _metadata(batch.column("metadata"), problems)

    valid = np.flatnonzero(~problems.bad)
    ids = id_column.to_pylist()
    vectors = None
    if matrix is not None and vector_rows is not None:
        # Every valid row of a dense index has a vector; pick them out of the matrix.
        keep = ~problems.bad[vector_rows]
        vectors = matrix if bool(keep.all()) else matrix[keep]
    return Rows(
        rows=valid.astype(np.int64) + first_row,
        ids=[ids[i] for i in valid.tolist()],
        vectors=vectors,
        sparse=None if sparse is None else [sparse[i] for i in valid.tolist()],
        metadata=[metadata[i] for i in valid.tolist()],
        errors=[(first_row + row, why) for row, why in sorted(problems.why.items())],
    )
