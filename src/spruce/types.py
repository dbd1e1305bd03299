"""Domain value types shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_NAMESPACE",
    "Match",
    "Metadata",
    "MetadataValue",
    "Record",
    "SparseVector",
    "Vector",
]

#: How Pinecone names the default namespace on the wire; "" means the same.
DEFAULT_NAMESPACE = "__default__"

MetadataValue = str | int | float | bool | list[str]
Metadata = dict[str, MetadataValue]
Vector = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SparseVector:
    indices: npt.NDArray[np.uint32]
    values: npt.NDArray[np.float32]


@dataclass
class Record:
    """One stored record: an id with dense and/or sparse values and metadata."""

    id: str
    values: Vector | None = None
    sparse: SparseVector | None = None
    metadata: Metadata | None = None


@dataclass
class Match:
    id: str
    score: float
    values: Vector | None = None
    sparse: SparseVector | None = None
    metadata: Metadata | None = field(default=None)
