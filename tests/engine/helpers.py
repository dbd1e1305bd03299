"""Small constructors shared by the engine tests."""

from __future__ import annotations

import numpy as np

from spruce.types import Metadata, Record, SparseVector, Vector

__all__ = ["rec", "sp", "vec"]


def vec(*xs: float) -> Vector:
    return np.array(xs, dtype=np.float32)


def sp(pairs: dict[int, float]) -> SparseVector:
    return SparseVector(
        indices=np.array(list(pairs), dtype=np.uint32),
        values=np.array(list(pairs.values()), dtype=np.float32),
    )


def rec(
    id: str,
    *values: float,
    metadata: Metadata | None = None,
    sparse: dict[int, float] | None = None,
) -> Record:
    return Record(
        id=id,
        values=vec(*values) if values else None,
        sparse=None if sparse is None else sp(sparse),
        metadata=metadata,
    )
