"""Immutable segments: flushed or merged rows, in a directory under ``<ns>/segments/``.

Files (byte layouts in docs/FORMAT.md):
- ``vectors.npy``: (rows, dimension) little-endian float32, C order, memory-mapped on
  load (absent in sparse-only indexes);
- ``records.arrow``: Arrow IPC file with ids, metadata as JSON text, sparse vectors;
- ``hnsw.idx``: the HNSW graph of a large segment (ann.py), optional;
- ``sparse.idx``: the inverted index of the sparse vectors (sparse_index.py), when any
  row has one;
- ``deletes-<lsn>.roaring``: rows deleted or overwritten as of that LSN.

A ``SegmentCore`` holds the data, shared by every ``Segment``; a ``Segment`` is the core
plus live flags. Readers keep the ``Segment`` of their snapshot; the writer replaces it
with a copy (``with_live``) when it deletes rows, so a snapshot never changes under a
reader. The core's ``dead_lsn`` records which LSN killed each row (0: live), which lets a
flush persist exactly the deletions up to its LSN while later writes go on.

Over 400 lines on purpose: the segment's files are written and read (and verified) here
only, so its format (FORMAT.md) has one owner.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import msgspec
import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pyroaring import BitMap

from spruce.engine.disk.fsutil import fsync_dir, verify_crc32, write_synced, write_synced_parts
from spruce.engine.read.ann import ANN_FILE, HnswIndex, HnswParams, faiss
from spruce.engine.read.filters import Filter, evaluate
from spruce.engine.read.metaindex import MetaIndex
from spruce.engine.read.rows import Csr, copy_metadata
from spruce.engine.read.sparse_index import SPARSE_INDEX, SparseIndex
from spruce.errors import Corruption
from spruce.types import Metadata, SparseVector

__all__ = [
    "RECORDS",
    "SCHEMA",
    "VECTORS",
    "Segment",
    "SegmentCore",
    "SegmentEntry",
    "open_written",
    "records_table",
    "write_segment",
]

VECTORS = "vectors.npy"
RECORDS = "records.arrow"
# A compaction output names its inputs, so that recovery can prove an unpublished one
# redundant (leftovers.py); JSON with a CRC-32 of the names joined by newlines.
SOURCES = "SOURCES"

SCHEMA = pa.schema(
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
    ann: str | None = None  # format 2: the HNSW index file, if the segment has one
    ann_bytes: int | None = None
    ann_crc32: int | None = None


class _Sources(msgspec.Struct):
    sources: list[str]
    crc32: int


def _sources_crc(names: Sequence[str]) -> int:
    return zlib.crc32("\n".join(names).encode())


def read_sources(directory: Path) -> list[str] | None:
    """The inputs a compaction output names, or None if absent or damaged."""
    try:
        data = msgspec.json.decode((directory / SOURCES).read_bytes(), type=_Sources)
    except (OSError, msgspec.DecodeError):
        return None
    return data.sources if _sources_crc(data.sources) == data.crc32 else None


def records_table(
    ids: Sequence[str],
    sparse: Sequence[SparseVector | None],
    metadata: Sequence[Mapping[str, Any] | None],
) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "metadata": pa.array(
                [None if not m else orjson.dumps(m).decode() for m in metadata], pa.string()
            ),
            "sparse_indices": pa.array(
                [None if s is None else s.indices for s in sparse], pa.list_(pa.uint32())
            ),
            "sparse_values": pa.array(
                [None if s is None else s.values for s in sparse], pa.list_(pa.float32())
            ),
        },
        schema=SCHEMA,
    )


def write_segment(
    directory: Path,
    name: str,
    table: pa.Table,
    vectors: npt.NDArray[np.float32] | None,
    ann: HnswIndex | None = None,
    sources: Sequence[str] = (),
) -> SegmentEntry:
    """Write and fsync a new segment directory; it is garbage until a manifest names it.
    ``sources``: the segments a compaction merged into it (``SOURCES``)."""
    directory.mkdir()
    if sources:
        names = list(sources)
        write_synced(directory / SOURCES, msgspec.json.encode(_Sources(names, _sources_crc(names))))
    vectors_bytes = vectors_crc = None
    if vectors is not None:
        array = np.ascontiguousarray(vectors, dtype="<f4")
        header = _npy_header(array.shape)
        body = memoryview(array.data).cast("B")
        crc = zlib.crc32(body, zlib.crc32(header))
        write_synced_parts(directory / VECTORS, [header, body])
        vectors_bytes, vectors_crc = len(header) + body.nbytes, crc
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, SCHEMA) as writer:
        writer.write_table(table.cast(SCHEMA))
    records = sink.getvalue().to_pybytes()
    write_synced(directory / RECORDS, records)
    _write_sparse_index(directory, table)  # sparse hook (engine/read/sparse_index.py)
    ann_name = ann_bytes = ann_crc = None
    if ann is not None:
        ann_bytes, ann_crc = ann.write(directory / ANN_FILE)
        ann_name = ANN_FILE
    fsync_dir(directory)
    return SegmentEntry(
        name=name,
        rows=table.num_rows,
        records_crc32=zlib.crc32(records),
        vectors_bytes=vectors_bytes,
        vectors_crc32=vectors_crc,
        ann=ann_name,
        ann_bytes=ann_bytes,
        ann_crc32=ann_crc,
    )


def _write_sparse_index(directory: Path, table: pa.Table) -> None:
    """Persist the inverted index of the rows' sparse values, if there are any."""
    indptr, indices = _list_column(table.column("sparse_indices"))
    _, values = _list_column(table.column("sparse_values"))
    csr = Csr(
        indptr,
        indices.to_numpy(zero_copy_only=False).astype(np.uint32, copy=False),
        values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False),
    )
    index = SparseIndex.build(csr, table.num_rows)
    if index.postings:
        index.write(directory / SPARSE_INDEX)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """An NPY 1.0 header for a C-order little-endian float32 array (what np.save writes)."""
    text = "{'descr': '<f4', 'fortran_order': False, 'shape': " + repr(shape) + ", }"
    total = 10 + len(text) + 1
    text += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


