"""Row validation of an import batch (imports/records.py), without a server."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from spruce.imports.plan import IndexShape
from spruce.imports.records import validate_batch
from tests.imports.helpers import sparse_column

DENSE = IndexShape(2, "cosine", "dense")
SPARSE = IndexShape(None, "dotproduct", "sparse")
HYBRID = IndexShape(2, "dotproduct", "dense")


def batch(**columns: pa.Array) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(columns)


def test_dense_rows_and_problems() -> None:
    rows = validate_batch(
        batch(
            id=pa.array(["a", None, "", "x" * 513, "b", "c", "d"]),
            values=pa.array(
                [[1, 2], [1, 2], [1, 2], [1, 2], [math.nan, 1], [3, 4], [5, 6]],
                pa.list_(pa.float32()),
            ),
            metadata=pa.array(
                ['{"k": "v"}', None, None, None, None, '{"$bad": 1}', "{}"], pa.string()
            ),
        ),
        first_row=100,
        shape=DENSE,
    )
    assert rows.ids == ["a", "d"]
    assert rows.rows.tolist() == [100, 106]
    assert rows.vectors is not None and rows.vectors.tolist() == [[1, 2], [5, 6]]
    assert rows.metadata == ['{"k": "v"}', None]  # "{}" is no metadata
    assert rows.errors == [
        (101, 'missing required values in column "id"'),
        (102, "Vector ID must not be empty"),
        (103, "Vector ID must be at most 512 bytes long, got 513"),
        (104, "Vector values must be finite numbers (no NaN or Infinity)"),
        (
            105,
            "Failed to parse metadata: metadata key '$bad' must be non-empty and not start "
            "with '$'",
        ),
    ]


def test_metadata_rules() -> None:
    texts = [
        '{"ok": ["a", "b"], "n": 1.5, "b": true}',
        '{"nested": {"a": 1}}',
        '{"mixed": ["a", 1]}',
        "[1, 2]",
        '{"null": null}',
        '{"big": "' + "x" * 41_000 + '"}',
    ]
    rows = validate_batch(
        batch(
            id=pa.array([f"r{i}" for i in range(len(texts))]),
            values=pa.array([[float(i), 1.0] for i in range(len(texts))], pa.list_(pa.float32())),
            metadata=pa.array(texts),
        ),
        first_row=0,
        shape=DENSE,
    )
    assert rows.ids == ["r0"]
    field = "must be a string, number, boolean or list of strings"
    assert rows.errors == [
        (1, f"Failed to parse metadata: value for field 'nested' {field}"),
        (2, f"Failed to parse metadata: value for field 'mixed' {field}"),
        (3, "Failed to parse metadata: metadata must be a JSON object, got list"),
        (4, f"Failed to parse metadata: value for field 'null' {field}"),
        (5, "Metadata size is 41011 bytes, which exceeds the limit of 40960 bytes per vector"),
    ]


def test_sparse_rules() -> None:
    rows = validate_batch(
        batch(
            id=pa.array(["a", "b", "c", "d", "e", "f"]),
            sparse_values=sparse_column(
                [
                    ([9, 2], [1.0, 2.0]),
                    None,
                    ([1, 1], [1.0, 2.0]),
                    ([], []),
                    ([3], [math.inf]),
                    ([4], [0.5]),
                ]
            ),
        ),
        first_row=0,
        shape=SPARSE,
    )
    assert rows.ids == ["a", "f"]
    assert rows.vectors is None
    assert rows.sparse is not None
    first = rows.sparse[0]
    assert first is not None
    assert (first.indices.tolist(), first.values.tolist()) == ([2, 9], [2.0, 1.0])
    assert rows.errors == [
        (1, 'missing required values in column "sparse_values"'),
        (2, "Sparse vector indices must be unique"),
        (3, "Sparse vector must have at least one value"),
        (4, "Sparse vector values must be finite numbers"),
    ]


def test_sparse_lengths_and_hybrid_nulls() -> None:
    struct = pa.struct([("indices", pa.list_(pa.int64())), ("values", pa.list_(pa.float32()))])
    rows = validate_batch(
        batch(
            id=pa.array(["a", "b", "c", "d"]),
            values=pa.array([[1, 0], [0, 1], [1, 1], [2, 2]], pa.list_(pa.float32())),
            sparse_values=pa.array(
                [
                    {"indices": [1, 2], "values": [1.0]},
                    None,
                    {"indices": [-1], "values": [1.0]},
                    {"indices": [2**32], "values": [1.0]},
                ],
                struct,
            ),
        ),
        first_row=0,
        shape=HYBRID,
    )
    assert rows.ids == ["b"]
    assert rows.sparse == [None]
    assert rows.vectors is not None and np.array_equal(rows.vectors, [[0, 1]])
    assert rows.errors == [
        (
            0,
            "Sparse vector indices and values must have the same length, got 2 indices and 1 "
            "values",
        ),
        (2, "Sparse vector indices must be unsigned 32-bit integers"),
        (3, "Sparse vector indices must be unsigned 32-bit integers"),
    ]


def test_values_that_could_not_be_scored() -> None:
    """The upsert path's rules: no zero vector in a cosine index, no vector whose sum of
    squares could overflow a float32 score."""
    values = pa.array([[1, 2], [0, 0], [1e20, 1], [3, 4]], pa.list_(pa.float32()))
    too_large = (
        "Vector values are too large (values): the sum of their squares must be at most "
        "2^125 (a norm of about 6.5e18), so that every score stays a finite float32"
    )
    cosine = validate_batch(batch(id=pa.array(list("abcd")), values=values), 0, DENSE)
    assert cosine.ids == ["a", "d"]
    assert cosine.errors == [
        (1, "Dense vectors must contain at least one non-zero value"),
        (2, too_large),
    ]
    dot = validate_batch(batch(id=pa.array(list("abcd")), values=values), 0, HYBRID)
    assert dot.ids == ["a", "b", "d"]
    assert dot.errors == [(2, too_large)]
    sparse = validate_batch(
        batch(id=pa.array(["a", "b"]), sparse_values=sparse_column([([1], [1e20]), ([2], [1])])),
        first_row=0,
        shape=SPARSE,
    )
    assert sparse.ids == ["b"]
    assert sparse.errors == [
        (0, too_large.replace("Vector", "Sparse vector").replace("(values)", "(sparse_values)"))
    ]
