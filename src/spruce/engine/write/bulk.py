"""Bulk building: a complete namespace directory written from batches, without the WAL.

A bulk import writes validated rows straight into immutable segments (the format of
``segment.py``), then a manifest naming them and an empty WAL that starts after them.
The directory is built away from the index, on the same filesystem, and handed to
``IndexStore.adopt``, which renames it into place: the namespace appears complete or
not at all.

Segments are named by LSN, as a flush names them: the k-th segment is named k and the
manifest's ``flushed_lsn`` is the number of segments, so the namespace's first later
write gets an LSN above every imported segment's.

Writing a segment (serialising, writing, fsync) runs on one background thread so the
caller can decode and validate the next rows meanwhile; at most one segment is in
flight, which bounds memory to about two segments' worth of rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from spruce.engine.disk.fsutil import fsync_dir, remove_tree
from spruce.engine.disk.manifest import Manifest, write_manifest
from spruce.engine.disk.recovery import Layout
from spruce.engine.disk.segment import SCHEMA, SegmentEntry, write_segment
from spruce.engine.write.wal import WalWriter, wal_file_name
from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = ["NamespaceBuilder"]


class NamespaceBuilder:
    """Writes one namespace directory at ``directory`` from batches of rows.

    The caller guarantees that ids are unique across all batches: segments written
    here are final, so a repeated id would leave two live rows. Not thread-safe.
    """

    def __init__(
        self,
        directory: Path,
        *,
        dimension: int | None,
        metric: str,
        segment_rows: int = 100_000,
    ) -> None:
        if segment_rows < 1:
            raise InvalidArgument("segment_rows must be positive")
        self.directory = directory
        self._layout = Layout(directory)
        try:
            self._layout.ensure()
        except BaseException:
            remove_tree(directory)  # a builder that could not start leaves nothing behind
            raise
        self._dimension = dimension
        self._metric = metric
        self._segment_rows = segment_rows
        self._tables: list[pa.Table] = []
        self._vectors: list[npt.NDArray[np.float32]] = []
        self._pending_rows = 0
        self._entries: list[SegmentEntry] = []
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="spruce-bulk")
        self._inflight: Future[SegmentEntry] | None = None
        self.rows = 0

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32] | None,
        sparse: Sequence[SparseVector | None] | None,
        metadata: Sequence[str | None],
    ) -> None:
        """Buffer rows; a segment is written once ``segment_rows`` are buffered.

        ``vectors`` is (len(ids), dimension) float32, or None in a sparse-only index;
        ``sparse`` may be None when no row has sparse values; ``metadata`` holds each
        row's metadata as a JSON object text (already validated), None for none.
        """
        n = len(ids)
        if len(metadata) != n or (sparse is not None and len(sparse) != n):
            raise InvalidArgument("ids, sparse values and metadata differ in length")
        if self._dimension is None:
            if vectors is not None:
                raise InvalidArgument("this index is sparse-only and takes no dense values")
        elif vectors is None or vectors.shape != (n, self._dimension):
            raise InvalidArgument(f"dense values must have shape ({n}, {self._dimension})")
        if n == 0:
            return
        if sparse is None:
            indices, values = (
                pa.nulls(n, pa.list_(pa.uint32())),
                pa.nulls(n, pa.list_(pa.float32())),
            )
        else:
            indices = pa.array(
                [None if s is None else s.indices for s in sparse], pa.list_(pa.uint32())
            )
            values = pa.array(
                [None if s is None else s.values for s in sparse], pa.list_(pa.float32())
            )
        columns = [pa.array(ids, pa.string()), pa.array(metadata, pa.string()), indices, values]
        self._tables.append(pa.Table.from_arrays(columns, schema=SCHEMA))
        if vectors is not None:
            self._vectors.append(np.ascontiguousarray(vectors, dtype=np.float32))
        self.rows += n
        self._pending_rows += n
        if self._pending_rows >= self._segment_rows:
            self._write_pending()

    def _write_pending(self) -> None:
        if not self._pending_rows:
            return
        self._wait()
        name = f"{len(self._entries) + 1:020d}"
        tables, vectors = self._tables, self._vectors
        self._inflight = self._pool.submit(self._write, name, tables, vectors)
        self._tables, self._vectors, self._pending_rows = [], [], 0

    def _write(
        self, name: str, tables: list[pa.Table], vectors: list[npt.NDArray[np.float32]]
    ) -> SegmentEntry:
        """On the writer thread: even the concatenation stays off the caller's thread."""
        table = pa.concat_tables(tables).combine_chunks()
        matrix = np.concatenate(vectors) if vectors else None
        return write_segment(self._layout.segments / name, name, table, matrix)

    def _wait(self) -> None:
        if self._inflight is not None:
            future, self._inflight = self._inflight, None
            self._entries.append(future.result())

    def finish(self) -> int:
        """Write what is buffered, then the manifest and the first WAL file; returns rows."""
        try:
            self._write_pending()
            self._wait()
            fsync_dir(self._layout.segments)
            lsn = len(self._entries)
            WalWriter.create(self._layout.wal / wal_file_name(lsn + 1))
            manifest = Manifest(
                dimension=self._dimension,
                metric=self._metric,
                flushed_lsn=lsn,
                segments=self._entries,
            )
            write_manifest(self._layout.manifest, manifest)
            fsync_dir(self.directory)
        finally:
            self._pool.shutdown()
        return self.rows

    def abort(self) -> None:
        """Stop and remove everything written so far."""
        try:
            if self._inflight is not None:
                self._inflight.exception()  # wait; its error no longer matters
        finally:
            self._inflight = None
            self._pool.shutdown()
            remove_tree(self.directory)
