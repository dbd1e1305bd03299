"""One namespace's durable store: WAL + memtable + immutable segments + manifest.

Every write is validated, given the next LSN, logged (fsync'd) and then applied to
memory by the same ``_apply`` that recovery uses, so a replayed WAL rebuilds exactly
what the live process had. Layout and byte formats: docs/FORMAT.md.

One re-entrant lock per namespace serialises writes and reads, so a reader never sees
half of a batch; searches are exact (numpy) over the memtable and every segment.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from spruce.engine import validate
from spruce.engine.filters import Filter, evaluate
from spruce.engine.flush import collect_garbage, prepare_flush
from spruce.engine.manifest import write_manifest
from spruce.engine.memtable import Memtable
from spruce.engine.ops import (
    DeleteAllOp,
    DeleteOp,
    Op,
    SparseWire,
    UpdateOp,
    UpdateWhereOp,
    UpsertOp,
    encode_op,
    sparse_from_wire,
    sparse_to_wire,
)
from spruce.engine.recovery import Layout, recover
from spruce.engine.rows import RowSource, copy_sparse
from spruce.engine.search import Metric, QuerySpec, merge_top_k, source_candidates
from spruce.engine.segment import Segment
from spruce.engine.wal import WalWriter
from spruce.errors import Corruption, Internal, InvalidArgument, SpruceError, Unavailable
from spruce.types import Match, Metadata, Record, SparseVector, Vector

__all__ = ["METRICS", "Metric", "Namespace"]

METRICS: frozenset[str] = frozenset({"cosine", "euclidean", "dotproduct"})
# Flush when the WAL grows past this even if the memtable is small (e.g. only deletes).
WAL_FLUSH_BYTES = 64 << 20


class Namespace:
    """Open with ``Namespace.open``; all methods are thread-safe."""

    def __init__(self, layout: Layout, dimension: int | None, metric: Metric, flush_rows: int):
        self._layout = layout
        self._dimension = dimension
        self._metric: Metric = metric
        self._flush_rows = flush_rows
        self._lock = threading.RLock()
        self._memtable = Memtable(dimension)
        self._segments: list[Segment] = []
        self._in_segment: dict[str, tuple[Segment, int]] = {}  # live segment rows only
        self._lsn = 0
        self._flushed_lsn = 0
        self._wal: WalWriter | None = None
        self._sorted_ids: list[str] | None = None  # cache for list_ids
        self._closed: Exception | None = None

    @classmethod
    def open(
        cls, path: Path, *, dimension: int | None, metric: Metric, flush_rows: int = 20_000
    ) -> Namespace:
        if metric not in METRICS:
            raise InvalidArgument(f"unknown metric {metric!r}")
        if dimension is not None and (isinstance(dimension, bool) or dimension < 1):
            raise InvalidArgument("dimension must be a positive integer or None")
        if flush_rows < 1:
            raise InvalidArgument("flush_rows must be positive")
        ns = cls(Layout(path), dimension, metric, flush_rows)
        state = recover(ns._layout, dimension, metric)
        ns._segments = state.segments
        ns._flushed_lsn = ns._lsn = state.flushed_lsn
        for segment in ns._segments:
            for row in segment.live_rows():
                ns._in_segment[segment.ids[row]] = (segment, int(row))
        for op in state.ops:
            try:
                ns._apply(op)
            except SpruceError:
                raise
            except Exception as exc:  # a logged op that cannot apply is damaged data
                raise Corruption(f"{path}: cannot replay LSN {op.lsn}: {exc!r}") from exc
            ns._lsn = op.lsn
        ns._wal = state.wal
        if ns._memtable.size >= flush_rows:
            ns.flush()
        return ns

    @property
    def lsn(self) -> int:
        return self._lsn

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def metric(self) -> Metric:
        return self._metric

    # -- writes ---------------------------------------------------------------

    def upsert(self, records: Sequence[Record]) -> int:
        ids, dense, sparse, metadata = validate.check_records(records, self._dimension)
        wire = [sparse_to_wire(s) for s in sparse]
        with self._lock:
            self._check_open()
            if not ids:
                return self._lsn
            vectors = None if dense is None else dense.astype("<f4").tobytes()
            return self._write(UpsertOp(self._lsn + 1, ids, vectors, wire, metadata))

    def update(
        self,
        id: str,
        *,
        values: Vector | None = None,
        sparse: SparseVector | None = None,
        set_metadata: Metadata | None = None,
    ) -> tuple[int, bool]:
        validate.check_id(id)
        wire_values = None
        if values is not None:
            wire_values = validate.check_dense(values, self._dimension, "update").tobytes()
        sp = None if sparse is None else sparse_to_wire(validate.check_sparse(sparse, "update"))
        md = None if set_metadata is None else validate.check_metadata(set_metadata, "update")
        with self._lock:
            self._check_open()
            if self._locate(id) is None:
                return self._lsn, False
            return self._write(UpdateOp(self._lsn + 1, id, wire_values, sp, md)), True

    def update_where(self, filter: Filter, set_metadata: Metadata) -> tuple[int, int]:
        md = validate.check_metadata(set_metadata, "update")
        with self._lock:
            self._check_open()
            ids = self._matching_ids(filter)
            if not ids:
                return self._lsn, 0
            return self._write(UpdateWhereOp(self._lsn + 1, ids, md)), len(ids)

    def delete(self, ids: Sequence[str]) -> int:
        with self._lock:
            self._check_open()
            found = [i for i in dict.fromkeys(ids) if self._locate(i) is not None]
            return self._write(DeleteOp(self._lsn + 1, found)) if found else self._lsn

    def delete_where(self, filter: Filter) -> tuple[int, int]:
        with self._lock:
            self._check_open()
            ids = self._matching_ids(filter)
            if not ids:
                return self._lsn, 0
            return self._write(DeleteOp(self._lsn + 1, ids)), len(ids)

    def delete_all(self) -> int:
        with self._lock:
            self._check_open()
            if self._live_count() == 0:
                return self._lsn
            lsn = self._write(DeleteAllOp(self._lsn + 1))
            self.flush()  # frees the disk space now rather than at the next flush
            return lsn

    def _write(self, op: Op) -> int:
        """Log ``op`` durably, then apply it; the caller holds the lock."""
        assert self._wal is not None
        self._wal.append(encode_op(op))
        try:
            self._apply(op)
        except BaseException as exc:
            # Memory no longer matches the log; only a reopen (replay) can fix that.
            self._fail(exc)
            raise Internal(f"namespace failed applying LSN {op.lsn}: {exc!r}") from exc
        self._lsn = op.lsn
        # Each flush starts a new WAL file, so its size is what the memtable has not absorbed.
        if self._memtable.size >= self._flush_rows or self._wal.size >= WAL_FLUSH_BYTES:
            self.flush()
        return op.lsn

    # -- applying ops (shared by writes and recovery) -------------------------

    def _apply(self, op: Op) -> None:
        if isinstance(op, UpsertOp):
            self._apply_upsert(op)
        elif isinstance(op, UpdateOp):
            self._apply_update(op.id, op.values, op.sparse is not None, op.sparse, op.set_metadata)
        elif isinstance(op, UpdateWhereOp):
            for id in op.ids:
                self._apply_update(id, None, False, None, op.set_metadata)
        elif isinstance(op, DeleteOp):
            self._sorted_ids = None
            for id in op.ids:
                if not self._memtable.delete(id):
                    self._unlink_segment_row(id)
        else:
            self._sorted_ids = None
            self._memtable.clear()
            for segment in self._segments:
                segment.delete_all_rows()
            self._in_segment.clear()

    def _apply_upsert(self, op: UpsertOp) -> None:
        n = len(op.ids)
        vectors = None
        if len(op.sparse) != n or len(op.metadata) != n:
            raise Corruption(f"LSN {op.lsn}: upsert columns differ in length")
        if op.vectors is not None:
            if self._dimension is None or len(op.vectors) != 4 * n * self._dimension:
                raise Corruption(f"LSN {op.lsn}: vector bytes do not match the dimension")
            vectors = np.frombuffer(op.vectors, dtype="<f4").reshape(n, self._dimension)
        elif self._dimension is not None:
            raise Corruption(f"LSN {op.lsn}: dense vectors missing")
        for i, id in enumerate(op.ids):
            if id not in self._memtable:
                self._sorted_ids = None
                self._unlink_segment_row(id)
            row = None if vectors is None else vectors[i]
            self._memtable.put(id, row, sparse_from_wire(op.sparse[i]), op.metadata[i])

    def _apply_update(
        self,
        id: str,
        values: bytes | None,
        replace_sparse: bool,
        sparse: SparseWire | None,
        set_metadata: Metadata | None,
    ) -> None:
        loc = self._locate(id)
        if loc is None:
            return
        src, row = loc
        new_values = src.values_at(row)
        if values is not None:
            if self._dimension is None or len(values) != 4 * self._dimension:
                raise Corruption(f"update of {id!r}: vector bytes do not match the dimension")
            new_values = np.frombuffer(values, dtype="<f4").astype(np.float32)
        new_sparse = sparse_from_wire(sparse) if replace_sparse else src.sparse_at(row)
        metadata = src.metadata_at(row) or {}
        if set_metadata:
            metadata.update(set_metadata)
        if src is not self._memtable:
            self._unlink_segment_row(id)
        self._memtable.put(id, new_values, new_sparse, metadata)

    def _unlink_segment_row(self, id: str) -> None:
        loc = self._in_segment.pop(id, None)
        if loc is not None:
            loc[0].delete_row(loc[1])

    # -- reads ----------------------------------------------------------------

    def _locate(self, id: str) -> tuple[RowSource, int] | None:
        row = self._memtable.row_of(id)
        if row is not None:
            return self._memtable, row
        return self._in_segment.get(id)

    def _sources(self) -> list[RowSource]:
        return [self._memtable, *self._segments]

    def _live_count(self) -> int:
        return self._memtable.live_count + len(self._in_segment)

    def _allowed(self, src: RowSource, filter: Filter | None) -> npt.NDArray[np.bool_]:
        if filter is None:
            return src.live
        return src.live & evaluate(filter, src.metadatas())

    def _matching_ids(self, filter: Filter) -> list[str]:
        return [
            src.id_at(int(row))
            for src in self._sources()
            for row in np.flatnonzero(self._allowed(src, filter))
        ]

    def _record(self, src: RowSource, row: int, values: bool, metadata: bool) -> Record:
        return Record(
            id=src.id_at(row),
            values=src.values_at(row) if values else None,
            sparse=copy_sparse(src.sparse_at(row)) if values else None,
            metadata=src.metadata_at(row) if metadata else None,
        )

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        with self._lock:
            self._check_open()
            out: dict[str, Record] = {}
            for id in ids:
                loc = self._locate(id)
                if loc is not None:
                    out[id] = self._record(loc[0], loc[1], True, True)
            return out

    def query(
        self,
        vector: Vector | None,
        *,
        top_k: int,
        filter: Filter | None = None,
        sparse: SparseVector | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
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
        with self._lock:
            self._check_open()
            sources = self._sources()
            per_source = [source_candidates(s, self._allowed(s, filter), spec) for s in sources]
            best = merge_top_k(sources, per_source, spec)
            matches = []
            for c in best:
                r = self._record(sources[c.source], c.row, include_values, include_metadata)
                matches.append(Match(c.id, c.score, r.values, r.sparse, r.metadata))
            return matches

    def list_ids(
        self, *, prefix: str = "", limit: int = 100, after: str | None = None
    ) -> list[str]:
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        with self._lock:
            self._check_open()
            if self._sorted_ids is None:
                # Sorted lazily: rebuilt only when ids changed since the last listing.
                self._sorted_ids = sorted([*self._memtable.live_ids(), *self._in_segment])
            ids = self._sorted_ids
            start = bisect.bisect_left(ids, prefix)
            if after is not None:
                start = max(start, bisect.bisect_right(ids, after))
            out: list[str] = []
            for id in ids[start : start + limit]:
                if not id.startswith(prefix):
                    break
                out.append(id)
            return out

    def count(self, filter: Filter | None = None) -> int:
        with self._lock:
            self._check_open()
            if filter is None:
                return self._live_count()
            return sum(int(self._allowed(s, filter).sum()) for s in self._sources())

    # -- lifecycle ------------------------------------------------------------

    def flush(self) -> None:
        with self._lock:
            self._check_open()
            if self._lsn == self._flushed_lsn:
                return
            layout, lsn = self._layout, self._lsn
            flushed = prepare_flush(
                layout, lsn, self._memtable, self._segments, self._dimension, self._metric
            )
            try:
                write_manifest(layout.manifest, flushed.manifest)  # the commit point
                for i, entry in flushed.new_entries.items():
                    flushed.kept[i].entry = entry
                    flushed.kept[i].dirty = False
                self._segments = flushed.kept
                if flushed.added is not None:
                    self._segments.append(flushed.added)
                    for row, id in enumerate(flushed.added.ids):
                        self._in_segment[id] = (flushed.added, row)
                self._memtable.clear()
                self._wal = flushed.wal
                self._flushed_lsn = lsn
            except BaseException as exc:
                # The manifest may or may not be on disk; only a reopen knows which.
                self._fail(exc)
                raise
            collect_garbage(layout, flushed.garbage)

    def close(self) -> None:
        with self._lock:
            if self._closed is None:
                self._closed = Unavailable("namespace is closed")

    @property
    def failed(self) -> bool:
        """True after an error left memory out of step with disk; reopen to recover."""
        return self._closed is not None and not isinstance(self._closed, Unavailable)

    def _fail(self, exc: BaseException) -> None:
        self._closed = exc if isinstance(exc, Exception) else Internal(repr(exc))

    def _check_open(self) -> None:
        if self._closed is not None:
            if isinstance(self._closed, Unavailable):
                raise self._closed
            raise Unavailable(f"namespace failed and must be reopened: {self._closed!r}")
