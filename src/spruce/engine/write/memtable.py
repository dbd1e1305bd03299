"""The memtable: recent writes in append-only arrays, searched exactly until flushed.

Rows are only ever appended: overwriting an id kills its old row and appends a new one,
so every row below a snapshot's size stays as it was. That makes ``snapshot`` O(1): a
``MemView`` is the first ``n`` rows plus the live flags as of then (copied lazily, only
when a later kill would change them). Readers search views without any lock while the
single writer keeps appending.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spruce.engine.read.filters import Filter, evaluate
from spruce.engine.read.rows import Csr, copy_metadata, csr_from_rows
from spruce.engine.read.sparse_index import SparseIndex, ViewIndex
from spruce.types import Metadata, SparseVector

__all__ = ["MemView", "Memtable"]

_INITIAL_CAPACITY = 64
_FILTER_CACHE = 32  # filters whose per-row results are kept (rows never change)


class Memtable:
    """Written by one thread at a time (the namespace's writer)."""

    def __init__(self, dimension: int | None) -> None:
        self.dimension = dimension
        self._n = 0
        self._ids: list[str] = []
        self._vectors = np.zeros((_INITIAL_CAPACITY, dimension or 0), dtype=np.float32)
        self._norms = np.zeros(_INITIAL_CAPACITY, dtype=np.float32)
        self._live = np.zeros(_INITIAL_CAPACITY, dtype=np.bool_)
        self._live_shared = False  # a view holds self._live: copy before killing a row
        self._sparse: list[SparseVector | None] = []
        self._metadata: list[Metadata | None] = []
        self._latest: dict[str, int] = {}  # id -> its newest row, live or not
        self._prev: list[int] = []  # row -> the same id's previous row, or -1
        self._live_count = 0
        self._filter_lock = threading.Lock()
        self._filter_cache: dict[Filter, tuple[int, npt.NDArray[np.bool_]]] = {}

    # -- writes ---------------------------------------------------------------

    def put(
        self,
        id: str,
        values: npt.NDArray[np.float32] | None,
        sparse: SparseVector | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        """Insert or fully replace ``id``; the caller has validated shapes."""
        vectors = None if values is None else np.asarray(values, dtype=np.float32)[None]
        self.put_many([id], vectors, [sparse], [copy_metadata(metadata)])

    def put_many(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32] | None,
        sparse: Sequence[SparseVector | None],
        metadata: Sequence[Metadata | None],
    ) -> None:
        """``put`` for a batch of distinct ids, appended as one block.

        The engine hands over ``metadata`` it owns (validated copies or freshly decoded
        WAL records), so it is stored without another copy.
        """
        for id in self._latest.keys() & set(ids):
            old = self.row_of(id)
            if old is not None:
                self.kill(old)
        start, n = self._n, len(ids)
        while start + n > len(self._live):
            self._grow()
        end = start + n
        if vectors is not None:
            self._vectors[start:end] = vectors
            self._norms[start:end] = _row_norms(self._vectors[start:end])
        latest = self._latest
        self._ids.extend(ids)
        self._sparse.extend(sparse)
        self._metadata.extend(md or None for md in metadata)
        self._prev.extend(latest.get(id, -1) for id in ids)
        self._live[start:end] = True
        self._n = end
        self._live_count += n
        latest.update(zip(ids, range(start, end), strict=True))  # last, as in put()

    def kill(self, row: int) -> None:
        if self._live_shared:
            self._live = self._live.copy()
            self._live_shared = False
        self._live[row] = False
        self._live_count -= 1

    def kill_all(self) -> None:
        self._live = np.zeros(len(self._live), dtype=np.bool_)
        self._live_shared = False
        self._live_count = 0

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None:
        return None if self.dimension is None else self._vectors[row].copy()

    def sparse_at(self, row: int) -> SparseVector | None:
        return self._sparse[row]

    def metadata_at(self, row: int) -> Metadata | None:
        return copy_metadata(self._metadata[row])

    def delete(self, id: str) -> bool:
        row = self.row_of(id)
        if row is None:
            return False
        self.kill(row)
        return True

    def _grow(self) -> None:
        capacity = 2 * len(self._live)
        vectors = np.zeros((capacity, self._vectors.shape[1]), dtype=np.float32)
        vectors[: self._n] = self._vectors[: self._n]
        norms = np.zeros(capacity, dtype=np.float32)
        norms[: self._n] = self._norms[: self._n]
        live = np.zeros(capacity, dtype=np.bool_)
        live[: self._n] = self._live[: self._n]
        self._vectors, self._norms, self._live = vectors, norms, live
        self._live_shared = False

    # -- reads (writer side) --------------------------------------------------

    def row_of(self, id: str) -> int | None:
        row = self._latest.get(id)
        return row if row is not None and self._live[row] else None

    def __contains__(self, id: str) -> bool:
        return self.row_of(id) is not None

    @property
    def size(self) -> int:
        return self._n

    @property
    def live_count(self) -> int:
        return self._live_count

    def snapshot(self, name: str = "memtable") -> MemView:
        self._live_shared = True
        return MemView(self, self._n, self._live, self._vectors, self._norms, name)

    def _row_before(self, id: str, n: int) -> int | None:
        """The row ``id`` had among the first ``n`` rows (walks back past newer rows)."""
        row = self._latest.get(id)
        while row is not None and row >= n:
            prev = self._prev[row]
            row = prev if prev >= 0 else None
        return row

    def _filter_mask(self, filter: Filter, n: int) -> npt.NDArray[np.bool_]:
        # Rows never change once written, so results are extended, never recomputed.
        with self._filter_lock:
            done, mask = self._filter_cache.get(filter, (0, np.zeros(0, dtype=np.bool_)))
            if done < n:
                extra = evaluate(filter, self._metadata[done:n])
                mask = np.concatenate([mask[:done], extra])
                if len(self._filter_cache) >= _FILTER_CACHE:
                    self._filter_cache.clear()
                self._filter_cache[filter] = (n, mask)
            return mask[:n]


def _row_norms(block: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    # Row by row with one kernel, so a row's norm does not depend on its batch.
    norms: npt.NDArray[np.float32] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


class MemView:
    """An immutable view of a memtable's first ``n`` rows; a ``RowSource``."""

    def __init__(
        self,
        mem: Memtable,
        n: int,
        live: npt.NDArray[np.bool_],
        vectors: npt.NDArray[np.float32],
        norms: npt.NDArray[np.float32],
        name: str,
    ) -> None:
        self._mem = mem
        self._n = n
        self._live = live[:n]
        self._vectors = vectors[:n]
        self._norms = norms[:n]
        self.name = name
        self._csr: Csr | None = None
        self._sparse_index = ViewIndex()
        self._sorted_ids: list[str] | None = None
        # Set when the memtable is frozen for a flush: the LSN that killed each row (0:
        # live), so the flush can tell what was live as of its LSN (see namespace.py).
        self.dead_lsn: npt.NDArray[np.int64] | None = None

    def with_live(self, live: npt.NDArray[np.bool_]) -> MemView:
        """The same rows with other live flags (copy-on-write for frozen memtables)."""
        out = MemView(self._mem, self._n, live, self._vectors, self._norms, self.name)
        out._csr, out.dead_lsn = self._csr, self.dead_lsn
        out._sparse_index = self._sparse_index  # same rows: the same inverted index
        return out

    @property
    def origin(self) -> object:
        """What every view of these rows shares (rows never change once written), so
        indexes derived from them can be kept on it and extended as rows arrive."""
        return self._mem

    @property
    def dimension(self) -> int | None:
        return self._mem.dimension

    def row_of(self, id: str) -> int | None:
        row = self._mem._row_before(id, self._n)
        return row if row is not None and self._live[row] else None

    def rows_of(self, ids: set[str]) -> dict[str, int]:
        """``row_of`` for many ids at once: the live ones among them."""
        out = {}
        for id in self._mem._latest.keys() & ids:
            row = self.row_of(id)
            if row is not None:
                out[id] = row
        return out

    def filter_mask(self, filter: Filter) -> npt.NDArray[np.bool_]:
        return self._mem._filter_mask(filter, self._n)

    def live_rows(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self._live)

    def live_ids(self) -> list[str]:
        ids = self._mem._ids
        return [ids[r] for r in np.flatnonzero(self._live).tolist()]

    def sorted_live_ids(self) -> list[str]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.live_ids())
        return self._sorted_ids

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self._live))

    # -- RowSource ------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._n

    @property
    def live(self) -> npt.NDArray[np.bool_]:
        return self._live

    def id_at(self, row: int) -> str:
        return self._mem._ids[row]

    def vectors(self) -> npt.NDArray[np.float32] | None:
        return None if self._mem.dimension is None else self._vectors

    def norms(self) -> npt.NDArray[np.float32]:
        return self._norms

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]:
        return self._mem._metadata[: self._n]

    def csr(self) -> Csr:
        if self._csr is None:
            self._csr = csr_from_rows(self._mem._sparse[: self._n])
        return self._csr

    def sparse_index(self) -> SparseIndex | None:
        """Sparse hook (engine/read/sparse_index.py): None until this view is worth indexing."""
        return self._sparse_index.get(self.csr, self._n)

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None:
        return None if self._mem.dimension is None else self._vectors[row].copy()

    def sparse_at(self, row: int) -> SparseVector | None:
        return self._mem._sparse[row]

    def metadata_at(self, row: int) -> Metadata | None:
        return copy_metadata(self._mem._metadata[row])
