"""A read-only follower of one namespace directory: what a dedicated read replica serves.

The writer (``namespace.py``) owns the directory. A follower never writes to it: it
reads the published manifest and its segments, then tails the WAL files and replays
the operations after the manifest's ``flushed_lsn`` into a memtable of its own, with
the same semantics as the writer's replay (docs/FORMAT.md, section 3.3). ``refresh``
picks up what the writer did since: new WAL frames are applied incrementally; a new
manifest (a flush or a compaction) reloads the segment list, reusing the segments it
already has, and replays the WAL tail after the new ``flushed_lsn``.

The writer deletes files a new manifest no longer names, so a refresh can find a file
gone or an LSN gap between what it read and what is left; it then starts over from
the newest manifest. A torn frame at the end of the last WAL file is an append in
progress: it is read on a later refresh. ``catch_up(lsn)`` gives read-your-writes:
the writer's LSN at the time of a read is passed along and the follower refreshes
until it has applied at least that much.

Reads run on an immutable snapshot, like the writer's (``view.py``), optionally
restricted to one shard (``partition.py``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spruce.engine import validate
from spruce.engine.filters import Filter
from spruce.engine.manifest import Manifest, read_manifest
from spruce.engine.memtable import Memtable, MemView
from spruce.engine.nsfile import read_incarnation
from spruce.engine.ops import (
    DeleteOp,
    Op,
    SparseWire,
    UpdateOp,
    UpdateWhereOp,
    UpsertOp,
    decode_op,
    sparse_from_wire,
)
from spruce.engine.options import EngineOptions
from spruce.engine.partition import (
    GrowingStats,
    Partition,
    RowStats,
    ShardUsage,
    segment_stats,
    shard_usage,
)
from spruce.engine.recovery import Layout, wal_files
from spruce.engine.rows import copy_sparse
from spruce.engine.search import Metric, QuerySpec, merge_top_k, source_candidates
from spruce.engine.segment import Segment, SegmentCore
from spruce.engine.view import Source, View
from spruce.engine.wal import HEADER, scan_frames
from spruce.errors import Corruption, InvalidArgument, NotFound, Unavailable
from spruce.types import Match, Metadata, Record, SparseVector, Vector

__all__ = ["Follower"]

_ATTEMPTS = 20  # refresh retries when the writer changes files under us


class _Restart(Exception):
    """The directory moved on while we read it: start over from the newest manifest."""


class _Moved(_Restart):
    """The namespace directory was replaced (dropped and created again, or imported)."""


@dataclass(frozen=True)
class _Snapshot:
    view: View
    stats: tuple[RowStats, ...]  # aligned with view.sources()


class Follower:
    """Thread-safe: reads run on snapshots; ``refresh`` serialises on a lock."""

    def __init__(
        self,
        path: Path,
        *,
        dimension: int | None,
        metric: Metric,
        options: EngineOptions | None = None,
    ) -> None:
        self._layout = Layout(path)
        self._dimension = dimension
        self._metric: Metric = metric
        self._options = options or EngineOptions()
        self._lock = threading.Lock()
        self._start_over(forget_segments=True)
        self._snap = _Snapshot(View(0, self._mem.snapshot(), (), ()), (self._stats.snapshot(0),))
        self.refresh()

    def _start_over(self, *, forget_segments: bool) -> None:
        if forget_segments:  # another directory now: same segment names, other data
            self._cores: dict[str, SegmentCore] = {}
            self._core_stats: dict[str, RowStats] = {}
        self._ino: tuple[int, str | None] | None = None  # _identity() of the directory
        self._manifest_key: object = None
        self._segments: list[Segment] = []
        self._owned: set[int] = set()  # segments whose live flags were copied this round
        self._mem = Memtable(self._dimension)
        self._stats = GrowingStats()
        self._lsn = 0
        self._wal_pos: dict[str, int] = {}

    @property
    def lsn(self) -> int:
        return self._snap.view.lsn

    # -- following the writer ---------------------------------------------------

    def refresh(self) -> bool:
        """Apply what the writer published since the last call; True if anything new."""
        with self._lock:
            for _ in range(_ATTEMPTS):
                try:
                    return self._refresh()
                except (_Restart, FileNotFoundError) as exc:
                    if not self._layout.root.is_dir():
                        raise NotFound(f"namespace directory {self._layout.root} is gone") from None
                    self._start_over(forget_segments=isinstance(exc, _Moved))
            raise Unavailable(f"{self._layout.root}: the writer kept changing it; try again")

    def catch_up(self, lsn: int, timeout: float = 10.0) -> int:
        """Refresh until at least ``lsn`` is applied (read-your-writes); returns the LSN."""
        self._check_identity()
        deadline = time.monotonic() + timeout
        while self.lsn < lsn:
            if not self.refresh():
                if time.monotonic() > deadline:
                    raise Unavailable(f"replica is at LSN {self.lsn}, the read needs {lsn}")
                time.sleep(0.002)
        return self.lsn

    def _identity(self) -> tuple[int, str | None]:
        """The directory's inode and the namespace's incarnation (nsfile.py): a directory
        created again may get the inode number of the one it replaces."""
        ino = os.stat(self._layout.root).st_ino
        return ino, read_incarnation(self._layout.root)

    def _check_identity(self) -> None:
        """A namespace dropped and created again starts at LSN 0: notice the new directory."""
        try:
            ino = self._identity()
        except FileNotFoundError:
            raise NotFound(f"namespace directory {self._layout.root} is gone") from None
        if ino != self._ino:
            with self._lock:
                self._start_over(forget_segments=True)
            self.refresh()

    def _refresh(self) -> bool:
        ino = self._identity()
        if self._ino is not None and ino != self._ino:
            raise _Moved
        self._ino = ino
        manifest = read_manifest(self._layout.manifest) or Manifest(
            dimension=self._dimension, metric=self._metric
        )
        if manifest.dimension != self._dimension or manifest.metric != self._metric:
            raise InvalidArgument(f"{self._layout.root} holds a different index")
        key = (manifest.flushed_lsn, tuple((e.name, e.deletes) for e in manifest.segments))
        changed = key != self._manifest_key
        if changed:
            self._load(manifest)
            self._manifest_key = key
        applied = self._tail()
        if changed or applied:
            self._publish()
        return changed or applied

    def _load(self, manifest: Manifest) -> None:
        """Take the manifest's segments (reusing loaded ones); replay the WAL from scratch."""
        cores: dict[str, SegmentCore] = {}
        for entry in manifest.segments:
            core = self._cores.get(entry.name)
            if core is None or core.entry.records_crc32 != entry.records_crc32:
                core = SegmentCore(
                    self._layout.segments / entry.name,
                    entry,
                    self._dimension,
                    self._metric,
                    self._options.hnsw,
                )
                core.load_deletes(manifest.flushed_lsn)
            elif core.entry.deletes != entry.deletes:
                core.entry = entry  # deletions only ever grow, so re-marking is enough
                core.load_deletes(manifest.flushed_lsn)
            cores[entry.name] = core
        self._core_stats = {
            name: stats
            if self._cores.get(name) is core and (stats := self._core_stats.get(name))
            else segment_stats(core, self._dimension)
            for name, core in cores.items()
        }
        self._cores = cores
        self._segments = [Segment.fresh(cores[e.name]) for e in manifest.segments]
        self._owned = set()
        self._mem = Memtable(self._dimension)
        self._stats = GrowingStats()
        self._lsn = manifest.flushed_lsn
        self._wal_pos = {}

    def _tail(self) -> bool:
        applied = False
        files = wal_files(self._layout)
        names = {p.name for p in files}
        self._wal_pos = {k: v for k, v in self._wal_pos.items() if k in names}
        for path in files:
            pos = self._wal_pos.get(path.name, 0)
            with open(path, "rb") as f:
                f.seek(pos)
                data = f.read()
            start = 0
            if pos == 0:
                if len(data) < len(HEADER):
                    break  # being created; the writer appends nothing after it yet
                if data[: len(HEADER)] != HEADER:
                    raise Corruption(f"{path}: not a Spruce WAL file of a known version")
                start = len(HEADER)
            payloads, end = scan_frames(data, start, str(path))
            self._wal_pos[path.name] = pos + end
            for payload in payloads:
                op = decode_op(payload)
                if op.lsn <= self._lsn:
                    continue  # already in the segments (or applied)
                if op.lsn != self._lsn + 1:
                    raise _Restart  # files we needed were removed by a flush
                self._apply(op)
                self._lsn = op.lsn
                applied = True
        return applied

    def _publish(self) -> None:
        view = View(self._lsn, self._mem.snapshot(), (), tuple(self._segments))
        stats = (
            self._stats.snapshot(self._mem.size),
            *(self._core_stats[s.name] for s in self._segments),
        )
        self._snap = _Snapshot(view, stats)
        self._owned = set()

    # -- replay (the writer's semantics, docs/FORMAT.md 3.3) ----------------------

    def _apply(self, op: Op) -> None:
        if isinstance(op, UpsertOp):
            n, dim = len(op.ids), self._dimension
            vectors = None
            if op.vectors is not None:
                if dim is None or len(op.vectors) != 4 * n * dim:
                    raise Corruption(f"LSN {op.lsn}: vector bytes do not match the dimension")
                vectors = np.frombuffer(op.vectors, dtype="<f4").reshape(n, dim)
            for i, id in enumerate(op.ids):
                if id not in self._mem:
                    self._kill_in_segments(id)
                row = None if vectors is None else vectors[i]
                self._put(id, row, sparse_from_wire(op.sparse[i]), op.metadata[i])
        elif isinstance(op, UpdateOp):
            self._update(op.id, op.values, op.sparse is not None, op.sparse, op.set_metadata)
        elif isinstance(op, UpdateWhereOp):
            for id in op.ids:
                self._update(id, None, False, None, op.set_metadata)
        elif isinstance(op, DeleteOp):
            for id in op.ids:
                if not self._mem.delete(id):
                    self._kill_in_segments(id)
        else:
            self._mem.kill_all()
            self._segments = [s.with_live(np.zeros(s.size, dtype=np.bool_)) for s in self._segments]
            self._owned = set(range(len(self._segments)))

    def _put(
        self,
        id: str,
        values: npt.NDArray[np.float32] | None,
        sparse: SparseVector | None,
        metadata: Metadata | None,
    ) -> None:
        self._mem.put(id, values, sparse, metadata)
        self._stats.append(
            id, self._dimension, 0 if sparse is None else len(sparse.indices), metadata
        )

    def _update(
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
        index, row = found
        src: Memtable | Segment = self._mem if index < 0 else self._segments[index]
        new_values = src.values_at(row)
        if values is not None:
            new_values = np.frombuffer(values, dtype="<f4").astype(np.float32)
        new_sparse = sparse_from_wire(sparse) if replace_sparse else src.sparse_at(row)
        metadata = src.metadata_at(row) or {}
        if set_metadata:
            metadata.update(set_metadata)
        if index >= 0:
            self._kill_segment_row(index, row)
        self._put(id, new_values, new_sparse, metadata)

    def _find(self, id: str) -> tuple[int, int] | None:
        """(segment index or -1 for the memtable, row) where ``id`` is live."""
        row = self._mem.row_of(id)
        if row is not None:
            return -1, row
        for index, segment in enumerate(self._segments):
            row = segment.row_of(id)
            if row is not None:
                return index, row
        return None

    def _kill_in_segments(self, id: str) -> None:
        for index, segment in enumerate(self._segments):
            row = segment.row_of(id)
            if row is not None:
                self._kill_segment_row(index, row)
                return

    def _kill_segment_row(self, index: int, row: int) -> None:
        if index not in self._owned:  # published snapshots keep the old flags
            segment = self._segments[index]
            self._segments[index] = segment.with_live(segment.live.copy())
            self._owned.add(index)
        self._segments[index].live[row] = False

    # -- reads --------------------------------------------------------------------

    def query(
        self,
        vector: Vector | None,
        *,
        top_k: int,
        filter: Filter | None = None,
        sparse: SparseVector | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        partition: Partition | None = None,
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
        snap = self._snap
        sources = snap.view.sources()
        tuning = self._options.search
        per_source = [
            source_candidates(src, _allowed(src, stats, filter, partition), spec, tuning)
            for src, stats in zip(sources, snap.stats, strict=True)
        ]
        matches = []
        for c in merge_top_k(sources, per_source, spec):
            r = _record(sources[c.source], c.row, include_values, include_metadata)
            matches.append(Match(c.id, c.score, r.values, r.sparse, r.metadata))
        return matches

    def fetch(self, ids: Sequence[str], partition: Partition | None = None) -> dict[str, Record]:
        view = self._snap.view
        out: dict[str, Record] = {}
        for id in ids:
            if partition is not None and not partition.owns(id):
                continue
            loc = view.locate(id)
            if loc is not None:
                out[id] = _record(loc[0], loc[1], True, True)
        return out

    def list_ids(
        self,
        *,
        prefix: str = "",
        limit: int = 100,
        after: str | None = None,
        partition: Partition | None = None,
    ) -> list[str]:
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        view = self._snap.view
        if partition is None:
            return view.list_ids(prefix, limit, after)
        out: list[str] = []
        step = max(limit * partition.shards, 64)
        while len(out) < limit:
            page = view.list_ids(prefix, step, after)
            out.extend(i for i in page if partition.owns(i))
            if len(page) < step:
                break
            after = page[-1]
        return out[:limit]

    def count(self, filter: Filter | None = None, partition: Partition | None = None) -> int:
        snap = self._snap
        return sum(
            int(np.count_nonzero(_allowed(src, stats, filter, partition)))
            for src, stats in zip(snap.view.sources(), snap.stats, strict=True)
        )

    def matching(self, filter: Filter) -> list[str]:
        """Ids of the live records ``filter`` matches."""
        snap = self._snap
        return [
            src.id_at(int(row))
            for src, stats in zip(snap.view.sources(), snap.stats, strict=True)
            for row in np.flatnonzero(_allowed(src, stats, filter, None))
        ]

    def usage(self, shards: int) -> list[ShardUsage]:
        """Records and bytes each of ``shards`` shards would hold, as of the snapshot."""
        snap = self._snap
        return shard_usage(
            ((src.live, stats) for src, stats in zip(snap.view.sources(), snap.stats, strict=True)),
            shards,
        )


def _allowed(
    src: Source, stats: RowStats, filter: Filter | None, partition: Partition | None
) -> npt.NDArray[np.bool_]:
    allowed = src.live if filter is None else src.live & src.filter_mask(filter)
    if partition is not None:
        allowed = allowed & stats.mask(partition)
    return allowed


def _record(src: Source | MemView, row: int, values: bool, metadata: bool) -> Record:
    return Record(
        id=src.id_at(row),
        values=src.values_at(row) if values else None,
        sparse=copy_sparse(src.sparse_at(row)) if values else None,
        metadata=src.metadata_at(row) if metadata else None,
    )
