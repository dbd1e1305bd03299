"""Loading one namespace: stream its Parquet files batch by batch into a builder.

Files are decoded by pyarrow on a prefetch thread (decoding releases the GIL) while
this thread validates the previous batch, and segments are written on the builder's own
thread, so decode, validation and disk writes overlap. Nothing is ever held as one
Python list per file: memory is a few batches plus the builder's segment buffer.

Duplicates, as Pinecone defines them for imports, are records whose vector values are
identical to an earlier record's; a repeated id is treated the same way (the first
one is kept). Both are skipped in continue mode and fail the import in abort mode.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Hashable, Iterator
from typing import TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from spruce.engine.write.bulk import NamespaceBuilder
from spruce.imports.messages import (
    ALL_ROWS_SKIPPED,
    JobError,
    file_error,
    record_error,
)
from spruce.imports.plan import FilePlan, IndexShape, NamespacePlan, open_parquet
from spruce.imports.records import Rows, validate_batch

__all__ = ["BATCH_ROWS", "LoadStopped", "NamespaceLoader"]

BATCH_ROWS = 8192
T = TypeVar("T")


class LoadStopped(Exception):
    """The job was cancelled or the server is stopping; the caller decides which."""


def _prefetch(items: Generator[T, None, None], depth: int = 2) -> Iterator[T]:
    """Iterate ``items`` on a helper thread, ``depth`` items ahead of the consumer."""
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((True, item))
            slots.put((False, None))
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put((False, exc))
        finally:
            items.close()  # runs the source's cleanup (closing its file) on this thread

    thread = threading.Thread(target=produce, name="spruce-import-read", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = slots.get()
            if not ok:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                slots.get(timeout=0.05)


class NamespaceLoader:
    """Validates, de-duplicates and adds one namespace's rows to ``builder``."""

    def __init__(
        self,
        plan: NamespacePlan,
        builder: NamespaceBuilder,
        shape: IndexShape,
        *,
        abort_on_error: bool,
        on_batch: Callable[[int, int], None],
    ) -> None:
        self.plan = plan
        self.builder = builder
        self.shape = shape
        self.abort_on_error = abort_on_error
        self.on_batch = on_batch  # (rows read, records added) since the last call
        self._ids: set[str] = set()
        self._vectors: dict[Hashable, str] = {}  # key of the values -> first id

    def load(self, fs: pafs.FileSystem) -> int:
        """Load every file; returns the records added. Raises JobError or LoadStopped."""
        for file in self.plan.files:
            self._load_file(fs, file)
        if self.builder.rows == 0:
            raise JobError(ALL_ROWS_SKIPPED.format(namespace=self.plan.name))
        return self.builder.rows

    def _batches(
        self, fs: pafs.FileSystem, file: FilePlan
    ) -> Generator[pa.RecordBatch, None, None]:
        parquet = open_parquet(fs, file)
        try:
            yield from parquet.iter_batches(batch_size=BATCH_ROWS, use_threads=True)
        except (pa.ArrowException, OSError) as exc:
            raise file_error(file.display, f"could not be read: {exc}") from None
        finally:
            parquet.close()

    def _load_file(self, fs: pafs.FileSystem, file: FilePlan) -> None:
        first = 0
        for batch in _prefetch(self._batches(fs, file)):
            rows = validate_batch(batch, first, self.shape)
            first += batch.num_rows
            before = self.builder.rows
            self._add(file, rows)
            self.on_batch(batch.num_rows, self.builder.rows - before)

    @staticmethod
    def _vector_keys(rows: Rows) -> list[Hashable]:
        """A key per record that is equal exactly when the vector values are.

        Dense: Python's 64-bit hash of the row's bytes with the bits of its float64 sum
        above it (numpy reduces every row the same way, so equal rows get equal sums);
        two distinct rows must collide in both to be taken for duplicates. Sparse values,
        when present, add the same pair for their indices and values.
        """
        n = len(rows.ids)
        keys: list[Hashable] = [0] * n
        if rows.vectors is not None and n:
            matrix = np.ascontiguousarray(rows.vectors)
            width = matrix.shape[1] * matrix.itemsize
            raw = matrix.tobytes()
            totals = np.sum(matrix, axis=1, dtype=np.float64).view(np.int64)
            keys = [
                hash(raw[i * width : (i + 1) * width]) ^ (int(total) << 64)
                for i, total in enumerate(cast(list[int], totals.tolist()))
            ]
        if rows.sparse is not None:
            for i, sparse in enumerate(rows.sparse):
                if sparse is not None:
                    data = sparse.indices.tobytes() + sparse.values.tobytes()
                    total = np.float64(sparse.values.sum(dtype=np.float64)).view(np.int64)
                    keys[i] = (keys[i], hash(data) ^ (int(total) << 64))
        return keys

    def _add(self, file: FilePlan, rows: Rows) -> None:
        first_error = rows.errors[0] if rows.errors else None
        if first_error is not None and not self.abort_on_error:
            first_error = None  # continue mode: invalid rows are skipped silently
        keep: list[int] = []
        seen_ids, seen_vectors = self._ids, self._vectors
        for i, (row, id, key) in enumerate(
            zip(rows.rows.tolist(), rows.ids, self._vector_keys(rows), strict=True)
        ):
            if first_error is not None and row > first_error[0]:
                break
            duplicate = None
            if id in seen_ids:
                duplicate = f'duplicate record: the id "{id}" appears more than once'
            elif key in seen_vectors:
                duplicate = (
                    f'duplicate vector: the values of record "{id}" are identical to those of '
                    f'record "{seen_vectors[key]}"'
                )
            if duplicate is not None:
                if self.abort_on_error:
                    raise record_error(file.relative, row, duplicate)
                continue
            seen_ids.add(id)
            seen_vectors[key] = id
            keep.append(i)
        if first_error is not None:
            raise record_error(file.relative, first_error[0], first_error[1])
        if not keep:
            return
        everything = len(keep) == len(rows.ids)
        index = np.asarray(keep, dtype=np.intp)
        self.builder.add(
            rows.ids if everything else [rows.ids[i] for i in keep],
            None if rows.vectors is None else (rows.vectors if everything else rows.vectors[index]),
            None if rows.sparse is None else [rows.sparse[i] for i in keep],
            rows.metadata if everything else [rows.metadata[i] for i in keep],
        )
