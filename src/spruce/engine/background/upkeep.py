"""Flush and compaction of a writer's namespace: the work that runs behind the writes.

``Upkeep`` is the part of ``Namespace`` (namespace.py) that turns frozen memtables into
segments and merges segments, each published by an atomic manifest replace: the commit
point (docs/FORMAT.md). It is a mixin so that both halves share one lock set and one
working state; the attributes it declares are set by ``Namespace.__init__``.

Scheduling: a full memtable is frozen by the writer and flushed on the ``FLUSHER``
thread; every flush queues a compaction on ``COMPACTOR`` (nice 10, or its normal-
priority lane for a graph over rows queries scan exactly, see
workers.py), and once writes stop for ``idle_compact_s`` a full compaction merges
everything into one segment, so a quiet namespace is one graph to search. A writer
waits (backpressure) only when more than ``max_frozen`` memtables wait for a flush.
Lock order: flush/compaction mutex, then ``_publish_lock`` (manifest writes), then
``_lock``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from pathlib import Path

import msgspec
import numpy as np

from spruce.engine.background import compaction
from spruce.engine.background.flush import build_flush_segment, collect_garbage, segment_name
from spruce.engine.background.workers import COMPACTOR, FLUSHER, TIMERS
from spruce.engine.disk.fsutil import disk_full
from spruce.engine.disk.manifest import Manifest, write_manifest
from spruce.engine.disk.recovery import Layout, wal_files
from spruce.engine.disk.segment import Segment, SegmentCore, SegmentEntry
from spruce.engine.options import EngineOptions
from spruce.engine.read.search import Metric
from spruce.engine.write.memtable import Memtable, MemView
from spruce.engine.write.state import WorkingState
from spruce.engine.write.wal import WalWriter, wal_file_name
from spruce.errors import StorageFull

__all__ = ["FLUSH_RETRY_MIN_S", "WAL_FLUSH_BYTES", "Upkeep"]

log = logging.getLogger(__name__)

_BUSY_S = 2.0  # a write this recent means ingest is under way (see _build_threads)
# Flush when the WAL grows past this even if the memtable is small (e.g. only deletes).
WAL_FLUSH_BYTES = 64 << 20
# A failed background flush (a full disk, say) is retried after this, doubling up to the max.
FLUSH_RETRY_MIN_S = 0.5
_FLUSH_RETRY_MAX_S = 10.0


class Upkeep:
    """Flush and compaction for ``Namespace``; not used on its own."""

    _layout: Layout
    _dimension: int | None
    _metric: Metric
    _options: EngineOptions
    _lock: threading.Lock
    _changed: threading.Condition
    _flush_mutex: threading.Lock
    _compact_mutex: threading.Lock
    _publish_lock: threading.Lock
    _state: WorkingState
    _lsn: int
    _flushed_lsn: int
    _frozen_lsn: int
    _wal: WalWriter | None
    _closed: Exception | None
    _last_write: float
    _flush_rows: int
    _flush_retry_s: float  # the current retry delay; 0 while flushes succeed

    def _publish(self) -> None:
        raise NotImplementedError

    def _check_open(self) -> None:
        raise NotImplementedError

    def _fail(self, exc: BaseException) -> None:
        raise NotImplementedError

    @property
    def failed(self) -> bool:
        raise NotImplementedError

    # -- flush ----------------------------------------------------------------

    def flush(self) -> None:
        """Persist everything written so far as segments; returns once published."""
        with self._lock:
            self._check_open()
            if self._lsn > self._frozen_lsn:
                self._freeze(background=False)
        self._run_flushes()

    def _freeze(self, *, background: bool) -> None:
        """Hand the memtable to a flush and start a new WAL file; caller holds the lock."""
        lsn = self._lsn
        if lsn == self._frozen_lsn:
            self._publish()
            return
        assert self._wal is not None
        wal = self._wal
        if wal.path.name != wal_file_name(lsn + 1):
            wal = WalWriter.create(self._layout.wal / wal_file_name(lsn + 1))
        frozen = self._state.mem.snapshot(segment_name(lsn))
        dead = np.zeros(frozen.size, dtype=np.int64)
        dead[~frozen.live] = max(lsn, 1)  # died before the freeze: any LSN <= lsn will do
        frozen.dead_lsn = dead
        self._state.frozen.append((lsn, frozen))
        self._state.mem = Memtable(self._dimension)
        self._wal = wal
        self._frozen_lsn = lsn
        self._publish()
        if background:
            FLUSHER.submit(self, self._background_flush)

    def _background_flush(self) -> None:
        try:
            self._run_flushes()
        except Exception as exc:
            # Left frozen (still searched, still in the WAL); retried with backoff.
            self._flush_failed(exc)
        else:
            self._flush_succeeded()

    # -- flush retries (a full disk heals by itself once space returns) ---------

    def _freeze_or_defer(self) -> None:
        """``_freeze`` after an acknowledged write; the caller holds the lock. Without
        room for the next WAL file, keep the memtable (it is in the current WAL) and
        try again later: the write itself must not fail after it was logged."""
        try:
            self._freeze(background=True)
        except StorageFull as exc:
            self._publish()
            self._flush_failed(exc)

    def _catch_up_later(self, delay: float) -> None:
        TIMERS.arm((self, "flush"), delay, lambda: FLUSHER.submit((self, "flush"), self._catch_up))

    def _catch_up(self) -> None:
        """Freeze a memtable grown past ``flush_rows`` (by replay, or while the disk was
        full) and flush everything frozen; on the flusher thread."""
        try:
            with self._lock:
                if self._closed is not None:
                    return
                assert self._wal is not None
                if self._state.mem.size >= self._flush_rows or self._wal.size >= WAL_FLUSH_BYTES:
                    self._freeze(background=False)
            self._run_flushes()
        except Exception as exc:
            self._flush_failed(exc)
        else:
            self._flush_succeeded()

    def _flush_failed(self, exc: Exception) -> None:
        if self._closed is not None:
            return  # failed (already logged) or closed: nothing left to retry
        if self._flush_retry_s == 0.0:  # log a streak of failures once
            if disk_full(exc):
                log.warning("flush of %s waits for disk space; retrying", self._layout.root)
            else:
                log.error("flush of %s failed; retrying", self._layout.root, exc_info=exc)
        self._flush_retry_s = min(
            max(2 * self._flush_retry_s, FLUSH_RETRY_MIN_S), _FLUSH_RETRY_MAX_S
        )
        self._catch_up_later(self._flush_retry_s)

    def _flush_succeeded(self) -> None:
        if self._flush_retry_s:
            log.warning("flush of %s succeeded again", self._layout.root)
            self._flush_retry_s = 0.0

    def _run_flushes(self) -> None:
        with self._flush_mutex:
            while True:
                with self._lock:
                    if self._closed is not None or not self._state.frozen:
                        return
                    lsn, frozen = self._state.frozen[0]
                self._flush_one(lsn, frozen)

    def _flush_one(self, lsn: int, frozen: MemView) -> None:
        built = build_flush_segment(
            self._layout, lsn, frozen, self._dimension, self._metric, self._options
        )
        name = segment_name(lsn)
        garbage: list[Path] = []
        with self._publish_lock:
            try:
                with self._lock:
                    cores = [s.core for s in self._state.segments]
                entries: dict[SegmentCore, tuple[SegmentEntry, int]] = {}
                dropped: set[SegmentCore] = set()
                for core in cores:
                    dead = core.dead_as_of(lsn)
                    n_dead = int(np.count_nonzero(dead))
                    if n_dead == core.size:
                        dropped.add(core)  # nothing left to read in it, ever
                    elif n_dead != core.persisted_dead:
                        file, crc = core.write_deletes(f"deletes-{name}.roaring", dead)
                        if core.entry.deletes is not None:
                            garbage.append(core.directory / core.entry.deletes)
                        entry = msgspec.structs.replace(core.entry, deletes=file, deletes_crc32=crc)
                        entries[core] = (entry, n_dead)
                listed = [
                    entries[c][0] if c in entries else c.entry for c in cores if c not in dropped
                ]
                if built is not None:
                    listed.append(built.core.entry)
                manifest = Manifest(
                    dimension=self._dimension,
                    metric=self._metric,
                    flushed_lsn=lsn,
                    segments=listed,
                    obsolete=sorted(c.name for c in dropped),
                )
            except BaseException:
                if built is not None:
                    collect_garbage(self._layout, [built.core.directory])
                raise
            self._commit(manifest)
            with self._lock:
                for core, (entry, n_dead) in entries.items():
                    core.entry, core.persisted_dead = entry, n_dead
                segments = [s for s in self._state.segments if s.core not in dropped]
                current = self._state.frozen.pop(0)[1]  # flushes run in freeze order
                assert current.name == frozen.name and current.dead_lsn is not None
                if built is not None:
                    built.core.dead_lsn[:] = current.dead_lsn[built.rows]
                    segments.append(Segment(built.core, current.live[built.rows]))
                self._state.segments = segments
                self._flushed_lsn = lsn
                self._publish()
                self._changed.notify_all()
        garbage.extend(c.directory for c in dropped)
        garbage.extend(p for p in wal_files(self._layout) if int(p.stem) <= lsn)
        collect_garbage(self._layout, garbage)
        self._schedule_compaction()

    def _commit(self, manifest: Manifest) -> None:
        """Publish ``manifest``: the commit point; the caller holds ``_publish_lock``."""
        try:
            write_manifest(self._layout.manifest, manifest)
        except StorageFull:
            raise  # raised before the replace: the old manifest stands, memory matches it
        except BaseException as exc:
            # The manifest may or may not be on disk; only a reopen knows which.
            self._fail(exc)
            raise

    # -- compaction -----------------------------------------------------------

    def compact(self) -> None:
        """Flush, then merge every segment into one (with an HNSW index if large enough)."""
        self.flush()
        self._run_compaction(full=True)

    def _schedule_compaction(self) -> None:
        if self._options.auto_compact and self._closed is None:
            COMPACTOR.submit(self, self._background_compact)
            if self._options.idle_compact_s > 0:
                self._arm_idle_timer(self._options.idle_compact_s)

    def _arm_idle_timer(self, delay: float) -> None:
        TIMERS.arm(self, delay, self._idle_check)

    def _idle_check(self) -> None:
        """Once writes stop, merge everything into one segment (one graph to search)."""
        if self._closed is not None:
            return
        quiet = time.monotonic() - self._last_write
        if quiet < self._options.idle_compact_s:
            self._arm_idle_timer(self._options.idle_compact_s - quiet)
            return
        COMPACTOR.submit((self, "full"), self._background_full_compact)

    def _background_full_compact(self, urgent: bool = False) -> None:
        if self._closed is not None:
            return
        try:
            self.flush()  # the memtable too: after this, everything is in one segment
            self._run_compaction(full=True, lane=None if urgent else "full")
        except Exception:
            if not self._closed_cleanly():
                log.exception("idle compaction of %s failed", self._layout.root)

    def _background_compact(self, urgent: bool = False) -> None:
        try:
            self._run_compaction(full=False, lane=None if urgent else "partial")
        except Exception:
            if not self._closed_cleanly():
                log.exception("background compaction of %s failed", self._layout.root)

    def _hand_to_urgent_lane(self, lane: str) -> None:
        """Rerun this job on the normal-priority compactor thread (``workers``)."""
        if lane == "full":
            COMPACTOR.submit(
                (self, "full"), lambda: self._background_full_compact(True), urgent=True
            )
        else:
            COMPACTOR.submit(self, lambda: self._background_compact(True), urgent=True)

    def _closed_cleanly(self) -> bool:
        """Closed (not failed) meanwhile: a background job racing ``close`` just stops."""
        return self._closed is not None and not self.failed

    def _run_compaction(self, *, full: bool, lane: str | None = None) -> None:
        """Merge until the policy has nothing left to do. ``lane`` names the low-priority
        job this runs in (None: in the caller's thread or the urgent lane); a plan that is
        ``compaction.urgent`` is handed to the urgent lane instead of built there."""
        with self._compact_mutex:
            while True:
                with self._lock:
                    if self._closed is not None:
                        return
                    cores = [s.core for s in self._state.segments]
                    flushed = self._flushed_lsn
                the_plan = compaction.plan(cores, self._options, full=full)
                if the_plan is None:
                    return
                if lane is not None and compaction.urgent(the_plan, self._options):
                    self._hand_to_urgent_lane(lane)
                    return
                merged = compaction.build(
                    self._layout,
                    the_plan,
                    flushed,
                    self._dimension,
                    self._metric,
                    self._options,
                    stop=lambda: self._closed is not None,
                    threads=self._build_threads,
                )
                if merged is None and self._closed is not None:
                    return
                self._publish_compaction(the_plan, merged)

    def _build_threads(self) -> int:
        """Graph-build threads: while writes arrive, leave one core to them (the graph
        catches up once they stop; an upsert should not wait for it)."""
        cores = os.cpu_count() or 1
        busy = time.monotonic() - self._last_write < _BUSY_S
        return cores - 1 if busy and cores > 1 else cores

    def _publish_compaction(
        self, the_plan: compaction.Plan, merged: compaction.Merged | None
    ) -> None:
        inputs = set(the_plan.inputs)
        with self._publish_lock:
            with self._lock:
                cores = [s.core for s in self._state.segments]
                flushed = self._flushed_lsn
            if not inputs <= set(cores):  # a flush dropped an input meanwhile: start over
                if merged is not None:
                    collect_garbage(self._layout, [merged.core.directory])
                return
            listed = [c.entry for c in cores if c not in inputs]
            n_dead = 0
            if merged is not None:
                core = merged.core
                dead_lsn = np.concatenate(
                    [
                        c.dead_lsn[rows]
                        for c, rows in zip(the_plan.inputs, merged.taken, strict=True)
                    ]
                )
                dead = (dead_lsn != 0) & (dead_lsn <= flushed)
                n_dead = int(np.count_nonzero(dead))
                if n_dead:
                    file, crc = core.write_deletes(f"deletes-{segment_name(flushed)}.roaring", dead)
                    core.entry = msgspec.structs.replace(
                        core.entry, deletes=file, deletes_crc32=crc
                    )
                listed.append(core.entry)
            manifest = Manifest(
                dimension=self._dimension,
                metric=self._metric,
                flushed_lsn=flushed,
                segments=listed,
                obsolete=sorted(c.name for c in inputs),
            )
            self._commit(manifest)
            with self._lock:
                current = {s.core: s for s in self._state.segments}
                segments = [s for s in self._state.segments if s.core not in inputs]
                if merged is not None:
                    pairs = list(zip(the_plan.inputs, merged.taken, strict=True))
                    merged.core.dead_lsn[:] = np.concatenate([c.dead_lsn[r] for c, r in pairs])
                    merged.core.persisted_dead = n_dead
                    live = np.concatenate([current[c].live[r] for c, r in pairs])
                    segments.append(Segment(merged.core, live))
                self._state.segments = segments
                self._publish()
        collect_garbage(self._layout, [c.directory for c in inputs])
        _release_memory()


def _release_memory() -> None:
    """Hand the freed temporaries of a merge (gigabytes at scale) back to the OS; glibc
    keeps freed heap memory in its arenas otherwise."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
