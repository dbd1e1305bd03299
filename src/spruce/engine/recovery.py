"""Opening a namespace directory: manifest -> segments -> WAL ops to replay.

Also removes what an interrupted flush left behind (files the manifest does not name,
WAL files wholly covered by the manifest), so a crash at any point converges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spruce.engine.fsutil import fsync_dir, remove_tree
from spruce.engine.manifest import MANIFEST, Manifest, read_manifest, write_manifest
from spruce.engine.ops import Op, decode_op
from spruce.engine.options import EngineOptions
from spruce.engine.segment import SegmentCore
from spruce.engine.wal import WalWriter, read_wal, wal_file_name
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


def _load_manifest(layout: Layout, dimension: int | None, metric: str) -> Manifest:
    manifest = read_manifest(layout.manifest)
    if manifest is None:
        if wal_files(layout):
            raise Corruption(f"{layout.root}: WAL present but manifest missing")
        manifest = Manifest(dimension=dimension, metric=metric)
        write_manifest(layout.manifest, manifest)
    if manifest.dimension != dimension or manifest.metric != metric:
        raise InvalidArgument(
            f"{layout.root} holds a {manifest.metric} index of dimension {manifest.dimension}, "
            f"opened as {metric} with dimension {dimension}"
        )
    return manifest


def _remove_garbage(layout: Layout, manifest: Manifest) -> None:
    by_name = {e.name: e for e in manifest.segments}
    for path in layout.segments.iterdir():
        entry = by_name.get(path.name)
        if entry is None:
            remove_tree(path)  # an unpublished or dropped segment
            continue
        for file in path.iterdir():
            if file.name.startswith("deletes-") and file.name != entry.deletes:
                file.unlink()
            elif file.name.startswith("."):
                remove_tree(file)
    for path in layout.manifest.iterdir():
        if path.name != MANIFEST:
            remove_tree(path)


def recover(
    layout: Layout, dimension: int | None, metric: str, options: EngineOptions
) -> Recovered:
    layout.ensure()
    manifest = _load_manifest(layout, dimension, metric)
    _remove_garbage(layout, manifest)
    segments = []
    for entry in manifest.segments:
        core = SegmentCore(layout.segments / entry.name, entry, dimension, metric, options.hnsw)
        core.load_deletes(manifest.flushed_lsn)
        segments.append(core)

    flushed = manifest.flushed_lsn
    ops: list[Op] = []
    files = wal_files(layout)
    last_lsn = 0
    valid_end = 0
    for i, path in enumerate(files):
        payloads, valid_end = read_wal(path)
        is_last = i == len(files) - 1
        if not is_last and valid_end != path.stat().st_size:
            raise Corruption(f"{path}: damaged WAL file before the last one")
        file_ops = [decode_op(p) for p in payloads]
        for op in file_ops:
            if op.lsn <= last_lsn:
                raise Corruption(f"{path}: LSN {op.lsn} after {last_lsn}")
            last_lsn = op.lsn
            if op.lsn > flushed:
                expected = ops[-1].lsn + 1 if ops else flushed + 1
                if op.lsn != expected:
                    raise Corruption(f"{path}: LSN {op.lsn} where {expected} was expected")
                ops.append(op)
        if not is_last and all(op.lsn <= flushed for op in file_ops):
            path.unlink()  # a flush published its manifest but crashed before this cleanup
    if files:
        wal = WalWriter.resume(files[-1], valid_end)
    else:
        wal = WalWriter.create(layout.wal / wal_file_name(flushed + 1))
    return Recovered(flushed, segments, wal, ops)
