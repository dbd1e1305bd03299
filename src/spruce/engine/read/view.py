"""Immutable snapshots of a namespace that reads run on, without any lock.

The writer publishes a new ``View`` after every operation (read-copy-update): the
memtable as a ``MemView``, the frozen memtables being flushed, and the segments with
their live flags as of that operation. Readers take ``namespace._view`` once and use
only that, so a query never sees half a batch however long it runs, and writes,
flushes and compactions go on meanwhile.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from spruce.engine.disk.segment import Segment
from spruce.engine.read.filters import Filter
from spruce.engine.write.memtable import MemView

__all__ = ["Shape", "Source", "View"]

Source = MemView | Segment


class _SortedIds:
    """A segment's ids in sorted order, as a sequence ``bisect`` can search."""

    def __init__(self, segment: Segment) -> None:
        self._ids = segment.core.ids
        self.order = segment.core.sorted_rows()

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> str:
        return self._ids[int(self.order[i])]


@dataclass(frozen=True)
class Shape:
    memtable_rows: int  # live rows in the memtable and frozen memtables
    segments: int
    unindexed_rows: int  # live rows in no HNSW graph: memtables and small segments


@dataclass(frozen=True)
class View:
    lsn: int
    memtable: MemView
    frozen: tuple[MemView, ...]  # oldest first
    segments: tuple[Segment, ...]
    _count: list[int] = field(default_factory=list, compare=False)  # memo for count()

    def sources(self) -> list[Source]:
        return [self.memtable, *reversed(self.frozen), *self.segments]

    def locate(self, id: str) -> tuple[Source, int] | None:
        """Where ``id`` is live; an id is live in at most one source."""
        for src in self.sources():
            row = src.row_of(id)
            if row is not None:
                return src, row
        return None

    def shape(self) -> Shape:
        """What an operator watches (``spruce.metrics``), from this snapshot alone."""
        memtable = self.memtable.live_count + sum(f.live_count for f in self.frozen)
        exact = sum(s.live_count for s in self.segments if s.ann is None)
        return Shape(memtable, len(self.segments), memtable + exact)

    def count(self) -> int:
        if not self._count:
            self._count.append(sum(src.live_count for src in self.sources()))
        return self._count[0]

    def list_ids(self, prefix: str, limit: int, after: str | None) -> list[str]:
        streams = [self._stream(src, prefix, after) for src in self.sources()]
        out: list[str] = []
        for id in heapq.merge(*streams):
            if len(out) >= limit:
                break
            out.append(id)
        return out

    def rows_where(self, filter: Filter, limit: int, after: str | None) -> list[tuple[Source, int]]:
        """The first ``limit`` live rows matching ``filter`` in id order, ids above
        ``after``: each source's filter bitmap, walked in its id order, then merged."""
        if limit <= 0:
            return []
        sources = self.sources()
        streams = [
            [(id, i, row) for id, row in self._matches(src, filter, limit, after)]
            for i, src in enumerate(sources)
        ]
        return [(sources[i], row) for _, i, row in heapq.merge(*streams)][:limit]

    @staticmethod
    def _matches(
        src: Source, filter: Filter, limit: int, after: str | None
    ) -> list[tuple[str, int]]:
        """Up to ``limit`` (id, row) of ``src`` matching ``filter``, in id order."""
        allowed = src.live & src.filter_mask(filter)
        if isinstance(src, MemView):
            # The memtable has no id order; it is small, so sort its matches.
            found = [(src.id_at(r), r) for r in np.flatnonzero(allowed).tolist()]
            if after is not None:
                found = [m for m in found if m[0] > after]
            return heapq.nsmallest(limit, found)
        seq = _SortedIds(src)
        pos = 0 if after is None else bisect.bisect_right(seq, after)
        order, ids = seq.order, src.core.ids
        taken: list[int] = []
        # Gather the bitmap in id order chunk by chunk, so an early page stops early.
        chunk = max(limit, 256)
        while pos < len(order) and len(taken) < limit:
            rows = order[pos : pos + chunk]
            taken.extend(rows[allowed[rows]][: limit - len(taken)].tolist())
            pos += chunk
            chunk = min(chunk * 4, 1 << 20)
        return [(ids[r], r) for r in taken]

    @staticmethod
    def _stream(src: Source, prefix: str, after: str | None) -> Iterator[str]:
        if isinstance(src, MemView):
            ids = src.sorted_live_ids()
            start = bisect.bisect_left(ids, prefix)
            if after is not None:
                start = max(start, bisect.bisect_right(ids, after))
            for id in ids[start:]:
                if not id.startswith(prefix):
                    return
                yield id
            return
        seq = _SortedIds(src)
        start = bisect.bisect_left(seq, prefix)
        if after is not None:
            start = max(start, bisect.bisect_right(seq, after))
        live, ids, order = src.live, src.core.ids, seq.order
        # Walk in chunks so dead rows are skipped by numpy, not one by one in Python.
        chunk = 256
        while start < len(order):
            rows = order[start : start + chunk]
            for row in rows[live[rows]].tolist():
                id = ids[row]
                if not id.startswith(prefix):
                    return
                yield id
            start += chunk
            chunk = min(chunk * 4, 1 << 16)
