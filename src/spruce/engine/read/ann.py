"""HNSW indexes for large segments (faiss), stored graph-only inside a Spruce frame.

A segment's ``vectors.npy`` is the source of truth for its vectors, so the index file
holds only the HNSW graph (faiss ``IO_FLAG_SKIP_STORAGE``); on load the vector storage
is rebuilt from the segment's vectors in the configured precision (float32, fp16 or
8-bit). Scores from the graph are approximate for the reduced precisions, so callers
re-rank candidates exactly against the float32 vectors (search.py).

Cosine indexes hold unit-normalised vectors and search by inner product; the caller
re-scores with the exact cosine. File layout (docs/FORMAT.md, "HNSW index"):
``"SPRCHNSW" | u32 version | u32 metric | u32 storage | u32 M | u64 rows | u32 crc32 |
u64 length | faiss graph bytes``.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss as _faiss
import numpy as np
import numpy.typing as npt

from spruce import observe
from spruce.engine.disk.fsutil import write_synced
from spruce.errors import Corruption

__all__ = [
    "ANN_FILE",
    "STORAGES",
    "BuildCancelled",
    "HnswIndex",
    "HnswParams",
    "faiss",
    "normalized",
]

# faiss's SWIG-generated stubs are incomplete (no SearchParametersHNSW, wrong overloads).
faiss: Any = _faiss

ANN_FILE = "hnsw.idx"
MAGIC = b"SPRCHNSW"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIIIIQIQ")
_METRICS = {"cosine": 0, "dotproduct": 1, "euclidean": 2}
STORAGES = ("f32", "fp16", "sq8")
_STORAGE_CODES = {"f32": 0, "fp16": 1, "sq8": 2}
# Vectors added per faiss call while building, so a build can be abandoned between chunks.
_ADD_CHUNK = 16384


class BuildCancelled(Exception):
    """``stop()`` turned true while an index was being built."""


@dataclass(frozen=True)
class HnswParams:
    m: int = 16
    ef_construction: int = 80
    storage: str = "f32"  # "f32" | "fp16" | "sq8"


def normalized(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    out = np.array(vectors, dtype=np.float32, copy=True)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _faiss_metric(metric: str) -> int:
    return int(faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT)


def _new_storage(dimension: int, metric: str, storage: str) -> faiss.Index:
    fm = _faiss_metric(metric)
    if storage == "f32":
        return faiss.IndexFlat(dimension, fm)
    qtype = faiss.ScalarQuantizer.QT_fp16 if storage == "fp16" else faiss.ScalarQuantizer.QT_8bit
    return faiss.IndexScalarQuantizer(dimension, qtype, fm)


def _prepared(vectors: npt.NDArray[np.float32], metric: str) -> npt.NDArray[np.float32]:
    if metric == "cosine":
        return normalized(vectors)
    return np.ascontiguousarray(vectors, dtype=np.float32)


class HnswIndex:
    """One segment's graph plus its vector storage; searches are thread-safe."""

    def __init__(
        self, index: faiss.IndexHNSW, storage: faiss.Index, metric: str, params: HnswParams
    ):
        self._index = index
        self._storage = storage  # faiss does not own it: this reference keeps it alive
        self.metric = metric
        self.params = params

    @property
    def rows(self) -> int:
        return int(self._index.ntotal)

    # -- building -------------------------------------------------------------

    @classmethod
    def build(
        cls,
        vectors: npt.NDArray[np.float32],
        metric: str,
        params: HnswParams,
        base: HnswIndex | None = None,
        stop: Callable[[], bool] | None = None,
        threads: Callable[[], int] | None = None,
    ) -> HnswIndex:
        """A new index over ``vectors``; with ``base``, a copy of it extended by the rows
        after ``base.rows`` (which must be the first rows of ``vectors``). Checks
        ``stop`` between chunks and raises ``BuildCancelled`` when it is true; asks
        ``threads`` (default: every core) how many threads the next chunk may use."""
        started = time.perf_counter()
        n, dimension = vectors.shape
        data = _prepared(vectors, metric)
        storage = _new_storage(dimension, metric, params.storage)
        if params.storage == "sq8":
            storage.train(data)
        elif params.storage == "fp16":
            storage.train(data[:0])
        if base is None:
            index = faiss.IndexHNSW(storage, params.m)
            index.own_fields = False
            index.hnsw.efConstruction = params.ef_construction
            start = 0
        else:
            index = _graph_only_copy(base)
            index.storage = storage
            storage.add(data[: base.rows])
            index.ntotal = base.rows
            index.hnsw.efConstruction = params.ef_construction
            start = base.rows
        for lo in range(start, n, _ADD_CHUNK):
            if stop is not None and stop():
                raise BuildCancelled
            # OpenMP keeps this per calling thread: a build never throttles searches.
            faiss.omp_set_num_threads(threads() if threads else (os.cpu_count() or 1))
            index.add(data[lo : lo + _ADD_CHUNK])
        observe.record("hnsw_build", time.perf_counter() - started, n - start)
        return cls(index, storage, metric, params)

    # -- persistence ----------------------------------------------------------

    def write(self, path: Path) -> tuple[int, int]:
        """Write the framed graph to ``path`` (fsync'd); returns (size, crc32 of the file)."""
        graph = _graph_bytes(self._index).tobytes()
        header = _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            _METRICS[self.metric],
            _STORAGE_CODES[self.params.storage],
            self.params.m,
            self.rows,
            zlib.crc32(graph),
            len(graph),
        )
        data = header + graph
        write_synced(path, data)
        return len(data), zlib.crc32(data)

    @classmethod
    def load(
        cls,
        path: Path,
        vectors: npt.NDArray[np.float32],
        metric: str,
        params: HnswParams,
        *,
        file_crc: int | None = None,
    ) -> HnswIndex:
        """Read a framed graph and attach storage built from ``vectors`` (all rows).
        ``file_crc``: the manifest's CRC-32 of the whole file, header included."""
        data = path.read_bytes()
        if file_crc is not None and zlib.crc32(data) != file_crc:
            raise Corruption(f"{path}: CRC-32 of the file does not match the manifest")
        if len(data) < _HEADER.size:
            raise Corruption(f"{path}: truncated HNSW index")
        magic, version, metric_code, storage_code, m, rows, crc, length = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise Corruption(f"{path}: not a Spruce HNSW index")
        if version != FORMAT_VERSION:
            raise Corruption(f"{path}: unsupported HNSW index version {version}")
        graph = np.frombuffer(data, dtype=np.uint8, offset=_HEADER.size)
        if length != graph.size or zlib.crc32(memoryview(data)[_HEADER.size :]) != crc:
            raise Corruption(f"{path}: HNSW index checksum or length mismatch")
        if metric_code != _METRICS[metric] or rows != vectors.shape[0]:
            raise Corruption(f"{path}: HNSW index does not match its segment")
        storage_name = {v: k for k, v in _STORAGE_CODES.items()}.get(storage_code)
        if storage_name is None:
            raise Corruption(f"{path}: unknown HNSW storage code {storage_code}")
        try:
            reader = faiss.VectorIOReader()
            faiss.copy_array_to_vector(graph, reader.data)
            index = faiss.read_index(reader)
        except RuntimeError as exc:
            raise Corruption(f"{path}: unreadable HNSW graph: {exc}") from exc
        if not isinstance(index, faiss.IndexHNSW) or index.ntotal != rows:
            raise Corruption(f"{path}: unexpected HNSW graph")
        # Storage precision is the file's, whatever the current default is.
        params = HnswParams(m=m, ef_construction=params.ef_construction, storage=storage_name)
        storage = _new_storage(vectors.shape[1], metric, storage_name)
        for lo in range(0, rows, 1 << 16):
            chunk = _prepared(np.asarray(vectors[lo : lo + (1 << 16)]), metric)
            if storage_name == "sq8" and lo == 0:
                storage.train(_prepared(np.asarray(vectors), metric))
            storage.add(chunk)
        index.storage = storage
        index.own_fields = False
        return cls(index, storage, metric, params)

    # -- search ---------------------------------------------------------------

    def search(
        self,
        query: npt.NDArray[np.float32],
        k: int,
        ef: int,
        allowed: npt.NDArray[np.bool_] | None,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Up to ``k`` approximate nearest rows among ``allowed``, with faiss's scores
        (inner product, cosine for cosine indexes, or squared L2)."""
        q = query.reshape(1, -1).astype(np.float32, copy=False)
        if self.metric == "cosine":
            norm = float(np.linalg.norm(q))
            q = q / norm if norm > 0 else q
        k = min(k, self.rows)
        faiss.omp_set_num_threads(1)  # one query, one thread; concurrency is across queries
        if allowed is None:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
        else:
            bits = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(allowed.size, faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(ef, k))
        distances, labels = self._index.search(q, k, params=params)
        found = labels[0] >= 0
        return labels[0][found], distances[0][found]


def _graph_bytes(index: faiss.IndexHNSW) -> npt.NDArray[np.uint8]:
    writer = faiss.VectorIOWriter()
    faiss.write_index(index, writer, faiss.IO_FLAG_SKIP_STORAGE)
    out: npt.NDArray[np.uint8] = faiss.vector_to_array(writer.data)
    return out


def _graph_only_copy(base: HnswIndex) -> faiss.IndexHNSW:
    reader = faiss.VectorIOReader()
    faiss.copy_array_to_vector(_graph_bytes(base._index), reader.data)
    index = faiss.read_index(reader)
    assert isinstance(index, faiss.IndexHNSW)
    return index
