"""Compaction: merge segments, drop deleted rows, build or extend HNSW indexes.

Policy (``plan``), run in the background after flushes:
- un-indexed (small) segments are merged once there are ``small_merge_count`` of them
  or they hold ``hnsw_min_rows`` rows (the result gets an HNSW index if it is that big);
- the largest indexed segment absorbs the small ones once they hold
  ``absorb_fraction`` of its rows: its graph is copied and extended with their vectors,
  so each vector is inserted into a graph about once instead of once per merge level;
- an indexed segment with more than ``max_dead_fraction`` of its rows deleted is
  rebuilt from its live rows (with the small ones, if any).

``build`` writes the merged segment without any lock; the namespace publishes it. Rows
deleted after the namespace's flushed LSN ``P`` at the start are kept (as dead rows)
so the new segment is exactly what the manifest at ``P`` described; the base of an
extension keeps all its rows, since a graph cannot drop nodes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from spruce import observe
from spruce.engine.disk.fsutil import remove_tree
from spruce.engine.disk.recovery import Layout
from spruce.engine.disk.segment import SegmentCore, open_written
from spruce.engine.options import EngineOptions
from spruce.engine.read.ann import BuildCancelled, HnswIndex
from spruce.engine.read.metaindex import MetaIndex

__all__ = ["Merged", "Plan", "build", "plan", "urgent"]


@dataclass(frozen=True)
class Plan:
    inputs: tuple[SegmentCore, ...]
    base: SegmentCore | None  # extend this segment's graph (it is inputs[0])


@dataclass
class Merged:
    core: SegmentCore
    # For each input, the rows it contributes, in output order.
    taken: list[npt.NDArray[np.intp]]


def _dead_fraction(core: SegmentCore) -> float:
    # As published: rows deleted since are still in the WAL and may not be droppable yet.
    return core.persisted_dead / max(core.size, 1)


def plan(
    cores: Sequence[SegmentCore], options: EngineOptions, *, full: bool = False
) -> Plan | None:
    """What to merge next, or None. ``full`` merges everything into one segment."""
    if full:
        if len(cores) > 1:
            return _with_base(list(cores), options)
        if cores and (
            _dead_fraction(cores[0]) > options.max_dead_fraction
            or (cores[0].ann is None and cores[0].size >= options.hnsw_min_rows)
        ):
            return Plan((cores[0],), None)  # drops deleted rows, builds a missing index
        return None
    indexed = sorted((c for c in cores if c.ann is not None), key=lambda c: -c.size)
    small = [c for c in cores if c.ann is None]
    small_rows = sum(c.size for c in small)
    for core in indexed:
        if _dead_fraction(core) > options.max_dead_fraction:
            return Plan((core, *small), None)
    big = indexed[0] if indexed else None
    if small_rows >= options.hnsw_min_rows:
        # Enough un-indexed rows to be worth a graph: into the big one, or a new one.
        if big is not None and small_rows >= options.absorb_fraction * big.size:
            return Plan((big, *small), big)
        return Plan(tuple(small), None)
    if len(small) >= options.small_merge_count:
        return Plan(tuple(small), None)
    if big is not None and len(indexed) > 1:
        rest = sum(c.size for c in indexed[1:])
        if rest >= options.absorb_fraction * big.size:
            return Plan(tuple(indexed), big)
    return None


def urgent(the_plan: Plan, options: EngineOptions) -> bool:
    """The plan puts into a graph rows that queries now scan exactly: it runs at normal
    priority (``workers``). Merges of small segments into a small one, and rebuilds of
    indexed segments for their deleted rows, stay at nice 10."""
    exact = sum(c.size for c in the_plan.inputs if c.ann is None)
    graph = (
        the_plan.base is not None or sum(c.size for c in the_plan.inputs) >= options.hnsw_min_rows
    )
    return exact > 0 and graph


def _with_base(cores: list[SegmentCore], options: EngineOptions) -> Plan:
    indexed = [
        c for c in cores if c.ann is not None and _dead_fraction(c) <= options.max_dead_fraction
    ]
    if indexed:
        base = max(indexed, key=lambda c: c.size)
        return Plan((base, *[c for c in cores if c is not base]), base)
    return Plan(tuple(cores), None)


def build(
    layout: Layout,
    the_plan: Plan,
    flushed_lsn: int,
    dimension: int | None,
    metric: str,
    options: EngineOptions,
    stop: Callable[[], bool],
    threads: Callable[[], int] | None = None,
) -> Merged | None:
    """Write the merged segment; None if ``stop()`` turned true or nothing is left."""
    taken: list[npt.NDArray[np.intp]] = []
    for core in the_plan.inputs:
        if core is the_plan.base:
            taken.append(np.arange(core.size, dtype=np.intp))
        else:
            taken.append(np.flatnonzero(~core.dead_as_of(flushed_lsn)))
    total = sum(t.size for t in taken)
    if total == 0:
        return None
    started = time.perf_counter()
    name = f"{flushed_lsn:020d}-c{uuid.uuid4().hex[:8]}"
    directory = layout.segments / name
    try:
        table = pa.concat_tables(
            [
                core.table.take(pa.array(rows))
                for core, rows in zip(the_plan.inputs, taken, strict=True)
            ]
        ).combine_chunks()
        vectors = None
        if dimension is not None:
            parts = []
            for core, rows in zip(the_plan.inputs, taken, strict=True):
                assert core.vectors is not None
                parts.append(np.asarray(core.vectors[rows], dtype=np.float32))
            vectors = np.concatenate(parts)
        ann = None
        if vectors is not None and (total >= options.hnsw_min_rows or the_plan.base is not None):
            base = None if the_plan.base is None else the_plan.base.ann
            try:
                ann = HnswIndex.build(
                    vectors, metric, options.hnsw, base=base, stop=stop, threads=threads
                )
            except BuildCancelled:
                return None
        if stop():
            return None
        remaps = []
        offset = 0
        for core, rows in zip(the_plan.inputs, taken, strict=True):
            remap = np.full(core.size, -1, dtype=np.int64)
            remap[rows] = np.arange(offset, offset + rows.size)
            offset += rows.size
            remaps.append((core.metaindex, remap))
        metaindex = MetaIndex.merge(total, remaps)
        core = open_written(
            directory,
            name,
            table,
            vectors,
            ann,
            metaindex,
            dimension,
            metric,
            options.hnsw,
            sources=[c.name for c in the_plan.inputs],
        )
    except BaseException:
        remove_tree(directory)
        raise
    observe.record("compaction", time.perf_counter() - started, total)
    return Merged(core, taken)
