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

from spruce.engine.memtable import MemView
from spruce.engine.segment import Segment

__all__ = ["Source", "View"]

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