def _list_column(column: pa.ChunkedArray) -> tuple[npt.NDArray[np.int64], pa.Array]:
    arr = column.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    indptr = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    return indptr, arr.flatten()


class SegmentCore:
    """A segment's data: ids, metadata and sparse vectors in memory, vectors mmapped."""

    def __init__(
        self,
        directory: Path,
        entry: SegmentEntry,
        dimension: int | None,
        metric: str,
        hnsw: HnswParams,
        *,
        table: pa.Table | None = None,
        ann: HnswIndex | None = None,
        metaindex: MetaIndex | None = None,
    ) -> None:
        self.directory = directory
        self.entry = entry  # as last published; replaced when a new bitmap is published
        self.name = entry.name
        self.metric = metric
        self.vectors: npt.NDArray[np.float32] | None = None
        if dimension is not None:
            path = directory / VECTORS
            if entry.vectors_bytes is None or path.stat().st_size != entry.vectors_bytes:
                raise Corruption(f"{path}: size does not match the manifest")
            verify_crc32(path, entry.vectors_crc32)
            # The mapping reads the page-cache pages the check just verified.
            vectors = np.load(path, mmap_mode="r", allow_pickle=False)
            if vectors.dtype != np.dtype("<f4") or vectors.shape != (entry.rows, dimension):
                raise Corruption(f"{path}: unexpected shape {vectors.shape} or dtype")
            # A plain ndarray over the mapping: numpy's memmap subclass makes gathers and
            # matrix products several times slower.
            self.vectors = np.asarray(vectors)
        if table is None:
            data = (directory / RECORDS).read_bytes()
            if zlib.crc32(data) != entry.records_crc32:
                raise Corruption(f"{directory / RECORDS}: checksum mismatch")
            table = pa.ipc.open_file(pa.py_buffer(data)).read_all()
            if table.num_rows != entry.rows or not table.schema.equals(SCHEMA):
                raise Corruption(f"{directory / RECORDS}: unexpected rows or schema")
        self.table: pa.Table = table
        self.ids: list[str] = table.column("id").to_pylist()
        self._metadata_json: list[str | None] = table.column("metadata").to_pylist()
        self._metadata: list[Metadata | None] | None = None
        self.has_sparse = table.column("sparse_indices").is_valid().to_numpy(zero_copy_only=False)
        indptr, indices = _list_column(table.column("sparse_indices"))
        values_indptr, values = _list_column(table.column("sparse_values"))
        if not np.array_equal(indptr, values_indptr):
            raise Corruption(f"{directory / RECORDS}: sparse indices and values differ in length")
        self.csr = Csr(
            indptr,
            indices.to_numpy(zero_copy_only=False).astype(np.uint32, copy=False),
            values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False),
        )
        self.ann = ann
        if ann is None and entry.ann is not None:
            path = directory / entry.ann
            if self.vectors is None or path.stat().st_size != entry.ann_bytes:
                raise Corruption(f"{path}: size does not match the manifest")
            self.ann = HnswIndex.load(path, self.vectors, metric, hnsw, file_crc=entry.ann_crc32)
        self._metaindex = metaindex
        self._norms: npt.NDArray[np.float32] | None = None
        self._sparse_index: SparseIndex | None = None
        self._row_of: dict[str, int] | None = None
        self._sorted: npt.NDArray[np.intp] | None = None
        self._lazy = threading.Lock()
        self.dead_lsn = np.zeros(entry.rows, dtype=np.int64)
        self.persisted_dead = 0  # dead rows in the bitmap the manifest names

    @property
    def size(self) -> int:
        return self.entry.rows

    def load_deletes(self, lsn: int) -> None:
        """Apply the manifest's bitmap; its rows count as killed at ``lsn`` (<= flushed)."""
        if self.entry.deletes is None:
            return
        path = self.directory / self.entry.deletes
        data = path.read_bytes()
        if zlib.crc32(data) != self.entry.deletes_crc32:
            raise Corruption(f"{path}: checksum mismatch")
        try:
            rows = np.array(BitMap.deserialize(data).to_array(), dtype=np.int64)
        except Exception as exc:  # pyroaring raises plain ValueError and friends
            raise Corruption(f"{path}: bad deletion bitmap: {exc}") from exc
        if rows.size and rows.max() >= self.entry.rows:
            raise Corruption(f"{path}: deleted row out of range")
        self.dead_lsn[rows] = max(lsn, 1)
        self.persisted_dead = int(rows.size)

    def dead_as_of(self, lsn: int) -> npt.NDArray[np.bool_]:
        dead: npt.NDArray[np.bool_] = (self.dead_lsn != 0) & (self.dead_lsn <= lsn)
        return dead

    def write_deletes(self, file_name: str, dead: npt.NDArray[np.bool_]) -> tuple[str, int]:
        """Persist ``dead`` as ``file_name``; returns (name, crc32)."""
        data = BitMap(np.flatnonzero(dead).tolist()).serialize()
        write_synced(self.directory / file_name, data)
        fsync_dir(self.directory)
        return file_name, zlib.crc32(data)

    def row_of(self, id: str) -> int | None:
        return self.id_map().get(id)

    def id_map(self) -> dict[str, int]:
        """id -> row, built on first use."""
        index = self._row_of
        if index is None:
            with self._lazy:
                if self._row_of is None:
                    self._row_of = {id: row for row, id in enumerate(self.ids)}
                index = self._row_of
        return index

    def sorted_rows(self) -> npt.NDArray[np.intp]:
        """Row numbers in id order (for list_ids), computed once."""
        if self._sorted is None:
            with self._lazy:
                if self._sorted is None:
                    ids = self.table.column("id")
                    self._sorted = pc.sort_indices(ids).to_numpy().astype(np.intp)
        return self._sorted

    def norms(self) -> npt.NDArray[np.float32]:
        if self._norms is None:
            assert self.vectors is not None
            norms = np.empty(self.size, dtype=np.float32)
            if self.size:
                faiss.fvec_norms_L2(
                    faiss.swig_ptr(norms),
                    faiss.swig_ptr(self.vectors),
                    self.vectors.shape[1],
                    self.size,
                )
            self._norms = norms
        return self._norms

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]:
        if self._metadata is None:
            with self._lazy:
                if self._metadata is None:
                    self._metadata = [
                        None if s is None else orjson.loads(s) for s in self._metadata_json
                    ]
        return self._metadata

    def metadata_at(self, row: int) -> Metadata | None:
        if self._metadata is not None:
            return copy_metadata(self._metadata[row])
        text = self._metadata_json[row]
        return None if text is None else cast(Metadata, orjson.loads(text))

    @property
    def metaindex(self) -> MetaIndex:
        if self._metaindex is None:
            built = MetaIndex.build(self.metadatas())
            with self._lazy:
                if self._metaindex is None:
                    self._metaindex = built
        assert self._metaindex is not None
        return self._metaindex

    def sparse_index(self) -> SparseIndex:
        """The inverted index, loaded on first use; segments written without one (no
        sparse values, or storage format 1) get it built from the records instead."""
        with self._lazy:
            if self._sparse_index is None:
                try:
                    self._sparse_index = SparseIndex.load(self.directory / SPARSE_INDEX, self.size)
                except FileNotFoundError:  # or removed by a compaction since this snapshot
                    self._sparse_index = SparseIndex.build(self.csr, self.size)
            return self._sparse_index

    def filter_mask(self, filter: Filter) -> npt.NDArray[np.bool_]:
        mask = self.metaindex.mask(filter)
        if mask is None:  # a key the index cannot answer exactly: evaluate row by row
            return evaluate(filter, self.metadatas())
        return mask


