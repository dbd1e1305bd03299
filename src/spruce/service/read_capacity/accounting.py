"""What each shard of a dedicated index stores, against its capacity.

Counted from the index's files by a read-only follower per namespace (the "books"),
with Pinecone's record sizes (engine/read/partition.py). A write is admitted cheaply against
a running estimate (the last exact count plus what was admitted since); only when the
estimate says a shard would overflow is it counted exactly, crediting the records the
write replaces, before the write is refused. Pinecone: "Writes that would cause your
index to exceed its storage capacity are blocked"; reads go on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from spruce.catalog import IndexRow
from spruce.engine.read.filters import Filter
from spruce.engine.read.follower import Follower
from spruce.engine.read.partition import ShardUsage, record_size, shard_of
from spruce.engine.write.namespace import Metric
from spruce.engine.write.store import IndexStore, encode_name
from spruce.errors import FailedPrecondition, NotFound
from spruce.service.read_capacity.spec import Capacity, CapacitySettings, shards_needed
from spruce.types import Metadata, Record

__all__ = ["ShardBooks"]


class ShardBooks:
    def __init__(self, settings: CapacitySettings, stores: Callable[[], Callable[..., IndexStore]]):
        self.settings = settings
        self._stores = stores  # the data plane's, once bound
        self._books: dict[tuple[str, str], Follower] = {}
        self._estimates: dict[str, list[list[int]]] = {}
        self._lock = threading.Lock()

    def _store(self, row: IndexRow) -> IndexStore:
        return self._stores()(row)

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._books if k[0] == uid]:
                del self._books[key]
            self._estimates.pop(uid, None)

    def capacities(self, capacity: Capacity) -> tuple[int, int]:
        """(storage, memory) bytes per shard for ``capacity``'s node type."""
        s = self.settings
        return s.shard_capacity_bytes, s.node_memory_bytes.get(capacity.node_type or "b1", 1 << 62)

    @staticmethod
    def over(usage: list[ShardUsage], cap: int, mem: int) -> bool:
        return any(u.storage_bytes > cap or u.memory_bytes > mem for u in usage)

    def _book(self, row: IndexRow, namespace: str) -> Follower | None:
        key = (row.uid, namespace)
        with self._lock:
            book = self._books.get(key)
        if book is None:
            path = self._store(row).root / encode_name(namespace)
            if not path.is_dir():
                return None
            metric: Metric = row.metric  # type: ignore[assignment]
            book = Follower(path, dimension=row.dimension, metric=metric)
            with self._lock:
                book = self._books.setdefault(key, book)
        try:
            book.refresh()
        except NotFound:
            with self._lock:
                self._books.pop(key, None)
            return None
        return book

    def usage(self, row: IndexRow, shards: int) -> list[ShardUsage]:
        """What each shard holds now (every namespace counted), from the files on disk."""
        total = [ShardUsage(0, 0, 0)] * shards
        for name in self._store(row).names():
            book = self._book(row, name)
            if book is not None:
                total = [
                    ShardUsage(
                        a.records + b.records,
                        a.storage_bytes + b.storage_bytes,
                        a.memory_bytes + b.memory_bytes,
                    )
                    for a, b in zip(total, book.usage(shards), strict=True)
                ]
        return total

    def does_not_fit(self, row: IndexRow, capacity: Capacity) -> str | None:
        """Why the index's data cannot move to ``capacity`` (Pinecone's Error state)."""
        names = self._store(row).names()
        if len(names) > 1:
            shown = ", ".join(repr(n) for n in names[:5])
            return (
                f"Dedicated read nodes support a single namespace; index '{row.name}' has "
                f"{len(names)} ({shown}). Delete all but one namespace and retry."
            )
        cap, mem = self.capacities(capacity)
        if not self.over(self.usage(row, capacity.shards), cap, mem):
            return None
        whole = self.usage(row, 1)[0]
        need = max(shards_needed(whole.storage_bytes, cap), shards_needed(whole.memory_bytes, mem))
        while need < 4096 and self.over(self.usage(row, need), cap, mem):
            need += 1  # ids hash unevenly: one more shard until every one fits
        return (
            f"Not enough shards: index '{row.name}' holds {whole.storage_bytes} bytes "
            f"({whole.memory_bytes} bytes in memory on {capacity.node_type} nodes), which "
            f"needs at least {need} shards; {capacity.shards} requested. Each shard stores "
            f"{cap} bytes. Retry with more shards."
        )

    def fullness(self, row: IndexRow, applied: Capacity) -> tuple[float, float]:
        """(memory, storage) fullness of the fullest shard, 0 to 1 (or more)."""
        usage = self.usage(row, applied.shards)
        with self._lock:
            self._estimates[row.uid] = [[u.storage_bytes, u.memory_bytes] for u in usage]
        cap, mem = self.capacities(applied)
        return (
            max(u.memory_bytes for u in usage) / mem,
            max(u.storage_bytes for u in usage) / cap,
        )

    def admit(
        self, row: IndexRow, namespace: str, records: list[Record], applied: Capacity
    ) -> None:
        """Refuse a write of ``records`` that would take a shard past its capacity."""
        shards = applied.shards
        adds = [[0, 0] for _ in range(shards)]
        for r in records:
            nnz = 0 if r.sparse is None else len(r.sparse.indices)
            storage, memory = record_size(r.id, row.dimension, nnz, r.metadata)
            shard = adds[shard_of(r.id, shards)]
            shard[0] += storage
            shard[1] += memory
        cap, mem = self.capacities(applied)
        with self._lock:
            estimate = self._estimates.get(row.uid)
        if estimate is None or len(estimate) != shards or _full(estimate, adds, cap, mem):
            # Near the limit: count exactly, crediting the rows this write replaces.
            estimate = [[u.storage_bytes, u.memory_bytes] for u in self.usage(row, shards)]
            book = self._book(row, namespace)
            old = book.fetch([r.id for r in records]) if book is not None else {}
            for r in old.values():
                nnz = 0 if r.sparse is None else len(r.sparse.indices)
                storage, memory = record_size(r.id, row.dimension, nnz, r.metadata)
                shard = estimate[shard_of(r.id, shards)]
                shard[0] -= storage
                shard[1] -= memory
            full = _full(estimate, adds, cap, mem)
            if full is not None:
                which, used, limit, kind = full
                raise FailedPrecondition(
                    f"Index '{row.name}' is full: this write would put shard {which} at "
                    f"{used} bytes of {kind}, over its capacity of {limit} bytes. Add shards "
                    "(read_capacity.dedicated.manual.shards) or delete records."
                )
        with self._lock:
            self._estimates[row.uid] = [
                [a[0] + b[0], a[1] + b[1]] for a, b in zip(estimate, adds, strict=True)
            ]

    def grown_where(
        self, row: IndexRow, namespace: str, filter: Filter, set_metadata: Metadata
    ) -> list[Record]:
        """The records an update by filter matches, as they will be after it."""
        book = self._book(row, namespace)
        if book is None:
            return []
        matched = book.fetch(book.matching(filter))
        return [
            Record(r.id, r.values, r.sparse, {**(r.metadata or {}), **set_metadata})
            for r in matched.values()
        ]


def _full(
    estimate: list[list[int]], adds: list[list[int]], cap: int, mem: int
) -> tuple[int, int, int, str] | None:
    for shard, (have, add) in enumerate(zip(estimate, adds, strict=True)):
        if add[0] and have[0] + add[0] > cap:
            return shard, have[0] + add[0], cap, "storage"
        if add[1] and have[1] + add[1] > mem:
            return shard, have[1] + add[1], mem, "memory"
    return None
