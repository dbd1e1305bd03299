"""The data plane of indexes with dedicated read nodes.

``DedicatedDataPlane`` is the ``DataPlane`` every edge calls; for an index whose applied
read capacity is on-demand it changes nothing. For a dedicated one, the namespace the
data plane works on is wrapped (``_Routed``): writes still go to this process, the one
writer, after Pinecone's limits are checked (one namespace per index, shard capacity);
reads (query, fetch, list) go to the index's replica processes, one replica per shard
(round-robin among a shard's replicas), carrying the writer's LSN so the replica first
catches up to it. Validation stays in ``DataPlane``, so both modes answer bad input
alike.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from spruce.catalog import IndexRow
from spruce.engine.read.filters import Filter
from spruce.engine.read.partition import shard_of
from spruce.engine.read.terms import TermsAll
from spruce.engine.read.view import View
from spruce.engine.write.namespace import Namespace
from spruce.errors import FailedPrecondition
from spruce.service.data_plane import DataPlane
from spruce.service.handle import NamespaceHandle
from spruce.service.read_capacity.nodes import ReadNodes
from spruce.service.read_capacity.protocol import (
    FetchReply,
    FetchRequest,
    ListReply,
    ListRequest,
    QueryReply,
    QueryRequest,
    ReplicaClient,
    filter_json,
    from_wire,
)
from spruce.service.read_capacity.replicas import ReplicaSet
from spruce.service.storage import NamespaceInfo, Stats
from spruce.types import Match, Metadata, Record, SparseVector, Vector

__all__ = ["DedicatedDataPlane"]

T = TypeVar("T")


class DedicatedDataPlane(DataPlane):
    def __init__(self, data_dir: Path, *, flush_rows: int, nodes: ReadNodes) -> None:
        super().__init__(data_dir, flush_rows=flush_rows)
        self.nodes = nodes
        nodes.bind(self.store)
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="fan-out")

    def _namespace(
        self, index: IndexRow, namespace: str, *, create: bool
    ) -> NamespaceHandle | None:
        if not self.nodes.applied(index).dedicated:
            return self.store(index).get(namespace, create=create)
        if create:
            self._one_namespace(index, namespace)
        ns = self.store(index).get(namespace, create=create)
        return None if ns is None else _Routed(self, index, namespace, ns)

    def _first_write(
        self, index: IndexRow, namespace: str, write: Callable[[NamespaceHandle], int]
    ) -> int:
        if not self.nodes.applied(index).dedicated:
            return super()._first_write(index, namespace, write)
        ns = self._namespace(index, namespace, create=True)  # routed to the read nodes
        assert ns is not None
        return write(ns)

    def _one_namespace(self, index: IndexRow, namespace: str) -> None:
        names = self.store(index).names()
        if names and namespace not in names:
            raise FailedPrecondition(
                f"Index '{index.name}' has dedicated read nodes, which support a single "
                f"namespace; it already has namespace '{names[0]}'"
            )

    def create_namespace(
        self, index: IndexRow, namespace: str, schema: object = None
    ) -> NamespaceInfo:
        if self.nodes.applied(index).dedicated:
            self._one_namespace(index, namespace)
        return super().create_namespace(index, namespace, schema)

    def stats(self, index: IndexRow, filter: object = None) -> Stats:
        stats = super().stats(index, filter)
        fullness = self.nodes.fullness(index)
        if fullness is not None:
            stats.memory_fullness, stats.storage_fullness = fullness
            stats.index_fullness = max(fullness)
        return stats

    def close(self) -> None:
        super().close()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Routed:
    """A dedicated index's namespace: writes to the writer, reads to the replicas."""

    def __init__(self, plane: DedicatedDataPlane, index: IndexRow, name: str, writer: Namespace):
        self._plane = plane
        self._index = index
        self._name = name
        self._writer = writer

    @property
    def lsn(self) -> int:
        return self._writer.lsn

    def _replicas(self) -> ReplicaSet | None:
        """None while a change back to on-demand completes: reads are served here."""
        replicas = self._plane.nodes.replicas(self._index)
        if replicas is None:
            self._plane.nodes.check_serving(self._index)
        return replicas

    # -- writes: limits first, then the writer ---------------------------------------

    def upsert(self, records: Sequence[Record]) -> int:
        self._plane.nodes.admit(self._index, self._name, list(records))
        return self._wrote(self._writer.upsert(records))

    def _wrote(self, result: T) -> T:
        self._plane.nodes.wrote(self._index)
        return result

    def delete(self, ids: Sequence[str]) -> int:
        return self._wrote(self._writer.delete(ids))

    def delete_where(self, filter: Filter) -> tuple[int, int]:
        return self._wrote(self._writer.delete_where(filter))

    def delete_all(self) -> int:
        return self._wrote(self._writer.delete_all())

    def update(
        self,
        id: str,
        *,
        values: Vector | None = None,
        sparse: SparseVector | None = None,
        set_metadata: Metadata | None = None,
    ) -> tuple[int, bool]:
        # Room for the record as it will be: the current one with the changes applied.
        current = self._writer.fetch([id]).get(id)
        if current is not None:
            merged = {**(current.metadata or {}), **(set_metadata or {})}
            grown = Record(
                id,
                current.values if values is None else values,
                current.sparse if sparse is None else sparse,
                merged or None,
            )
            self._plane.nodes.admit(self._index, self._name, [grown])
        return self._wrote(
            self._writer.update(id, values=values, sparse=sparse, set_metadata=set_metadata)
        )

    def update_where(self, filter: Filter, set_metadata: Metadata) -> tuple[int, int]:
        self._plane.nodes.admit_where(self._index, self._name, filter, set_metadata)
        return self._wrote(self._writer.update_where(filter, set_metadata))

    # -- reads: one replica per shard; counts and pages by filter on the writer -------

    def count(self, filter: Filter | None = None) -> int:
        return self._writer.count(filter)

    def read_view(self) -> View:
        # Full-text search scores the writer's view: replicas serve vector queries.
        return self._writer.read_view()

    def fetch_where(
        self, filter: Filter, *, limit: int = 100, after: str | None = None
    ) -> list[Record]:
        return self._writer.fetch_where(filter, limit=limit, after=after)

    def fetch(self, ids: Sequence[str]) -> dict[str, Record]:
        replicas = self._replicas()
        if replicas is None:
            return self._writer.fetch(ids)
        by_shard: dict[int, list[str]] = {}
        for id in ids:
            by_shard.setdefault(shard_of(id, replicas.shards), []).append(id)
        lsn = self._writer.lsn

        def one(shard: int, wanted: list[str]) -> FetchReply:
            req = FetchRequest(namespace=self._name, min_lsn=lsn, ids=wanted)
            reply: FetchReply = replicas.call(shard, lambda c: _call(c, "/fetch", req, FetchReply))
            return reply

        futures = [self._plane._pool.submit(one, s, w) for s, w in by_shard.items()]
        found: dict[str, Record] = {}
        for future in futures:
            for w in future.result().records:
                m = from_wire(w)
                found[m.id] = Record(m.id, m.values, m.sparse, m.metadata)
        return {id: found[id] for id in ids if id in found}

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
        replicas = self._replicas()
        if replicas is None or _local_only(filter):
            return self._writer.query(
                vector,
                top_k=top_k,
                filter=filter,
                sparse=sparse,
                include_values=include_values,
                include_metadata=include_metadata,
            )
        req = QueryRequest(
            namespace=self._name,
            min_lsn=self._writer.lsn,
            top_k=top_k,
            vector=None if vector is None else np.asarray(vector, "<f4").tobytes(),
            sparse_indices=None if sparse is None else np.asarray(sparse.indices, "<u4").tobytes(),
            sparse_values=None if sparse is None else np.asarray(sparse.values, "<f4").tobytes(),
            filter=None if filter is None else filter_json(filter),
            include_values=include_values,
            include_metadata=include_metadata,
        )
        replies = replicas.fan_out(lambda c: _call(c, "/query", req, QueryReply), self._plane._pool)
        matches = [from_wire(w) for r in replies for w in r.matches]
        # Each shard sent its exact top k; the best k of their union is the global top k,
        # ties broken by id as a single search would.
        sign = 1.0 if self._writer.metric == "euclidean" else -1.0
        return heapq.nsmallest(top_k, matches, key=lambda m: (sign * m.score, m.id))

    def list_ids(
        self, *, prefix: str = "", limit: int = 100, after: str | None = None
    ) -> list[str]:
        replicas = self._replicas()
        if replicas is None:
            return self._writer.list_ids(prefix=prefix, limit=limit, after=after)
        req = ListRequest(
            namespace=self._name, min_lsn=self._writer.lsn, prefix=prefix, limit=limit, after=after
        )
        replies = replicas.fan_out(lambda c: _call(c, "/list", req, ListReply), self._plane._pool)
        return list(heapq.merge(*(r.ids for r in replies)))[:limit]


def _local_only(filter: Filter | None) -> bool:
    """match_terms (engine/read/terms.py) has no filter JSON to send to a replica: such a
    query is answered by the writer, which holds every record too."""
    stack = [] if filter is None else [filter]
    while stack:
        node = stack.pop()
        if isinstance(node, TermsAll):
            return True
        stack.extend(getattr(node, "children", ()))
    return False


def _call(client: ReplicaClient, path: str, req: Any, reply: type[Any]) -> Any:
    return client.call(path, req, reply)
