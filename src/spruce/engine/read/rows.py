"""What search needs from a set of rows: the memtable and every segment provide it.

A row source numbers its rows 0..n-1; rows that were deleted or overwritten stay in
place but are ``False`` in ``live``, so row numbers never move while a source exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from spruce.types import Metadata, SparseVector

__all__ = ["Csr", "RowSource", "copy_metadata", "copy_sparse", "csr_from_rows"]


class Csr:
    """Sparse vectors of all rows in compressed-sparse-row form, for vectorised scoring."""

    __slots__ = ("indices", "indptr", "values")

    def __init__(
        self,
        indptr: npt.NDArray[np.int64],
        indices: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float32],
    ) -> None:
        self.indptr = indptr
        self.indices = indices
        self.values = values


def csr_from_rows(rows: Sequence[SparseVector | None]) -> Csr:
    lengths = np.fromiter((0 if s is None else len(s.indices) for s in rows), np.int64, len(rows))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    present = [s for s in rows if s is not None]
    if present:
        indices = np.concatenate([s.indices for s in present]).astype(np.uint32, copy=False)
        values = np.concatenate([s.values for s in present]).astype(np.float32, copy=False)
    else:
        indices = np.zeros(0, dtype=np.uint32)
        values = np.zeros(0, dtype=np.float32)
    return Csr(indptr, indices, values)


def copy_metadata(md: Mapping[str, Any] | None) -> Metadata | None:
    """A private copy (lists included) so callers and the engine never share mutable state.

    Empty metadata is stored as ``None``: Pinecone does not distinguish the two.
    """
    if not md:
        return None
    return {k: list(v) if isinstance(v, list) else v for k, v in md.items()}


def copy_sparse(sparse: SparseVector | None) -> SparseVector | None:
    if sparse is None:
        return None
    return SparseVector(indices=sparse.indices.copy(), values=sparse.values.copy())


class RowSource(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def live(self) -> npt.NDArray[np.bool_]: ...

    def id_at(self, row: int) -> str: ...

    def vectors(self) -> npt.NDArray[np.float32] | None:
        """(size, dimension) float32, or None in a sparse-only index."""
        ...

    def norms(self) -> npt.NDArray[np.float32]:
        """L2 norm of each row's dense vector."""
        ...

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]: ...

    def csr(self) -> Csr: ...

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None: ...

    def sparse_at(self, row: int) -> SparseVector | None: ...

    def metadata_at(self, row: int) -> Metadata | None: ...
