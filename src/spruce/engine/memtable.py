"""The memtable: recent writes in growable arrays, searched exactly until flushed.

Overwriting an id that is already in the memtable reuses its row, so the memtable's
size bounds memory by distinct ids; deleting leaves a dead row that the next flush drops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spruce.engine.rows import Csr, copy_metadata, csr_from_rows
from spruce.types import Metadata, SparseVector

__all__ = ["Memtable"]

_INITIAL_CAPACITY = 64


class Memtable:
    def __init__(self, dimension: int | None) -> None:
        self.dimension = dimension
        self.clear()

    def clear(self) -> None:
        self._n = 0
        self._ids: list[str] = []
        self._vectors = np.zeros((_INITIAL_CAPACITY, self.dimension or 0), dtype=np.float32)
        self._live = np.zeros(_INITIAL_CAPACITY, dtype=np.bool_)
        self._sparse: list[SparseVector | None] = []
        self._metadata: list[Metadata | None] = []
        self._row: dict[str, int] = {}
        self._csr: Csr | None = None
        self._norms: npt.NDArray[np.float32] | None = None

    # -- writes ---------------------------------------------------------------

    def put(
        self,
        id: str,
        values: npt.NDArray[np.float32] | None,
        sparse: SparseVector | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        """Insert or fully replace ``id``; the caller has validated shapes."""
        row = self._row.get(id)
        if row is None:
            row = self._n
            if row == len(self._live):
                self._grow()
            self._n += 1
            self._ids.append(id)
            self._sparse.append(None)
            self._metadata.append(None)
            self._row[id] = row
            self._live[row] = True
        if values is not None:
            self._vectors[row] = values
        self._sparse[row] = sparse
        self._metadata[row] = copy_metadata(metadata)
        self._csr = None
        self._norms = None

    def delete(self, id: str) -> bool:
        row = self._row.pop(id, None)
        if row is None:
            return False
        self._live[row] = False
        # Drop references now so a big deleted payload does not wait for the flush.
        self._sparse[row] = None
        self._metadata[row] = None
        self._csr = None
        return True

    def _grow(self) -> None:
        capacity = 2 * len(self._live)
        vectors = np.zeros((capacity, self._vectors.shape[1]), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        live = np.zeros(capacity, dtype=np.bool_)
        live[: self._n] = self._live[: self._n]
        self._vectors, self._live = vectors, live

    # -- reads ----------------------------------------------------------------

    def __contains__(self, id: str) -> bool:
        return id in self._row

    def row_of(self, id: str) -> int | None:
        return self._row.get(id)

    def live_ids(self) -> list[str]:
        return list(self._row)

    @property
    def live_count(self) -> int:
        return len(self._row)

    @property
    def size(self) -> int:
        return self._n

    @property
    def live(self) -> npt.NDArray[np.bool_]:
        return self._live[: self._n]

    def id_at(self, row: int) -> str:
        return self._ids[row]

    def vectors(self) -> npt.NDArray[np.float32] | None:
        return None if self.dimension is None else self._vectors[: self._n]

    def norms(self) -> npt.NDArray[np.float32]:
        if self._norms is None:
            vectors = self._vectors[: self._n]
            self._norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
        return self._norms

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]:
        return self._metadata

    def csr(self) -> Csr:
        if self._csr is None:
            self._csr = csr_from_rows(self._sparse)
        return self._csr

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None:
        return None if self.dimension is None else self._vectors[row].copy()

    def sparse_at(self, row: int) -> SparseVector | None:
        return self._sparse[row]

    def metadata_at(self, row: int) -> Metadata | None:
        return copy_metadata(self._metadata[row])

    def live_rows(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.live)
