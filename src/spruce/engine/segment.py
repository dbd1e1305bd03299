"""Immutable segments: one flushed memtable, in a directory under ``<ns>/segments/``.

Files (byte layouts in docs/FORMAT.md):
- ``vectors.npy``: (rows, dimension) little-endian float32, C order, memory-mapped on
  load (absent in sparse-only indexes);
- ``records.arrow``: Arrow IPC file with ids, metadata as JSON text, sparse vectors;
- ``deletes-<lsn>.roaring``: rows deleted or overwritten as of that LSN.

Only the deletion bitmap changes after a segment is written, and it changes by writing
a new file that the next manifest names; the old one is removed after publishing.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from spruce.engine.fsutil import fsync_dir, write_synced
from spruce.engine.rows import Csr, copy_metadata
from spruce.errors import Corruption
from spruce.types import Metadata, SparseVector

__all__ = ["Segment", "SegmentEntry", "write_segment"]

VECTORS = "vectors.npy"
RECORDS = "records.arrow"

_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("metadata", pa.string()),
        pa.field("sparse_indices", pa.list_(pa.uint32())),
        pa.field("sparse_values", pa.list_(pa.float32())),
    ]
)


class SegmentEntry(msgspec.Struct, kw_only=True):
    """A segment as the manifest describes it."""

    name: str
    rows: int
    records_crc32: int
    vectors_bytes: int | None
    vectors_crc32: int | None
    deletes: str | None = None
    deletes_crc32: int | None = None


def write_segment(
    directory: Path,
    name: str,
    ids: Sequence[str],
    vectors: npt.NDArray[np.float32] | None,
    sparse: Sequence[SparseVector | None],
    metadata: Sequence[Mapping[str, Any] | None],
) -> SegmentEntry:
    """Write and fsync a new segment directory; it is garbage until a manifest names it."""
    directory.mkdir()
    vectors_bytes = vectors_crc = None
    if vectors is not None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(vectors, dtype="<f4"), allow_pickle=False)
        data = buf.getvalue()
        write_synced(directory / VECTORS, data)
        vectors_bytes, vectors_crc = len(data), zlib.crc32(data)
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "metadata": pa.array(
                [None if m is None else orjson.dumps(m).decode() for m in metadata], pa.string()
            ),
            "sparse_indices": pa.array(
                [None if s is None else s.indices for s in sparse], pa.list_(pa.uint32())
            ),
            "sparse_values": pa.array(
                [None if s is None else s.values for s in sparse], pa.list_(pa.float32())
            ),
        },
        schema=_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, _SCHEMA) as writer:
        writer.write_table(table)
    records = sink.getvalue().to_pybytes()
    write_synced(directory / RECORDS, records)
    fsync_dir(directory)
    return SegmentEntry(
        name=name,
        rows=len(ids),
        records_crc32=zlib.crc32(records),
        vectors_bytes=vectors_bytes,
        vectors_crc32=vectors_crc,
    )


def _list_column(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], pa.Array]:
    arr = column.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    indptr = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr, arr.flatten()


class Segment:
    """A loaded segment: ids and sparse vectors in memory, vectors memory-mapped."""

    def __init__(self, directory: Path, entry: SegmentEntry, dimension: int | None) -> None:
        self.directory = directory
        self.entry = entry
        self._vectors: npt.NDArray[np.float32] | None = None
        if dimension is not None:
            path = directory / VECTORS
            if entry.vectors_bytes is None or path.stat().st_size != entry.vectors_bytes:
                raise Corruption(f"{path}: size does not match the manifest")
            # Not checksummed on open: that would read every vector; the CRC is in the
            # manifest for offline verification.
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
            if vectors.dtype != np.dtype("<f4") or vectors.shape != (entry.rows, dimension):
                raise Corruption(f"{path}: unexpected shape {vectors.shape} or dtype")
            self._vectors = vectors
        data = (directory / RECORDS).read_bytes()
        if zlib.crc32(data) != entry.records_crc32:
            raise Corruption(f"{directory / RECORDS}: checksum mismatch")
        table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
        if table.num_rows != entry.rows or not table.schema.equals(_SCHEMA):
            raise Corruption(f"{directory / RECORDS}: unexpected rows or schema")
        self.ids: list[str] = table.column("id").to_pylist()
        self._metadata_json: list[str | None] = table.column("metadata").to_pylist()
        self._metadata: list[Metadata | None] | None = None
        self._has_sparse = table.column("sparse_indices").is_valid().to_numpy(zero_copy_only=False)
        indptr, indices = _list_column(table.column("sparse_indices"))
        values_indptr, values = _list_column(table.column("sparse_values"))
        if not np.array_equal(indptr, values_indptr):
            raise Corruption(f"{directory / RECORDS}: sparse indices and values differ in length")
        self._csr = Csr(
            indptr,
            indices.to_numpy(zero_copy_only=False).astype(np.uint32, copy=False),
            values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False),
        )
        self._norms: npt.NDArray[np.float32] | None = None
        self._live = np.ones(entry.rows, dtype=np.bool_)
        if entry.deletes is not None:
            self._load_deletes(directory / entry.deletes, entry.deletes_crc32)
        # True when the in-memory deletions differ from the file the manifest names.
        self.dirty = False

    def _load_deletes(self, path: Path, crc: int | None) -> None:
        data = path.read_bytes()
        if zlib.crc32(data) != crc:
            raise Corruption(f"{path}: checksum mismatch")
        try:
            rows = np.array(BitMap.deserialize(data).to_array(), dtype=np.int64)
        except Exception as exc:  # pyroaring raises plain ValueError and friends
            raise Corruption(f"{path}: bad deletion bitmap: {exc}") from exc
        if rows.size and rows.max() >= self.entry.rows:
            raise Corruption(f"{path}: deleted row out of range")
        self._live[rows] = False

    def write_deletes(self, file_name: str) -> tuple[str, int]:
        """Persist the current deletions as ``file_name``; returns (name, crc32)."""
        bitmap = BitMap(np.flatnonzero(~self._live).tolist())
        data = bitmap.serialize()
        write_synced(self.directory / file_name, data)
        fsync_dir(self.directory)
        return file_name, zlib.crc32(data)

    def delete_row(self, row: int) -> None:
        self._live[row] = False
        self.dirty = True

    def delete_all_rows(self) -> None:
        self._live[:] = False
        self.dirty = True

    def live_rows(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self._live)

    # -- RowSource ------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.entry.rows

    @property
    def live(self) -> npt.NDArray[np.bool_]:
        return self._live

    def id_at(self, row: int) -> str:
        return self.ids[row]

    def vectors(self) -> npt.NDArray[np.float32] | None:
        return self._vectors

    def norms(self) -> npt.NDArray[np.float32]:
        if self._norms is None:
            assert self._vectors is not None
            self._norms = np.sqrt(np.einsum("ij,ij->i", self._vectors, self._vectors))
        return self._norms

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]:
        # Parsed on first use: opening a namespace only needs the ids.
        if self._metadata is None:
            self._metadata = [None if s is None else orjson.loads(s) for s in self._metadata_json]
            self._metadata_json = []
        return self._metadata

    def csr(self) -> Csr:
        return self._csr

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None:
        return None if self._vectors is None else np.array(self._vectors[row], dtype=np.float32)

    def sparse_at(self, row: int) -> SparseVector | None:
        if not self._has_sparse[row]:
            return None
        lo, hi = self._csr.indptr[row], self._csr.indptr[row + 1]
        return SparseVector(
            indices=self._csr.indices[lo:hi].copy(), values=self._csr.values[lo:hi].copy()
        )

    def metadata_at(self, row: int) -> Metadata | None:
        return copy_metadata(self.metadatas()[row])
