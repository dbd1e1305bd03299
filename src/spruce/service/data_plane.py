"""Data-plane use cases: every read and write of records, for every edge.

Indexes' storage and the namespace use cases (stats, list, create, delete) are
``IndexStorage``'s (storage.py), which ``DataPlane`` extends.

Calls are synchronous and may block on disk; edges run them in a thread pool
so the event loop never waits on fsync or a scan.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from spruce.catalog import IndexRow
from spruce.engine.read.filters import And, Filter, parse_filter
from spruce.errors import InvalidArgument, NotFound
from spruce.service.handle import NamespaceHandle
from spruce.service.limits import (
    DEFAULT_FETCH_BY_METADATA_LIMIT,
    MAX_DELETE_IDS,
    MAX_FETCH_BY_METADATA_LIMIT,
    MAX_FETCH_IDS,
    MAX_LIST_LIMIT,
    MAX_QUERY_RESULT_BYTES,
    MAX_TOP_K,
    MAX_UPSERT_BATCH,
    check_query_result,
)
from spruce.service.records import (
    SPARSE_NOT_SUPPORTED,
    check_dense,
    check_direction,
    check_id,
    check_metadata,
    check_records,
    check_sparse,
    sparse_queries_allowed,
)
from spruce.service.storage import IndexStorage
from spruce.types import Match, Record

__all__ = ["EMPTY_FETCH_FILTER", "DataPlane", "FetchPage", "ListPage", "QueryResult"]

#: Pinecone's own message for ``fetch_by_metadata`` without a filter.
EMPTY_FETCH_FILTER = "Empty filter provided for fetch by metadata request"

_GB = 1024**3


@dataclass
class QueryResult:
    matches: list[Match]
    namespace: str
    read_units: int
    lsn: int


@dataclass
class FetchPage:
    """One page of ``fetch_by_metadata``: records in id order."""

    records: list[Record]
    next_token: str | None
    namespace: str
    read_units: int
    lsn: int


@dataclass
class ListPage:
    ids: list[str]
    next_token: str | None
    namespace: str
    lsn: int


class DataPlane(IndexStorage):
    """Reads and writes of records; the stores and namespaces are ``IndexStorage``'s."""

    # -- writes ----------------------------------------------------------------

    def upsert(self, index: IndexRow, namespace: str, vectors: object) -> tuple[int, int]:
        """Validate every record first, so a bad record changes nothing."""
        if not isinstance(vectors, list):
            raise InvalidArgument("vectors must be a list")
        if not vectors:
            raise InvalidArgument("No vectors provided for upsert")
        if len(vectors) > MAX_UPSERT_BATCH:
            raise InvalidArgument(
                f"Upsert request has {len(vectors)} vectors, the maximum per request is "
                f"{MAX_UPSERT_BATCH}"
            )
        records = check_records(vectors, index.dimension, index.vector_type, index.metric)
        batch = _last_wins(records)
        ns = self._namespace(index, namespace, create=False)
        if ns is None:  # the namespace appears with this write (IndexStore.create_with)
            return self._first_write(index, namespace, lambda n: n.upsert(batch)), len(records)
        return ns.upsert(batch), len(records)

    def update(
        self,
        index: IndexRow,
        namespace: str,
        *,
        id: object = None,
        values: object = None,
        sparse_values: object = None,
        set_metadata: object = None,
        filter: object = None,
        dry_run: bool = False,
    ) -> tuple[int, int]:
        """Update one record by id, or the metadata of every record matching a filter."""
        metadata = check_metadata(set_metadata) if set_metadata is not None else None
        if filter is not None:
            if id is not None:
                raise InvalidArgument("Cannot update by both id and filter")
            if values is not None or sparse_values is not None:
                raise InvalidArgument("Updating values by filter is not supported")
            parsed = _require_filter(filter)
            ns = self._namespace(index, namespace, create=False)
            if ns is None:
                return 0, 0
            self._indexed(index, namespace, parsed)
            if dry_run:
                return ns.lsn, ns.count(parsed)
            return ns.update_where(parsed, metadata or {})
        record_id = check_id(id)
        dense = None
        if values is not None and values != []:
            dense = check_dense(values, index.dimension)
            check_direction(dense, index.metric)
        sparse = None
        if sparse_values is not None:
            if not sparse_queries_allowed(index.vector_type, index.metric):
                raise InvalidArgument(SPARSE_NOT_SUPPORTED)
            sparse = check_sparse(sparse_values)
        ns = self._namespace(index, namespace, create=False)
        if ns is None:
            raise NotFound(f"Vector with ID {record_id} not found")
        lsn, found = ns.update(record_id, values=dense, sparse=sparse, set_metadata=metadata)
        if not found:
            raise NotFound(f"Vector with ID {record_id} not found")
        return lsn, 1

    def delete(
        self,
        index: IndexRow,
        namespace: str,
        *,
        ids: object = None,
        delete_all: bool = False,
        filter: object = None,
    ) -> int:
        chosen = sum(x is not None and x is not False for x in (ids, filter, delete_all or None))
        if chosen != 1:
            raise InvalidArgument("Exactly one of ids, deleteAll or filter must be provided")
        ns = self._namespace(index, namespace, create=False)
        if delete_all:
            if ns is None:
                raise NotFound("Namespace not found")
            # Pinecone's multitenancy guide: deleting all of a tenant's records deletes
            # its namespace too. Dropping it is one rename (atomic and durable, as
            # delete_namespace), after which the name is free for an upsert or import.
            lsn = ns.lsn
            self.delete_namespace(index, namespace)
            return lsn
        if filter is not None:
            parsed = _require_filter(filter)
            if ns is None:
                return 0
            self._indexed(index, namespace, parsed)
            return ns.delete_where(parsed)[0]
        if not isinstance(ids, list):
            raise InvalidArgument("ids must be a list of strings")
        if len(ids) > MAX_DELETE_IDS:
            raise InvalidArgument(f"Cannot delete more than {MAX_DELETE_IDS} ids at once")
        checked = [check_id(i) for i in ids]
        return ns.delete(checked) if ns is not None else 0

    # -- reads -----------------------------------------------------------------

    def query(
        self,
        index: IndexRow,
        namespace: str,
        *,
        top_k: object,
        vector: object = None,
        sparse_vector: object = None,
        id: object = None,
        filter: object = None,
        include_values: bool = False,
        include_metadata: bool = False,
        require: Filter | None = None,
    ) -> QueryResult:
        """``require``: a condition the service adds to ``filter`` (match_terms)."""
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise InvalidArgument("topK must be an integer")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(
                f"Invalid value for top_k: {top_k}, it must be between 1 and {MAX_TOP_K}"
            )
        given = sum(x is not None for x in (vector, id)) + (
            1 if sparse_vector is not None and vector is None else 0
        )
        if given != 1:
            raise InvalidArgument(
                "Exactly one of vector, sparseVector or id must be provided for a query"
            )
        parsed = parse_filter(filter)
        dense = None
        if vector is not None and vector != []:
            if index.vector_type == "sparse":
                raise InvalidArgument("Dense vectors are not supported for sparse indexes")
            dense = check_dense(vector, index.dimension, what="Query vector", field="vector")
        sparse = (
            check_sparse(sparse_vector, what="Sparse query vector", field="sparseVector")
            if sparse_vector is not None
            else None
        )
        hybrid = sparse_queries_allowed(index.vector_type, index.metric)
        if sparse is not None and not hybrid:
            raise InvalidArgument(SPARSE_NOT_SUPPORTED)
        ns = self._namespace(index, namespace, create=False)
        if ns is None:
            return QueryResult([], namespace, 1, 0)
        if id is not None:
            record = ns.fetch([check_id(id)]).get(cast(str, id))
            if record is None:
                return QueryResult([], namespace, 1, ns.lsn)
            # A cosine/euclidean index may store sparse values but cannot score them.
            dense, sparse = record.values, record.sparse if hybrid else None
        if dense is None and sparse is None:
            raise InvalidArgument("Query vector must not be empty")
        self._indexed(index, namespace, parsed)
        if require is not None:
            parsed = require if parsed is None else And((parsed, require))
        dim = index.dimension or 0
        if include_values and top_k * 4 * dim > MAX_QUERY_RESULT_BYTES:
            # The values alone may pass the limit: ids and scores first, so that a refused
            # result never gathers its vectors (eight such queries held 1.3 GB).
            ranked = ns.query(dense, top_k=top_k, filter=parsed, sparse=sparse)
            check_query_result(ranked, values_dimension=dim)
        matches = ns.query(
            dense,
            top_k=top_k,
            filter=parsed,
            sparse=sparse,
            include_values=include_values,
            include_metadata=include_metadata,
        )
        check_query_result(matches)
        return QueryResult(matches, namespace, _read_units(ns, index), ns.lsn)

    def fetch(
        self, index: IndexRow, namespace: str, ids: Sequence[str]
    ) -> tuple[dict[str, Record], int]:
        if not ids:
            raise InvalidArgument("No IDs provided for fetch")
        if len(ids) > MAX_FETCH_IDS:
            raise InvalidArgument(f"Cannot fetch more than {MAX_FETCH_IDS} ids at once")
        checked = [check_id(i) for i in ids]
        ns = self._namespace(index, namespace, create=False)
        if ns is None:
            return {}, 0
        return ns.fetch(checked), ns.lsn

    def list_ids(
        self, index: IndexRow, namespace: str, *, prefix: str, limit: int, token: str | None
    ) -> ListPage:
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"Invalid limit {limit}: must be between 1 and {MAX_LIST_LIMIT}")
        after = _decode_token(token) if token else None
        ns = self._namespace(index, namespace, create=False)
        if ns is None:
            return ListPage([], None, namespace, 0)
        # One extra id tells whether another page exists without a second call.
        ids = ns.list_ids(prefix=prefix, limit=limit + 1, after=after)
        more = len(ids) > limit
        ids = ids[:limit]
        return ListPage(ids, _encode_token(ids[-1]) if more else None, namespace, ns.lsn)

    def fetch_by_metadata(
        self,
        index: IndexRow,
        namespace: str,
        *,
        filter: object,
        limit: object = None,
        token: object = None,
    ) -> FetchPage:
        """One page of the records matching ``filter``, in id order (as ``list_ids``)."""
        parsed = parse_filter(filter)
        if parsed is None:
            raise InvalidArgument(EMPTY_FETCH_FILTER)
        if limit is None:
            limit = DEFAULT_FETCH_BY_METADATA_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidArgument("limit must be an integer")
        if not 1 <= limit <= MAX_FETCH_BY_METADATA_LIMIT:
            raise InvalidArgument(
                f"Invalid limit {limit}: must be between 1 and {MAX_FETCH_BY_METADATA_LIMIT}"
            )
        if token is not None and not isinstance(token, str):
            raise InvalidArgument("paginationToken must be a string")
        after = _decode_token(token) if token else None
        ns = self._namespace(index, namespace, create=False)
        if ns is None:
            return FetchPage([], None, namespace, 1, 0)
        self._indexed(index, namespace, parsed)
        # One extra record tells whether another page exists without a second call.
        records = ns.fetch_where(parsed, limit=limit + 1, after=after)
        more = len(records) > limit
        records = records[:limit]
        next_token = _encode_token(records[-1].id) if more else None
        units = max(1, (len(records) + 9) // 10)
        return FetchPage(records, next_token, namespace, units, ns.lsn)


def _require_filter(raw: object) -> Filter:
    parsed = parse_filter(raw)
    if parsed is None:
        raise InvalidArgument("Filter must not be empty")
    return parsed


def _last_wins(records: list[Record]) -> list[Record]:
    """Within one batch a repeated id keeps its last record, as Pinecone does."""
    latest: dict[str, Record] = {}
    for record in records:
        latest.pop(record.id, None)
        latest[record.id] = record
    return list(latest.values())


def _read_units(ns: NamespaceHandle, index: IndexRow) -> int:
    """1 RU per GB of namespace scanned, at least 1, as Pinecone bills serverless queries."""
    dim = index.dimension or 0
    approx_bytes = ns.count() * (dim * 4 + 256)
    return max(1, math.ceil(approx_bytes / _GB))


def _encode_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": last_id})).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        padded = token + "=" * (-len(token) % 4)
        body: Any = orjson.loads(base64.urlsafe_b64decode(padded))
        after = body["after"]
        if not isinstance(after, str):
            raise TypeError
        return after
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("Invalid pagination token") from None
