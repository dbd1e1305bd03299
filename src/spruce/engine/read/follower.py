"""A read-only follower of one namespace directory: what a dedicated read replica serves.

The writer (``namespace.py``) owns the directory. A follower never writes to it: it
reads the published manifest and its segments, then tails the WAL files and replays
the operations after the manifest's ``flushed_lsn`` into a working state of its own,
with the writer's own ``WorkingState.apply`` (state.py, docs/FORMAT.md 3.3). ``refresh``
picks up what the writer did since: new WAL frames are applied incrementally; a new
manifest (a flush or a compaction) reloads the segment list, reusing the segments it
already has, and replays the WAL tail after the new ``flushed_lsn``.

The writer deletes files a new manifest no longer names, so a refresh can find a file
gone or an LSN gap between what it read and what is left; it then starts over from
the newest manifest. A torn frame at the end of the last WAL file is an append in
progress: it is read on a later refresh. ``catch_up(lsn)`` gives read-your-writes:
the writer's LSN at the time of a read is passed along and the follower refreshes
until it has applied at least that much.

Reads are the writer's too (``reads.py``), on an immutable snapshot, optionally
restricted to one shard (``partition.py``).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from spruce.engine.disk.manifest import Manifest, read_manifest
from spruce.engine.disk.nsfile import read_incarnation
from spruce.engine.disk.recovery import Layout, wal_files
from spruce.engine.disk.segment import Segment, SegmentCore
from spruce.engine.options import EngineOptions
from spruce.engine.read.partition import GrowingStats, RowStats, segment_stats
from spruce.engine.read.reads import Snapshot, SnapshotReader
from spruce.engine.read.search import Metric
from spruce.engine.read.view import View
from spruce.engine.write.ops import decode_op
from spruce.engine.write.state import WorkingState
from spruce.engine.write.wal import HEADER, scan_frames
from spruce.errors import Corruption, InvalidArgument, NotFound, Unavailable

__all__ = ["Follower"]

_ATTEMPTS = 20  # refresh retries when the writer changes files under us


class _Restart(Exception):
    """The directory moved on while we read it: start over from the newest manifest."""


class _Moved(_Restart):
    """The namespace directory was replaced (dropped and created again, or imported)."""


class Follower(SnapshotReader):
    """Thread-safe: reads run on snapshots; ``refresh`` serialises on a lock."""

    def __init__(
        self,
        path: Path,
        *,
        dimension: int | None,
        metric: Metric,
        options: EngineOptions | None = None,
    ) -> None:
        super().__init__(dimension, metric, options or EngineOptions())
        self._layout = Layout(path)
        self._lock = threading.Lock()
        self._start_over(forget_segments=True)
        self._snap = Snapshot(
            View(0, self._state.mem.snapshot(), (), ()), (self._stats.snapshot(0),)
        )
        self.refresh()

    def _start_over(self, *, forget_segments: bool) -> None:
        if forget_segments:  # another directory now: same segment names, other data
            self._cores: dict[str, SegmentCore] = {}
            self._core_stats: dict[str, RowStats] = {}
        self._ino: tuple[int, str | None] | None = None  # _identity() of the directory
        self._manifest_key: object = None
        self._state = WorkingState(self._dimension, record_deaths=False)
        self._stats = GrowingStats()  # of the memtable's rows, caught up at each publish
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
        self._state = WorkingState(self._dimension, record_deaths=False)
        self._state.segments = [Segment.fresh(cores[e.name]) for e in manifest.segments]
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
                self._state.apply(op)
                self._lsn = op.lsn
                applied = True
        return applied

    def _publish(self) -> None:
        view = self._state.view(self._lsn)
        mem = view.memtable
        for row in range(self._stats.size, mem.size):  # rows appended since the last one
            sparse = mem.sparse_at(row)
            nnz = 0 if sparse is None else len(sparse.indices)
            self._stats.append(mem.id_at(row), self._dimension, nnz, mem.metadata_at(row))
        stats = (
            self._stats.snapshot(mem.size),
            *(self._core_stats[s.name] for s in view.segments),
        )
        self._snap = Snapshot(view, stats)

    def _read_snapshot(self) -> Snapshot:
        return self._snap