class Segment:
    """A core plus live flags; a ``RowSource``. Never mutated once readers can see it."""

    __slots__ = ("core", "live")

    def __init__(self, core: SegmentCore, live: npt.NDArray[np.bool_]) -> None:
        self.core = core
        self.live = live

    @classmethod
    def fresh(cls, core: SegmentCore) -> Segment:
        return cls(core, core.dead_lsn == 0)

    def with_live(self, live: npt.NDArray[np.bool_]) -> Segment:
        return Segment(self.core, live)

    @property
    def origin(self) -> object:
        """What every view of this segment's rows shares (``MemView.origin``)."""
        return self.core

    @property
    def name(self) -> str:
        return self.core.name

    @property
    def ann(self) -> HnswIndex | None:
        return self.core.ann

    def row_of(self, id: str) -> int | None:
        row = self.core.row_of(id)
        return row if row is not None and self.live[row] else None

    def rows_of(self, ids: set[str]) -> dict[str, int]:
        """``row_of`` for many ids at once: the live ones among them."""
        index = self.core.id_map()
        live = self.live
        return {id: row for id in index.keys() & ids if live[row := index[id]]}

    def filter_mask(self, filter: Filter) -> npt.NDArray[np.bool_]:
        return self.core.filter_mask(filter)

    def live_rows(self) -> npt.NDArray[np.intp]:
        return np.flatnonzero(self.live)

    @property
    def live_count(self) -> int:
        return int(np.count_nonzero(self.live))

    # -- RowSource ------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.core.size

    def id_at(self, row: int) -> str:
        return self.core.ids[row]

    def vectors(self) -> npt.NDArray[np.float32] | None:
        return self.core.vectors

    def norms(self) -> npt.NDArray[np.float32]:
        return self.core.norms()

    def metadatas(self) -> Sequence[Mapping[str, Any] | None]:
        return self.core.metadatas()

    def csr(self) -> Csr:
        return self.core.csr

    def sparse_index(self) -> SparseIndex:
        return self.core.sparse_index()

    def values_at(self, row: int) -> npt.NDArray[np.float32] | None:
        vectors = self.core.vectors
        return None if vectors is None else np.array(vectors[row], dtype=np.float32)

    def sparse_at(self, row: int) -> SparseVector | None:
        core = self.core
        if not core.has_sparse[row]:
            return None
        lo, hi = core.csr.indptr[row], core.csr.indptr[row + 1]
        return SparseVector(
            indices=core.csr.indices[lo:hi].copy(), values=core.csr.values[lo:hi].copy()
        )

    def metadata_at(self, row: int) -> Metadata | None:
        return self.core.metadata_at(row)


def open_written(
    directory: Path,
    name: str,
    table: pa.Table,
    vectors: npt.NDArray[np.float32] | None,
    ann: HnswIndex | None,
    metaindex: MetaIndex,
    dimension: int | None,
    metric: str,
    hnsw: HnswParams,
    sources: Sequence[str] = (),
) -> SegmentCore:
    """Write a new segment, make its directory entry durable, and open it from the
    parts already in memory (flush and compaction both end this way)."""
    entry = write_segment(directory, name, table, vectors, ann, sources)
    fsync_dir(directory.parent)
    core = SegmentCore(
        directory, entry, dimension, metric, hnsw, table=table, ann=ann, metaindex=metaindex
    )
    core.row_of("")  # build the id map here, not under the writer's lock
    return core
