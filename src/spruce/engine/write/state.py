"""A namespace's working state in memory, and the rules that change it.

The writer (``namespace.py``) and the follower (``follower.py``) both hold one
``WorkingState``: the memtable, the frozen memtables being flushed (the writer's only),
and the segments with their live flags. ``apply`` is the only code that turns a logged
operation into a change of that state, so the writer's live writes, its WAL replay on
open and a follower's tailing of the same WAL are one code path (docs/FORMAT.md 3.3):
they agree by construction, not by test.

Published ``View``s are immutable (read-copy-update): the first change to a source's
live flags after a publish copies them (``_owned`` records what was copied since), so a
reader never sees half an operation. The writer also records in ``dead_lsn`` which LSN
killed each row (flushes and compactions persist that as deletion bitmaps); a follower
reads those bitmaps and must not write into segment cores it shares between rounds, so
it keeps ``record_deaths`` off.
"""

from __future__ import annotations

from typing import cast

import numpy as np

from spruce.engine.disk.segment import Segment
from spruce.engine.read.view import Source, View
from spruce.engine.write.memtable import Memtable, MemView
from spruce.engine.write.ops import (
    DeleteOp,
    Op,
    SparseWire,
    UpdateOp,
    UpdateWhereOp,
    UpsertOp,
    sparse_from_wire,
)
from spruce.errors import Corruption
from spruce.types import Metadata

__all__ = ["Found", "WorkingState"]

# Where a live id is: ("mem" | "frozen" | "seg", index, row).
Found = tuple[str, int, int]


class WorkingState:
    """Not thread-safe: its owner serialises changes (the writer's or follower's lock)."""

    def __init__(self, dimension: int | None, *, record_deaths: bool) -> None:
        self.dimension = dimension
        self.record_deaths = record_deaths
        self.mem = Memtable(dimension)
        self.frozen: list[tuple[int, MemView]] = []  # (flush LSN, rows), oldest first
        self.segments: list[Segment] = []
        self._owned: set[object] = set()  # live arrays copied since the last publish
        self._op_lsn = 0  # LSN of the op being applied (recorded as rows die)

    def view(self, lsn: int) -> View:
        """An immutable snapshot of the state as of ``lsn``, for readers."""
        self._owned.clear()
        return View(
            lsn, self.mem.snapshot(), tuple(f for _, f in self.frozen), tuple(self.segments)
        )

    # -- applying ops -----------------------------------------------------------

    def apply(self, op: Op) -> None:
        self._op_lsn = op.lsn
        if isinstance(op, UpsertOp):
            self._apply_upsert(op)
        elif isinstance(op, UpdateOp):
            self._apply_update(op.id, op.values, op.sparse is not None, op.sparse, op.set_metadata)
        elif isinstance(op, UpdateWhereOp):
            for id in op.ids:
                self._apply_update(id, None, False, None, op.set_metadata)
        elif isinstance(op, DeleteOp):
            for id in op.ids:
                found = self.find(id)
                if found is not None:
                    self._kill(found)
        else:
            self.mem.kill_all()
            for i, (lsn, f) in enumerate(self.frozen):
                self.frozen[i] = (lsn, cast(MemView, self._all_dead(f)))
            self.segments = [cast(Segment, self._all_dead(s)) for s in self.segments]

    def _all_dead(self, src: Source) -> Source:
        if self.record_deaths:
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
            if self.dimension is None or len(op.vectors) != 4 * n * self.dimension:
                raise Corruption(f"LSN {op.lsn}: vector bytes do not match the dimension")
            vectors = np.frombuffer(op.vectors, dtype="<f4").reshape(n, self.dimension)
        elif self.dimension is not None:
            raise Corruption(f"LSN {op.lsn}: dense vectors missing")
        sparse = [sparse_from_wire(s) for s in op.sparse]
        if len(set(op.ids)) < n:  # repeated ids: one at a time, the last one wins
            for i, id in enumerate(op.ids):
                if id not in self.mem:  # the memtable replaces its own rows in put()
                    found = self.find(id)
                    if found is not None:
                        self._kill(found)
                row = None if vectors is None else vectors[i]
                self.mem.put(id, row, sparse[i], op.metadata[i])
            return
        self._kill_elsewhere({id for id in op.ids if id not in self.mem})
        self.mem.put_many(op.ids, vectors, sparse, op.metadata)

    def _kill_elsewhere(self, ids: set[str]) -> None:
        """Kill the live rows of ``ids`` in frozen memtables and segments, set-wise
        (``find`` for a whole batch; an id is live in at most one place)."""
        for i in range(len(self.frozen) - 1, -1, -1):
            if not ids:
                return
            for id, row in self.frozen[i][1].rows_of(ids).items():
                self._kill(("frozen", i, row))
                ids.discard(id)
        for i in range(len(self.segments)):
            if not ids:
                return
            for id, row in self.segments[i].rows_of(ids).items():
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
        found = self.find(id)
        if found is None:
            return
        kind, index, row = found
        src: Memtable | Source = (
            self.mem
            if kind == "mem"
            else self.frozen[index][1]
            if kind == "frozen"
            else self.segments[index]
        )
        new_values = src.values_at(row)
        if values is not None:
            if self.dimension is None or len(values) != 4 * self.dimension:
                raise Corruption(f"update of {id!r}: vector bytes do not match the dimension")
            new_values = np.frombuffer(values, dtype="<f4").astype(np.float32)
        new_sparse = sparse_from_wire(sparse) if replace_sparse else src.sparse_at(row)
        metadata = src.metadata_at(row) or {}
        if set_metadata:
            metadata.update(set_metadata)
        if kind != "mem":
            self._kill(found)
        self.mem.put(id, new_values, new_sparse, metadata)

    def find(self, id: str) -> Found | None:
        """Where ``id`` is live in the working state."""
        row = self.mem.row_of(id)
        if row is not None:
            return "mem", 0, row
        for i in range(len(self.frozen) - 1, -1, -1):
            row = self.frozen[i][1].row_of(id)
            if row is not None:
                return "frozen", i, row
        for i, segment in enumerate(self.segments):
            row = segment.row_of(id)
            if row is not None:
                return "seg", i, row
        return None

    def _kill(self, found: Found) -> None:
        """Mark a row dead, copying live flags that a published view may hold."""
        kind, i, row = found
        if kind == "mem":
            self.mem.kill(row)
            return
        src: MemView | Segment = self.frozen[i][1] if kind == "frozen" else self.segments[i]
        if src not in self._owned:
            src = src.with_live(src.live.copy())
            self._owned.add(src)
            if kind == "frozen":
                self.frozen[i] = (self.frozen[i][0], src)  # type: ignore[assignment]
            else:
                self.segments[i] = src  # type: ignore[assignment]
        src.live[row] = False
        if self.record_deaths:
            dead = src.core.dead_lsn if isinstance(src, Segment) else src.dead_lsn
            assert dead is not None
            dead[row] = self._op_lsn
