"""Flush: turn a frozen memtable into a segment, ready for the namespace to publish.

Order matters for crash safety: (1) write and fsync the new segment (and, while
publishing, the changed deletion bitmaps); (2) publish the manifest (atomic replace) -
the commit point; (3) the namespace swaps its in-memory state; (4) remove files that
the manifest no longer names. A crash before (2) leaves unnamed files that the next open
removes; a crash after it leaves old WAL files whose ops the manifest already covers.

Building runs without the namespace's lock: the frozen memtable is immutable, and rows
deleted after the flush LSN are told apart by their ``dead_lsn`` (namespace.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spruce import observe
from spruce.engine.disk.fsutil import fsync_dir, remove_tree
from spruce.engine.disk.recovery import Layout
from spruce.engine.disk.segment import SegmentCore, open_written, records_table
from spruce.engine.options import EngineOptions
from spruce.engine.read.ann import HnswIndex
from spruce.engine.read.metaindex import MetaIndex
from spruce.engine.write.memtable import MemView

__all__ = ["Built", "build_flush_segment", "collect_garbage", "segment_name"]


def segment_name(lsn: int) -> str:
    return f"{lsn:020d}"


@dataclass
class Built:
    """A written, unpublished segment and the source rows it holds."""

    core: SegmentCore
    rows: npt.NDArray[np.intp]  # row numbers in the source, one per segment row


def build_flush_segment(
    layout: Layout,
    lsn: int,
    frozen: MemView,
    dimension: int | None,
    metric: str,
    options: EngineOptions,
) -> Built | None:
    """Write the rows of ``frozen`` live as of ``lsn``; None if there are none."""
    assert frozen.dead_lsn is not None
    rows = np.flatnonzero((frozen.dead_lsn == 0) | (frozen.dead_lsn > lsn))
    if rows.size == 0:
        return None
    started = time.perf_counter()
    name = segment_name(lsn)
    directory = layout.segments / name
    remove_tree(directory)  # left by an earlier failed attempt at this LSN
    try:
        row_list = rows.tolist()
        metadatas = frozen.metadatas()
        table = records_table(
            [frozen.id_at(r) for r in row_list],
            [frozen.sparse_at(r) for r in row_list],
            [metadatas[r] for r in row_list],
        )
        source = frozen.vectors()
        vectors = None if source is None else np.ascontiguousarray(source[rows])
        ann = None
        if vectors is not None and rows.size >= options.hnsw_min_rows:
            ann = HnswIndex.build(vectors, metric, options.hnsw)
        metaindex = MetaIndex.build([metadatas[r] for r in row_list])
        core = open_written(
            directory, name, table, vectors, ann, metaindex, dimension, metric, options.hnsw
        )
    except BaseException:
        remove_tree(directory)
        raise
    observe.record("flush", time.perf_counter() - started, int(rows.size))
    return Built(core, rows)


def collect_garbage(layout: Layout, paths: list[Path]) -> None:
    """Step (4); best effort, since the next open removes anything left."""
    try:
        for path in paths:
            remove_tree(path)
        for directory in (layout.wal, layout.segments):
            fsync_dir(directory)
    except OSError:
        pass
