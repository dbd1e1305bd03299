"""The read path, written once for every reader of a namespace.

The writer (``Namespace``), the follower a replica serves from (``Follower``) and the
accounting follower all answer query, fetch, list and count from an immutable
``Snapshot``: a ``View`` (view.py) and, for readers that serve one shard of a dedicated
index, per-source row statistics that say which rows a ``Partition`` owns. A reader
subclasses ``SnapshotReader`` and says only how it gets its current snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from spruce.engine.options import EngineOptions
from spruce.engine.read.filters import Filter
from spruce.engine.read.partition import Partition, RowStats, ShardUsage, shard_usage
from spruce.engine.read.rows import copy_sparse
from spruce.engine.read.search import Metric, QuerySpec, merge_top_k, source_candidates
from spruce.engine.read.view import Source, View
from spruce.engine.write import validate
from spruce.errors import Internal, InvalidArgument
from spruce.types import Match, Record, SparseVector, Vector

__all__ = ["Snapshot", "SnapshotReader", "to_record"]


@dataclass(frozen=True)
class Snapshot:
    view: View
    stats: tuple[RowStats, ...] | None = None  # aligned with view.sources()

    def allowed(
        self, filter: Filter | None, partition: Partition | None = None
    ) -> list[tuple[Source, npt.NDArray[np.bool_]]]:
        """Each source with the rows a read may return: live, matching, in the shard."""
        sources = self.view.sources()
        if partition is not None and self.stats is None:
            raise Internal("this reader has no shard statistics")
        out = []
        for i, src in enumerate(sources):
            mask = src.live if filter is None else src.live & src.filter_mask(filter)
            if partition is not None:
                assert self.stats is not None
                mask = mask & self.stats[i].mask(partition)
            out.append((src, mask))
        return out

    def matching(self, filter: Filter) -> list[str]:
        """Ids of the live records ``filter`` matches."""
        return [
            src.id_at(int(row))
            for src, allowed in self.allowed(filter)
            for row in np.flatnonzero(allowed)
        ]


class SnapshotReader:
    """Query, fetch, list and count over ``_read_snapshot()``; thread-safe, lock-free."""

    def __init__(self, dimension: int | None, metric: Metric, options: EngineOptions) -> None:
        self._dimension = dimension
        self._metric: Metric = metric
        self._options = options

    @property
    def dimension(self) -> int | None:
        return self._dimension

    @property
    def metric(self) -> Metric:
        return self._metric

    def _read_snapshot(self) -> Snapshot:
        raise NotImplementedError

    def read_view(self) -> View:
        """The namespace as of now, for readers that score its sources themselves
        (full-text search, service/documents/fulltext.py)."""
        return self._read_snapshot().view

    def query(
        self,
        vector: Vector | None,
        *,
        top_k: int,
        filter: Filter | None = None,
        sparse: SparseVector | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        partition: Partition | None = None,
    ) -> list[Match]:
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidArgument("top_k must be a positive integer")
        if vector is None and sparse is None:
            raise InvalidArgument("a query needs a dense vector, sparse values or both")
        if sparse is not None and vector is not None and self._metric != "dotproduct":
            raise InvalidArgument("sparse values can only be queried with the dotproduct metric")
        q = None if vector is None else validate.check_dense(vector, self._dimension, "query")
        qs = None if sparse is None else validate.check_sparse(sparse, "query")
        # Sparse values alone are scored by dot product whatever the dense metric (a
        # document index's sparse slot beside a cosine dense slot, docs/DOCUMENTS.md).
        metric = self._metric if q is not None else "dotproduct"
        spec = QuerySpec.build(metric, top_k, q, qs)
        allowed = self._read_snapshot().allowed(filter, partition)
        sources = [src for src, _ in allowed]
        tuning = self._options.search
        per_source = [source_candidates(src, mask, spec, tuning) for src, mask in allowed]
        matches = []
        for c in merge_top_k(sources, per_source, spec):
            r = to_record(sources[c.source], c.row, include_values, include_metadata)
            matches.append(Match(c.id, c.score, r.values, r.sparse, r.metadata))
        return matches

    def fetch(self, ids: Sequence[str], partition: Partition | None = None) -> dict[str, Record]:
        view = self._read_snapshot().view
        out: dict[str, Record] = {}
        for id in ids:
            if partition is not None and not partition.owns(id):
                continue
            loc = view.locate(id)
            if loc is not None:
                out[id] = to_record(loc[0], loc[1], True, True)
        return out

    def list_ids(
        self,
        *,
        prefix: str = "",
        limit: int = 100,
        after: str | None = None,
        partition: Partition | None = None,
    ) -> list[str]:
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        view = self._read_snapshot().view
        if partition is None:
            return view.list_ids(prefix, limit, after)
        out: list[str] = []
        step = max(limit * partition.shards, 64)
        while len(out) < limit:
            page = view.list_ids(prefix, step, after)
            out.extend(i for i in page if partition.owns(i))
            if len(page) < step:
                break
            after = page[-1]
        return out[:limit]

    def ids_where(self, filter: Filter, *, limit: int = 100, after: str | None = None) -> list[str]:
        """Up to ``limit`` live ids matching ``filter``, in id order, above ``after``."""
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        rows = self._read_snapshot().view.rows_where(filter, limit, after)
        return [src.id_at(row) for src, row in rows]

    def fetch_where(
        self, filter: Filter, *, limit: int = 100, after: str | None = None
    ) -> list[Record]:
        """The records ``ids_where`` names, read from the same snapshot."""
        if limit < 0:
            raise InvalidArgument("limit must not be negative")
        rows = self._read_snapshot().view.rows_where(filter, limit, after)
        return [to_record(src, row, True, True) for src, row in rows]

    def count(self, filter: Filter | None = None, partition: Partition | None = None) -> int:
        snap = self._read_snapshot()
        if filter is None and partition is None:
            return snap.view.count()
        return sum(int(np.count_nonzero(mask)) for _, mask in snap.allowed(filter, partition))

    def matching(self, filter: Filter) -> list[str]:
        """Ids of the live records ``filter`` matches."""
        return self._read_snapshot().matching(filter)

    def usage(self, shards: int) -> list[ShardUsage]:
        """Records and bytes each of ``shards`` shards holds, as of the snapshot."""
        snap = self._read_snapshot()
        if snap.stats is None:
            raise Internal("this reader has no shard statistics")
        lives = (src.live for src in snap.view.sources())
        return shard_usage(zip(lives, snap.stats, strict=True), shards)


def to_record(src: Source, row: int, values: bool, metadata: bool) -> Record:
    return Record(
        id=src.id_at(row),
        values=src.values_at(row) if values else None,
        sparse=copy_sparse(src.sparse_at(row)) if values else None,
        metadata=src.metadata_at(row) if metadata else None,
    )
