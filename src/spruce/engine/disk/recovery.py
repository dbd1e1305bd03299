"""Opening a namespace directory: manifest -> segments -> WAL ops to replay.

Also removes what an interrupted flush or compaction provably left behind, and moves
anything else the manifest does not name to ``quarantine/`` (leftovers.py), so a crash
at any point converges without ever deleting data that might be the only copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spruce.engine.disk import leftovers
from spruce.engine.disk.fsutil import fsync_dir
from spruce.engine.disk.manifest import Manifest, read_manifest, write_manifest
from spruce.engine.disk.segment import SegmentCore
from spruce.engine.options import EngineOptions
from spruce.engine.write.ops import Op, decode_op
from spruce.engine.write.wal import WalWriter, read_wal, wal_file_name
from spruce.errors import Corruption, InvalidArgument

__all__ = ["Layout", "Recovered", "recover", "wal_files"]


@dataclass(frozen=True)
class Layout:
    """Paths inside one namespace directory."""

    root: Path

    @property
    def wal(self) -> Path:
        return self.root / "wal"

    @property
    def segments(self) -> Path:
        return self.root / "segments"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest"

    def ensure(self) -> None:
        """Create missing directories, fsync'ing each parent that gained an entry."""
        created = False
        if not self.root.is_dir():
            self.root.mkdir(parents=True)
            fsync_dir(self.root.parent)
        for sub in (self.wal, self.segments, self.manifest):
            if not sub.is_dir():
                sub.mkdir()
                created = True
        if created:
            fsync_dir(self.root)


@dataclass
class Recovered:
    flushed_lsn: int
    segments: list[SegmentCore]
    wal: WalWriter
    ops: list[Op] = field(default_factory=list)


def wal_files(layout: Layout) -> list[Path]:
    return sorted(
        p for p in layout.wal.iterdir() if p.suffix == ".wal" and not p.name.startswith(".")
    )


def _load_manifest(layout: Layout, dimension: int | None, metric: str) -> tuple[Manifest, bool]:
    """The manifest, and whether it was just created (a namespace never opened before)."""
    manifest = read_manifest(layout.manifest)
    created = manifest is None
    if manifest is None:
        if wal_files(layout):
            raise Corruption(f"{layout.root}: WAL present but manifest missing")
        if any(not p.name.startswith(".") for p in layout.segments.iterdir()):
            raise Corruption(f"{layout.root}: segments present but manifest missing")
        manifest = Manifest(dimension=dimension, metric=metric)
        write_manifest(layout.manifest, manifest)
    if manifest.dimension != dimension or manifest.metric != metric:
        raise InvalidArgument(
            f"the namespace holds a {manifest.metric} index of dimension "
            f"{manifest.dimension}, opened as {metric} with dimension {dimension}"
        )
    return manifest, created


@dataclass
class _Log:
    ops: list[Op]
    last_lsn: int  # the last LSN the WAL holds, or the flushed LSN
    valid_end: int  # valid length of the last file
    covered: list[Path]  # files before the last whose ops are all flushed


def _read_log(files: list[Path], flushed: int) -> _Log:
    """Every op above ``flushed``, checked to be gap-free from ``flushed + 1`` on.

    Each file is named by the first LSN it may hold and a new file is started at the
    current LSN + 1, so a file named above the LSN reached so far means files (or ops)
    are missing: acknowledged writes would be lost silently, so it is ``Corruption``.
    """
    ops: list[Op] = []
    covered: list[Path] = []
    last_lsn = flushed
    valid_end = 0
    for i, path in enumerate(files):
        first = int(path.stem)
        if first > last_lsn + 1:
            raise Corruption(
                f"{path}: WAL gap: LSNs {last_lsn + 1} to {first - 1} are missing "
                f"(manifest flushed LSN {flushed})"
            )
        payloads, valid_end = read_wal(path)
        is_last = i == len(files) - 1
        if not is_last and valid_end != path.stat().st_size:
            raise Corruption(f"{path}: damaged WAL file before the last one")
        file_ops = [decode_op(p) for p in payloads]
        previous = 0
        for op in file_ops:
            if op.lsn <= previous or op.lsn < first:
                raise Corruption(f"{path}: LSN {op.lsn} out of order in the file")
            previous = op.lsn
            if op.lsn > flushed:
                if op.lsn != last_lsn + 1:
                    raise Corruption(f"{path}: LSN {op.lsn} where {last_lsn + 1} was expected")
                ops.append(op)
                last_lsn = op.lsn
        if not is_last and all(op.lsn <= flushed for op in file_ops):
            covered.append(path)  # a flush published its manifest but crashed before cleanup
    return _Log(ops, last_lsn, valid_end, covered)


def recover(
    layout: Layout, dimension: int | None, metric: str, options: EngineOptions
) -> Recovered:
    layout.ensure()
    manifest, created = _load_manifest(layout, dimension, metric)
    flushed = manifest.flushed_lsn
    files = wal_files(layout)
    if not files and not created:
        # Every namespace has a WAL file from its creation on: none means deleted files,
        # and with them possibly acknowledged writes.
        raise Corruption(f"{layout.wal}: no WAL file (manifest flushed LSN {flushed})")
    # Everything is checked before anything is changed: a namespace found damaged is
    # left exactly as it was found, for an operator to look at.
    log = _read_log(files, flushed)
    plan = leftovers.classify(layout.root, manifest, log.last_lsn)
    leftovers.apply(layout.root, plan)
    for path in log.covered:
        path.unlink()
    segments = []
    for entry in manifest.segments:
        try:
            core = SegmentCore(layout.segments / entry.name, entry, dimension, metric, options.hnsw)
            core.load_deletes(manifest.flushed_lsn)
        except FileNotFoundError as exc:
            raise Corruption(f"{exc.filename}: named by the manifest but missing") from exc
        segments.append(core)
    if files:
        wal = WalWriter.resume(files[-1], log.valid_end)
    else:
        wal = WalWriter.create(layout.wal / wal_file_name(flushed + 1))
    return Recovered(flushed, segments, wal, log.ops)
