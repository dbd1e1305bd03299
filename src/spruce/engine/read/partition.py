"""Shards of a dedicated index, and what each shard stores (for fullness and capacity).

A shard is a fixed slice of the id space: record ``id`` belongs to shard
``crc32(utf-8 id) % shards``. The hash is stable across processes and hosts, so the
writer, every replica and the control plane agree on it without talking; changing the
shard count re-slices the same segments rather than moving files.

Sizes follow Pinecone's sizing guide ("Calculate the size of your index"): a record
takes its id bytes + 4 bytes per dense dimension + 9 bytes per sparse value + its
metadata bytes (here: the JSON text). Memory counts what a read node keeps in RAM to
search: 4 bytes per dense dimension + 8 per sparse value (an approximation, as
Pinecone's own ``memoryFullness`` is).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow.compute as pc

from spruce.engine.disk.segment import SegmentCore
from spruce.errors import InvalidArgument

__all__ = [
    "GrowingStats",
    "Partition",
    "RowStats",
    "ShardUsage",
    "id_hash",
    "record_size",
    "segment_stats",
    "shard_of",
    "shard_usage",
]


def id_hash(id: str) -> int:
    return zlib.crc32(id.encode("utf-8"))


def shard_of(id: str, shards: int) -> int:
    return id_hash(id) % shards


@dataclass(frozen=True)
class Partition:
    """The shard a reader serves: rows with ``id_hash(id) % shards == shard``."""

    shard: int
    shards: int

    def __post_init__(self) -> None:
        if self.shards < 1 or not 0 <= self.shard < self.shards:
            raise InvalidArgument(f"invalid shard {self.shard} of {self.shards}")

    def owns(self, id: str) -> bool:
        return shard_of(id, self.shards) == self.shard


@dataclass(frozen=True)
class ShardUsage:
    records: int
    storage_bytes: int
    memory_bytes: int


@dataclass(frozen=True)
class RowStats:
    """Per row of a source: id hash, storage bytes and memory bytes."""

    hashes: npt.NDArray[np.uint32]
    storage: npt.NDArray[np.int64]
    memory: npt.NDArray[np.int64]

    def mask(self, partition: Partition) -> npt.NDArray[np.bool_]:
        out: npt.NDArray[np.bool_] = (self.hashes % partition.shards) == partition.shard
        return out


def record_size(
    id: str, dimension: int | None, nnz: int, metadata: Mapping[str, Any] | None
) -> tuple[int, int]:
    """(storage bytes, memory bytes) of one record."""
    dense = 4 * (dimension or 0)
    meta = len(orjson.dumps(metadata)) if metadata else 0
    return len(id.encode("utf-8")) + dense + 9 * nnz + meta, dense + 8 * nnz


def segment_stats(core: SegmentCore, dimension: int | None) -> RowStats:
    """Computed once per segment, vectorised over its Arrow columns."""
    table = core.table
    id_bytes = pc.binary_length(table.column("id")).to_numpy(zero_copy_only=False)
    meta_bytes = pc.fill_null(pc.binary_length(table.column("metadata")), 0).to_numpy(
        zero_copy_only=False
    )
    nnz = np.diff(core.csr.indptr).astype(np.int64)
    dense = 4 * (dimension or 0)
    storage = id_bytes.astype(np.int64) + dense + 9 * nnz + meta_bytes.astype(np.int64)
    memory = dense + 8 * nnz
    hashes = np.fromiter((id_hash(i) for i in core.ids), dtype=np.uint32, count=len(core.ids))
    return RowStats(hashes, storage, memory)


class GrowingStats:
    """Row stats of an append-only memtable, kept in step with its rows."""

    def __init__(self) -> None:
        self._n = 0
        self._hashes = np.zeros(64, dtype=np.uint32)
        self._storage = np.zeros(64, dtype=np.int64)
        self._memory = np.zeros(64, dtype=np.int64)

    def append(
        self, id: str, dimension: int | None, nnz: int, metadata: Mapping[str, Any] | None
    ) -> None:
        if self._n == len(self._hashes):
            # Old arrays stay valid for snapshots taken before the growth.
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
            self._storage = np.concatenate([self._storage, np.zeros_like(self._storage)])
            self._memory = np.concatenate([self._memory, np.zeros_like(self._memory)])
        storage, memory = record_size(id, dimension, nnz, metadata)
        self._hashes[self._n] = id_hash(id)
        self._storage[self._n] = storage
        self._memory[self._n] = memory
        self._n += 1

    @property
    def size(self) -> int:
        return self._n

    def snapshot(self, n: int) -> RowStats:
        return RowStats(self._hashes[:n], self._storage[:n], self._memory[:n])


def shard_usage(
    sources: Iterable[tuple[npt.NDArray[np.bool_], RowStats]], shards: int
) -> list[ShardUsage]:
    """What each of ``shards`` shards holds, given (live flags, stats) per source."""
    records = np.zeros(shards, dtype=np.int64)
    storage = np.zeros(shards, dtype=np.float64)
    memory = np.zeros(shards, dtype=np.float64)
    for live, stats in sources:
        shard = (stats.hashes[live] % shards).astype(np.intp)
        records += np.bincount(shard, minlength=shards)
        storage += np.bincount(shard, weights=stats.storage[live], minlength=shards)
        memory += np.bincount(shard, weights=stats.memory[live], minlength=shards)
    return [
        ShardUsage(int(r), int(s), int(m))
        for r, s, m in zip(records.tolist(), storage.tolist(), memory.tolist(), strict=True)
    ]
