"""One namespace's durable store: WAL + memtable + immutable segments + manifest.

Every write is validated, given the next LSN, logged (fsync'd) and then applied to
memory by ``WorkingState.apply`` (state.py), the code that also replays the WAL on
recovery and in a follower, so a replayed WAL rebuilds exactly what the live process
had. Reads are ``SnapshotReader``'s (reads.py); flush and compaction are ``Upkeep``'s
(upkeep.py). Layout and byte formats: docs/FORMAT.md.

Concurrency (read-copy-update): one writer at a time holds ``_lock``, applies the op
to its working state and then publishes an immutable ``View``. Reads take the current
view and run without any lock, in parallel with each other and with writes. A full
memtable is frozen (the WAL rotates to a new file) and flushed to a segment in the
background; until the segment is published, reads search the frozen memtable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from spruce.engine.background.upkeep import FLUSH_RETRY_MIN_S, WAL_FLUSH_BYTES, Upkeep
from spruce.engine.background.workers import TIMERS
from spruce.engine.disk.countfile import write_count
from spruce.engine.disk.recovery import Layout, recover
from spruce.engine.disk.segment import Segment
from spruce.engine.options import EngineOptions
from spruce.engine.read.filters import Filter
from spruce.engine.read.reads import Snapshot, SnapshotReader
from spruce.engine.read.search import Metric
from spruce.engine.read.view import Shape
from spruce.engine.write import validate
from spruce.engine.write.ops import (
    DeleteAllOp,
    DeleteOp,
    Op,
    UpdateOp,
    UpdateWhereOp,
    UpsertOp,
    encode_op,
    sparse_to_wire,
)
from spruce.engine.write.state import WorkingState
from spruce.engine.write.wal import WalWriter
from spruce.errors import (
    Corruption,
    Internal,
    InvalidArgument,
    SpruceError,
    StorageFull,
    Unavailable,
)
from spruce.types import Metadata, Record, SparseVector, Vector

__all__ = ["METRICS", "Metric", "Namespace"]

log = logging.getLogger(__name__)

METRICS: frozenset[str] = frozenset({"cosine", "euclidean", "dotproduct"})
# Longest a writer waits for background flushes before going on regardless.
_BACKPRESSURE_S = 30.0


class Namespace(Upkeep, SnapshotReader):
    """Open with ``Namespace.open``; all methods are thread-safe."""

    def __init__(
        self,
        layout: Layout,
        dimension: int | None,
        metric: Metric,
        flush_rows: int,
        options: EngineOptions,
    ):
        super().__init__(dimension, metric, options)
        self._layout = layout
        self._flush_rows = flush_rows
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._flush_mutex = threading.Lock()
        self._compact_mutex = threading.Lock()
        self._publish_lock = threading.Lock()
        self._state = WorkingState(dimension, record_deaths=True)
        self._lsn = 0
        self._flushed_lsn = 0
        self._frozen_lsn = 0  # LSN of the newest freeze (or the flushed LSN)
        self._wal: WalWriter | None = None
        self._closed: Exception | None = None
        self._view = self._state.view(0)
        self._last_write = time.monotonic()
        self._flush_retry_s = 0.0

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        dimension: int | None,
        metric: Metric,
        flush_rows: int = 20_000,
        options: EngineOptions | None = None,
    ) -> Namespace:
        if metric not in METRICS:
            raise InvalidArgument(f"unknown metric {metric!r}")
        if dimension is not None and (isinstance(dimension, bool) or dimension < 1):
            raise InvalidArgument("dimension must be a positive integer or None")
        if flush_rows < 1:
            raise InvalidArgument("flush_rows must be positive")
        ns = cls(Layout(path), dimension, metric, flush_rows, options or EngineOptions())
        state = recover(ns._layout, dimension, metric, ns._options)
        ns._state.segments = [Segment.fresh(core) for core in state.segments]
        ns._flushed_lsn = ns._frozen_lsn = ns._lsn = state.flushed_lsn
        for op in state.ops:
            try:
                ns._state.apply(op)
            except SpruceError:
                raise
            except Exception as exc:  # a logged op that cannot apply is damaged data
                raise Corruption(f"{path}: cannot replay LSN {op.lsn}: {exc!r}") from exc
            ns._lsn = op.lsn
        ns._wal = state.wal
        with ns._lock:
            ns._publish()
        if ns._state.mem.size >= flush_rows:
            ns._catch_up_later(0.0)  # opening must never need free space
        ns._schedule_compaction()
        return ns

    @property
    def lsn(self) -> int:
        return self._lsn

    def shape(self) -> Shape:
        """Memtable rows, segments and rows in no graph, as last published (no lock)."""
        return self._view.shape()

    # -- writes ---------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> int:
        ids, dense, sparse, metadata = validate.check_records(records, self._dimension)
        wire = [sparse_to_wire(s) for s in sparse]
        vectors = None if dense is None else dense.astype("<f4").tobytes()
        with self._lock:
            self._check_open()
            if not ids:
                return self._lsn
            return self._write(UpsertOp(self._lsn + 1, ids, vectors, wire, metadata))

    def update(
        self,
        id: str,
        *,
        values: Vector | None = None,
        sparse: SparseVector | None = None,
        set_metadata: Metadata | None = None,
    ) -> tuple[int, bool]:
        validate.check_id(id)
        wire_values = None
        if values is not None:
            wire_values = validate.check_dense(values, self._dimension, "update").tobytes()
        sp = None if sparse is None else sparse_to_wire(validate.check_sparse(sparse, "update"))
        md = None if set_metadata is None else validate.check_metadata(set_metadata, "update")
        with self._lock:
            self._check_open()
            if self._state.find(id) is None:
                return self._lsn, False
            return self._write(UpdateOp(self._lsn + 1, id, wire_values, sp, md)), True

    def update_where(self, filter: Filter, set_metadata: Metadata) -> tuple[int, int]:
        md = validate.check_metadata(set_metadata, "update")
        with self._lock:
            self._check_open()
            ids = Snapshot(self._view).matching(filter)
            if not ids:
                return self._lsn, 0
            return self._write(UpdateWhereOp(self._lsn + 1, ids, md)), len(ids)

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            self._check_open()
            found = [i for i in dict.fromkeys(ids) if self._state.find(i) is not None]
            return self._write(DeleteOp(self._lsn + 1, found)) if found else self._lsn

    def delete_where(self, filter: Filter) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            ids = Snapshot(self._view).matching(filter)
            if not ids:
                return self._lsn, 0
            return self._write(DeleteOp(self._lsn + 1, ids)), len(ids)

    def delete_all(self) -> int:
        with self._lock:
            self._check_open()
            if self._view.count() == 0:
                return self._lsn
            lsn = self._write(DeleteAllOp(self._lsn + 1))
        try:
            self.flush()  # frees the disk space now rather than at the next flush
        except StorageFull:
            self._catch_up_later(FLUSH_RETRY_MIN_S)  # the delete itself is logged
        return lsn

    def _write(self, op: Op) -> int:
        """Log ``op`` durably, apply it, publish; the caller holds the lock."""
        assert self._wal is not None
        self._wal.append(encode_op(op))
        try:
            self._state.apply(op)
        except BaseException as exc:
            # Memory no longer matches the log; only a reopen (replay) can fix that.
            self._fail(exc)
            raise Internal(f"namespace failed applying LSN {op.lsn}: {exc!r}") from exc
        self._lsn = op.lsn
        self._last_write = time.monotonic()
        # Each freeze starts a new WAL file, so its size is what no memtable has frozen.
        if self._state.mem.size >= self._flush_rows or self._wal.size >= WAL_FLUSH_BYTES:
            self._freeze_or_defer()
        else:
            self._publish()
        deadline = time.monotonic() + _BACKPRESSURE_S
        while len(self._state.frozen) > self._options.max_frozen and self._closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._changed.wait(min(left, 1.0))
        return op.lsn

    def _publish(self) -> None:
        """Make the working state visible to readers; the caller holds the lock."""
        self._view = self._state.view(self._lsn)

    def _read_snapshot(self) -> Snapshot:
        self._check_open()
        return Snapshot(self._view)

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        if self._closed is None:
            # Frozen memtables are in the WAL anyway; flushing them now just spares the
            # next open a long replay.
            try:
                self._run_flushes()
            except Exception:
                log.exception("flush while closing %s failed", self._layout.root)
        with self._lock:
            was_open = self._closed is None
            if was_open:
                self._closed = Unavailable("namespace is closed")
            TIMERS.cancel(self)
            self._changed.notify_all()
        # Background jobs check the flag; wait for one in progress to stop.
        with self._flush_mutex, self._compact_mutex:
            pass
        if was_open:
            self._save_count()

    def _save_count(self) -> None:
        """Leave the record count in ``COUNT`` so that listing namespaces with their
        counts (``IndexStore.count``) need not open this one again (countfile.py)."""
        with self._lock:
            if self.failed or self._wal is None:
                return  # memory may not match the disk: say nothing rather than guess
            lsn, count, wal = self._lsn, self._view.count(), self._wal
        try:
            write_count(
                self._layout,
                lsn=lsn,
                count=count,
                wal_first_lsn=int(wal.path.stem),
                wal_bytes=wal.size,
            )
        except (OSError, ValueError):
            # Only a cache: without it the next count opens the namespace, as before.
            log.warning("could not save the record count of %s", self._layout.root, exc_info=True)

    @property
    def failed(self) -> bool:
        """True after an error left memory out of step with disk; reopen to recover."""
        return self._closed is not None and not isinstance(self._closed, Unavailable)

    def _fail(self, exc: BaseException) -> None:
        log.error("namespace %s failed; it must be reopened: %r", self._layout.root, exc)
        self._closed = exc if isinstance(exc, Exception) else Internal(repr(exc))

    def _check_open(self) -> None:
        if self._closed is not None:
            if isinstance(self._closed, Unavailable):
                raise self._closed
            # The failure itself (it may name server paths) was logged when it happened.
            raise Unavailable("namespace failed and must be reopened")
