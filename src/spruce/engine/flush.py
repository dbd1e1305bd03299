"""Flush: turn the memtable and changed deletion bitmaps into a new published manifest.

Order matters for crash safety: (1) write and fsync the new segment, deletion bitmaps
and an empty next WAL file; (2) publish the manifest (atomic replace) - the commit
point; (3) the caller swaps its in-memory state; (4) remove files that the manifest no
longer names. A crash before (2) leaves unnamed files that the next open removes; a
crash after it leaves old WAL files whose ops the manifest already covers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from spruce.engine.fsutil import fsync_dir, remove_tree
from spruce.engine.manifest import Manifest
from spruce.engine.memtable import Memtable
from spruce.engine.recovery import Layout, wal_files
from spruce.engine.segment import Segment, SegmentEntry, write_segment
from spruce.engine.wal import WalWriter, wal_file_name

__all__ = ["Flushed", "collect_garbage", "prepare_flush"]


@dataclass
class Flushed:
    """What a published flush changed, for the caller to apply in memory."""

    kept: list[Segment]
    new_entries: dict[int, SegmentEntry]  # index into kept -> entry with its new bitmap
    added: Segment | None
    wal: WalWriter
    manifest: Manifest
    garbage: list[Path] = field(default_factory=list)


def prepare_flush(
    layout: Layout,
    lsn: int,
    memtable: Memtable,
    segments: list[Segment],
    dimension: int | None,
    metric: str,
) -> Flushed:
    """Step (1), and the manifest to publish; on failure removes what it wrote."""
    name = f"{lsn:020d}"
    created: list[Path] = []
    try:
        added = None
        rows = memtable.live_rows()
        if rows.size:
            directory = layout.segments / name
            remove_tree(directory)  # left by an earlier failed attempt at this LSN
            created.append(directory)
            vectors = memtable.vectors()
            metadatas = memtable.metadatas()
            entry = write_segment(
                directory,
                name,
                [memtable.id_at(int(r)) for r in rows],
                None if vectors is None else np.ascontiguousarray(vectors[rows]),
                [memtable.sparse_at(int(r)) for r in rows],
                [metadatas[int(r)] for r in rows],
            )
            fsync_dir(layout.segments)
            added = Segment(directory, entry, dimension)
        kept: list[Segment] = []
        new_entries: dict[int, SegmentEntry] = {}
        garbage: list[Path] = []
        for segment in segments:
            if not segment.live.any():
                garbage.append(segment.directory)  # nothing left to read in it
                continue
            if segment.dirty:
                deletes, crc = segment.write_deletes(f"deletes-{name}.roaring")
                created.append(segment.directory / deletes)
                if segment.entry.deletes is not None:
                    garbage.append(segment.directory / segment.entry.deletes)
                new_entries[len(kept)] = msgspec.structs.replace(
                    segment.entry, deletes=deletes, deletes_crc32=crc
                )
            kept.append(segment)
        wal_path = layout.wal / wal_file_name(lsn + 1)
        created.append(wal_path)
        wal = WalWriter.create(wal_path)
        garbage.extend(p for p in wal_files(layout) if p != wal_path)
        entries = [new_entries.get(i, s.entry) for i, s in enumerate(kept)]
        if added is not None:
            entries.append(added.entry)
        manifest = Manifest(dimension=dimension, metric=metric, flushed_lsn=lsn, segments=entries)
    except BaseException:
        for path in created:
            remove_tree(path)
        raise
    return Flushed(kept, new_entries, added, wal, manifest, garbage)


def collect_garbage(layout: Layout, paths: list[Path]) -> None:
    """Step (4); best effort, since the next open removes anything left."""
    try:
        for path in paths:
            remove_tree(path)
        for directory in (layout.wal, layout.segments):
            fsync_dir(directory)
    except OSError:
        pass
