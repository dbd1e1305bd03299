"""One namespace's durable store: WAL + memtable + immutable segments + manifest.

Every write is validated, given the next LSN, logged (fsync'd) and then applied to
memory by the same ``_apply`` that recovery uses, so a replayed WAL rebuilds exactly
what the live process had. Layout and byte formats: docs/FORMAT.md.

Concurrency (read-copy-update): one writer at a time holds ``_lock``, applies the op
to its working state (copying a segment's live flags before deleting from it) and then
publishes an immutable ``View``. Reads take the current view and run without any lock,
in parallel with each other and with writes. A full memtable is frozen (the WAL rotates
to a new file) and flushed to a segment by a background thread; until the segment is
published, reads search the frozen memtable. Background compaction merges segments and
builds HNSW indexes. Lock order: flush/compaction mutex, then ``_publish_lock`` (manifest
writes), then ``_lock``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import msgspec
import numpy as np
import numpy.typing as npt

from spruce.engine import compaction, validate
from spruce.engine.background import COMPACTOR, FLUSHER, TIMERS
from spruce.engine.countfile import write_count
from spruce.engine.filters import Filter
from spruce.engine.flush import build_flush_segment, collect_garbage, segment_name
from spruce.engine.manifest import Manifest, write_manifest
from spruce.engine.memtable import Memtable, MemView
from spruce.engine.ops import (
    DeleteAllOp,
    DeleteOp,
    Op,
    SparseWire,
    UpdateOp,
    UpdateWhereOp,
    UpsertOp,
    encode_op,
    sparse_from_wire,
    sparse_to_wire,
)
from spruce.engine.options import EngineOptions
from spruce.engine.recovery import Layout, recover, wal_files
from spruce.engine.rows import copy_sparse
from spruce.engine.search import Metric, QuerySpec, merge_top_k, source_candidates
from spruce.engine.segment import Segment, SegmentCore, SegmentEntry
from spruce.engine.view import Shape, Source, View
from spruce.engine.wal import WalWriter, wal_file_name
from spruce.errors import Corruption, Internal, InvalidArgument, SpruceError, Unavailable
from spruce.types import Match, Metadata, Record, SparseVector, Vector

__all__ = ["METRICS", "Metric", "Namespace"]

log = logging.getLogger(__name__)

METRICS: frozenset[str] = frozenset({"cosine", "euclidean", "dotproduct"})
# Flush when the WAL grows past this even if the memtable is small (e.g. only deletes).
WAL_FLUSH_BYTES = 64 << 20
# Longest a writer waits for background flushes before going on regardless.
_BACKPRESSURE_S = 30.0
_BUSY_S = 2.0  # a write this recent means ingest is under way (see _build_threads)

# Where a live id is in the writer's state: ("mem" | "frozen" | "seg", index, row).
_Found = tuple[str, int, int]


class Namespace:
    """Open with ``Namespace.open``; all methods are thread-safe."""

    def __init__(
        self,
        layout: Layout,
        dimension: int | None,
        metric: Metric,
        flush_rows: int,
        options: EngineOptions,
    ):
        self._layout = layout
        self._dimension = dimension
        self._metric: Metric = metric
        self._flush_rows = flush_rows
        self._options = options
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._flush_mutex = threading.Lock()
        self._compact_mutex = threading.Lock()
        self._publish_lock = threading.Lock()
        self._mem = Memtable(dimension)
        self._frozen: list[tuple[int, MemView]] = []  # (flush LSN, rows), oldest first
        self._segments: list[Segment] = []
        self._owned: set[object] = set()  # live arrays copied since the last publish
        self._lsn = 0
        self._op_lsn = 0  # LSN of the op being applied (recorded as rows die)
        self._flushed_lsn = 0
        self._frozen_lsn = 0  # LSN of the newest freeze (or the flushed LSN)
        self._wal: WalWriter | None = None
        self._closed: Exception | None = None
        self._view = View(0, self._mem.snapshot(), (), ())
        self._last_write = time.monotonic()

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
        ns._segments = [Segment.fresh(core) for core in state.segments]
        ns._flushed_lsn = ns._frozen_lsn = ns._lsn = state.flushed_lsn
        for op in state.ops:
            ns._op_lsn = op.lsn
            try:
                ns._apply(op)
            except SpruceError:
                raise
            except Exception as exc:  # a logged op that cannot apply is damaged data
                raise Corruption(f"{path}: cannot replay LSN {op.lsn}: {exc!r}") from exc
            ns._lsn = op.lsn
        ns._wal = state.wal
        with ns._lock:
            ns._publish()
        if ns._mem.size >= flush_rows:
            ns.flush()
        ns._schedule_compaction()
        return ns

    @property
    def lsn(self) -> int:
        return self._lsn

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def metric(self) -> Metric:
        return self._metric

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
            if self._find(id) is None:
                return self._lsn, False
            return self._write(UpdateOp(self._lsn + 1, id, wire_values, sp, md)), True

    def update_where(self, filter: Filter, set_metadata: Metadata) -> tuple[int, int]:
        md = validate.check_metadata(set_metadata, "update")
        with self._lock:
            self._check_open()
            ids = _matching_ids(self._view, filter)
            if not ids:
                return self._lsn, 0
            return self._write(UpdateWhereOp(self._lsn + 1, ids, md)), len(ids)

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            self._check_open()
            found = [i for i in dict.fromkeys(ids) if self._find(i) is not None]
            return self._write(DeleteOp(self._lsn + 1, found)) if found else self._lsn

    def delete_where(self, filter: Filter) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            ids = _matching_ids(self._view, filter)
            if not ids:
                return self._lsn, 0
            return self._write(DeleteOp(self._lsn + 1, ids)), len(ids)

    def delete_all(self) -> int:
        with self._lock:
            self._check_open()
            if self._view.count() == 0:
                return self._lsn
            lsn = self._write(DeleteAllOp(self._lsn + 1))
        self.flush()  # frees the disk space now rather than at the next flush
        return lsn

    def _write(self, op: Op) -> int:
        """Log ``op`` durably, apply it, publish; the caller holds the lock."""
        assert self._wal is not None
        self._wal.append(encode_op(op))
        self._op_lsn = op.lsn
        try:
            self._apply(op)
        except BaseException as exc:
            # Memory no longer matches the log; only a reopen (replay) can fix that.
            self._fail(exc)
            raise Internal(f"namespace failed applying LSN {op.lsn}: {exc!r}") from exc
        self._lsn = op.lsn
        self._last_write = time.monotonic()
        # Each freeze starts a new WAL file, so its size is what no memtable has frozen.
        if self._mem.size >= self._flush_rows or self._wal.size >= WAL_FLUSH_BYTES:
            self._freeze(background=True)
        else:
            self._publish()
        deadline = time.monotonic() + _BACKPRESSURE_S
        while len(self._frozen) > self._options.max_frozen and self._closed is None:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._changed.wait(min(left, 1.0))
        return op.lsn

    def _publish(self) -> None:
        """Make the working state visible to readers; the caller holds the lock."""
        self._view = View(
            self._lsn,
            self._mem.snapshot(),
            tuple(f for _, f in self._frozen),
            tuple(self._segments),
        )
        self._owned.clear()

    # -- applying ops (shared by writes and recovery) -------------------------

    def _apply(self, op: Op) -> None:
        if isinstance(op, UpsertOp):
            self._apply_upsert(op)
        elif isinstance(op, UpdateOp):
            self._apply_update(op.id, op.values, op.sparse is not None, op.sparse, op.set_metadata)
        elif isinstance(op, UpdateWhereOp):
            for id in op.ids:
                self._apply_update(id, None, False, None, op.set_metadata)
        elif isinstance(op, DeleteOp):
            for id in op.ids:
                found = self._find(id)
                if found is not None:
                    self._kill(found)
        else:
            self._mem.kill_all()
            for i, (lsn, f) in enumerate(self._frozen):
                self._frozen[i] = (lsn, cast(MemView, self._all_dead(f)))
            self._segments = [cast(Segment, self._all_dead(s)) for s in self._segments]

    def _all_dead(self, src: Source) -> Source:
        dead = src.core.dead_lsn if isinstance(src, Segment) else src.dead_lsn
        assert dead is not None
        dead[dead == 0] = self._op_lsn
        out = src.with_live(np.zeros(src.size, dtype=np.bool_))
        self._owned.add(out)
        return out

    def _apply_upsert(self, op: UpsertOp) -> None:
        n = len(op.ids)
        vectors = None
        if len(op.sparse) != n or len(op.metadata) != n:
            raise Corruption(f"LSN {op.lsn}: upsert columns differ in length")
        if op.vectors is not None:
            if self._dimension is None or len(op.vectors) != 4 * n * self._dimension:
                raise Corruption(f"LSN {op.lsn}: vector bytes do not match the dimension")
            vectors = np.frombuffer(op.vectors, dtype="<f4").reshape(n, self._dimension)
        elif self._dimension is not None:
            raise Corruption(f"LSN {op.lsn}: dense vectors missing")
        sparse = [sparse_from_wire(s) for s in op.sparse]
        if len(set(op.ids)) < n:  # repeated ids: one at a time, the last one wins
            for i, id in enumerate(op.ids):
                if id not in self._mem:  # the memtable replaces its own rows in put()
                    found = self._find(id)
                    if found is not None:
                        self._kill(found)
                row = None if vectors is None else vectors[i]
                self._mem.put(id, row, sparse[i], op.metadata[i])
            return
        self._kill_elsewhere({id for id in op.ids if id not in self._mem})
        self._mem.put_many(op.ids, vectors, sparse, op.metadata)

    def _kill_elsewhere(self, ids: set[str]) -> None:
        """Kill the live rows of ``ids`` in frozen memtables and segments, set-wise
        (``_find`` for a whole batch; an id is live in at most one place)."""
        for i in range(len(self._frozen) - 1, -1, -1):
            if not ids:
                return
            for id, row in self._frozen[i][1].rows_of(ids).items():
                self._kill(("frozen", i, row))
                ids.discard(id)
        for i in range(len(self._segments)):
            if not ids:
                return
            for id, row in self._segments[i].rows_of(ids).items():
                self._kill(("seg", i, row))
                ids.discard(id)

    def _apply_update(
        self,
        id: str,
        values: bytes | None,
        replace_sparse: bool,
        sparse: SparseWire | None,
        set_metadata: Metadata | None,
    ) -> None:
        found = self._find(id)
        if found is None:
            return
        kind, index, row = found
        src: Memtable | Source = (
            self._mem
            if kind == "mem"
            else self._frozen[index][1]
            if kind == "frozen"
            else self._segments[index]
        )
        new_values = src.values_at(row)
        if values is not None:
            if self._dimension is None or len(values) != 4 * self._dimension:
                raise Corruption(f"update of {id!r}: vector bytes do not match the dimension")
            new_values = np.frombuffer(values, dtype="<f4").astype(np.float32)
        new_sparse = sparse_from_wire(sparse) if replace_sparse else src.sparse_at(row)
        metadata = src.metadata_at(row) or {}
        if set_metadata:
            metadata.update(set_metadata)
        if kind != "mem":
            self._kill(found)
        self._mem.put(id, new_values, new_sparse, metadata)

    def _find(self, id: str) -> _Found | None:
        """Where ``id`` is live in the writer's working state."""
        row = self._mem.row_of(id)
        if row is not None:
            return "mem", 0, row
        for i in range(len(self._frozen) - 1, -1, -1):
            row = self._frozen[i][1].row_of(id)
            if row is not None:
                return "frozen", i, row
        for i, segment in enumerate(self._segments):
            row = segment.row_of(id)
            if row is not None:
                return "seg", i, row
        return None

    def _kill(self, found: _Found) -> None:
        """Mark a row dead, copying live flags that a published view may hold."""
        kind, i, row = found
        if kind == "mem":
            self._mem.kill(row)
            return
        src: MemView | Segment = self._frozen[i][1] if kind == "frozen" else self._segments[i]
        if src not in self._owned:
            src = src.with_live(src.live.copy())
            self._owned.add(src)
            if kind == "frozen":
                self._frozen[i] = (self._frozen[i][0], src)  # type: ignore[assignment]
            else:
                self._segments[i] = src  # type: ignore[assignment]
        src.live[row] = False
        dead = src.core.dead_lsn if isinstance(src, Segment) else src.dead_lsn
        assert dead is not None
        dead[row] = self._op_lsn

    # -- reads ----------------------------------------------------------------

    def _snapshot(self) -> View:
        self._check_open()
        return self._view

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        view = self._snapshot()
        out: dict[str, Record] = {}
        for id in ids:
            loc = view.locate(id)
            if loc is not None:
                out[id] = _record(loc[0], loc[1], True, True)
        return out

    def query(
        self,
        vector: Vector | None,
        *,
        top_k: int,
        filter: Filter | None = None,
        sparse: SparseVector | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
    ) -> list[Match]:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidArgument("top_k must be a positive integer")
        if vector is None and sparse is None:
            raise InvalidArgument("a query needs a dense vector, sparse values or both")
        if sparse is not None and self._metric != "dotproduct":
            raise InvalidArgument("sparse values can only be queried with the dotproduct metric")
        q = None if vector is None else validate.check_dense(vector, self._dimension, "query")
        qs = None if sparse is None else validate.check_sparse(sparse, "query")
        spec = QuerySpec.build(self._metric, top_k, q, qs)
        view = self._snapshot()
        sources = view.sources()
        tuning = self._options.search
        per_source = [source_candidates(s, _allowed(s, filter), spec, tuning) for s in sources]
        matches = []
        for c in merge_top_k(sources, per_source, spec):
            r = _record(sources[c.source], c.row, include_values, include_metadata)
            matches.append(Match(c.id, c.score, r.values, r.sparse, r.metadata))
        return matches

    def list_ids(
        self, *, prefix: str = "", limit: int = 100, after: str | None = None
    ) -> list[str]:
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        return self._snapshot().list_ids(prefix, limit, after)

    def ids_where(self, filter: Filter, *, limit: int = 100, after: str | None = None) -> list[str]:
        """Up to ``limit`` live ids matching ``filter``, in id order, above ``after``."""
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        return [src.id_at(row) for src, row in self._snapshot().rows_where(filter, limit, after)]

    def fetch_where(
        self, filter: Filter, *, limit: int = 100, after: str | None = None
    ) -> list[Record]:
        """The records ``ids_where`` names, read from the same snapshot."""
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        rows = self._snapshot().rows_where(filter, limit, after)
        return [_record(src, row, True, True) for src, row in rows]

    def count(self, filter: Filter | None = None) -> int:
        view = self._snapshot()
        if filter is None:
            return view.count()
        return sum(int(np.count_nonzero(_allowed(s, filter))) for s in view.sources())

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
        frozen = self._mem.snapshot(segment_name(lsn))
        dead = np.zeros(frozen.size, dtype=np.int64)
        dead[~frozen.live] = max(lsn, 1)  # died before the freeze: any LSN <= lsn will do
        frozen.dead_lsn = dead
        self._frozen.append((lsn, frozen))
        self._mem = Memtable(self._dimension)
        self._wal = wal
        self._frozen_lsn = lsn
        self._publish()
        if background:
            FLUSHER.submit(self, self._background_flush)

    def _background_flush(self) -> None:
        try:
            self._run_flushes()
        except Exception:
            # Left frozen (still searched, still in the WAL); the next flush retries it.
            log.exception("background flush of %s failed", self._layout.root)

    def _run_flushes(self) -> None:
        with self._flush_mutex:
            while True:
                with self._lock:
                    if self._closed is not None or not self._frozen:
                        return
                    lsn, frozen = self._frozen[0]
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
                    cores = [s.core for s in self._segments]
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
                segments = [s for s in self._segments if s.core not in dropped]
                current = self._frozen.pop(0)[1]  # flushes run in freeze order
                assert current.name == frozen.name and current.dead_lsn is not None
                if built is not None:
                    built.core.dead_lsn[:] = current.dead_lsn[built.rows]
                    segments.append(Segment(built.core, current.live[built.rows]))
                self._segments = segments
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

    def _background_full_compact(self) -> None:
        if self._closed is not None:
            return
        try:
            self.flush()  # the memtable too: after this, everything is in one segment
            self._run_compaction(full=True)
        except Exception:
            if not self._closed_cleanly():
                log.exception("idle compaction of %s failed", self._layout.root)

    def _background_compact(self) -> None:
        try:
            self._run_compaction(full=False)
        except Exception:
            if not self._closed_cleanly():
                log.exception("background compaction of %s failed", self._layout.root)

    def _closed_cleanly(self) -> bool:
        """Closed (not failed) meanwhile: a background job racing ``close`` just stops."""
        return self._closed is not None and not self.failed

    def _run_compaction(self, *, full: bool) -> None:
        with self._compact_mutex:
            while True:
                with self._lock:
                    if self._closed is not None:
                        return
                    cores = [s.core for s in self._segments]
                    flushed = self._flushed_lsn
                the_plan = compaction.plan(cores, self._options, full=full)
                if the_plan is None:
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
                cores = [s.core for s in self._segments]
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
                current = {s.core: s for s in self._segments}
                segments = [s for s in self._segments if s.core not in inputs]
                if merged is not None:
                    pairs = list(zip(the_plan.inputs, merged.taken, strict=True))
                    merged.core.dead_lsn[:] = np.concatenate([c.dead_lsn[r] for c, r in pairs])
                    merged.core.persisted_dead = n_dead
                    live = np.concatenate([current[c].live[r] for c, r in pairs])
                    segments.append(Segment(merged.core, live))
                self._segments = segments
                self._publish()
        collect_garbage(self._layout, [c.directory for c in inputs])
        _release_memory()

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


def _release_memory() -> None:
    """Hand the freed temporaries of a merge (gigabytes at scale) back to the OS; glibc
    keeps freed heap memory in its arenas otherwise."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _allowed(src: Source, filter: Filter | None) -> npt.NDArray[np.bool_]:
    if filter is None:
        return src.live
    return src.live & src.filter_mask(filter)


def _matching_ids(view: View, filter: Filter) -> list[str]:
    return [
        src.id_at(int(row))
        for src in view.sources()
        for row in np.flatnonzero(_allowed(src, filter))
    ]


def _record(src: Source, row: int, values: bool, metadata: bool) -> Record:
    return Record(
        id=src.id_at(row),
        values=src.values_at(row) if values else None,
        sparse=copy_sparse(src.sparse_at(row)) if values else None,
        metadata=src.metadata_at(row) if metadata else None,
    )
