"""What the server and its read replicas say to each other, and the client side of it.

A replica (``python -m spruce.replica``) serves one shard of one index over HTTP/1.1:
``POST /query``, ``/fetch``, ``/list`` with MessagePack bodies (below), ``GET /health``.
Every read carries ``min_lsn``, the writer's LSN when the read arrived; the replica
catches up to it before answering, so a client reads its own writes. Vectors travel as
little-endian float32 bytes; filters as Pinecone's filter JSON (re-parsed and checked
by the replica). Errors come back as ``ErrorReply`` with the SpruceError class name, and
are raised again here as the same class, so an edge maps them as if local.
"""

from __future__ import annotations

import dataclasses
import http.client
import threading
from typing import Any

import msgspec
import numpy as np

from spruce import errors
from spruce.engine.read.filters import And, Eq, Exists, Filter, Gt, Gte, In, Lt, Lte, Ne, Nin, Or
from spruce.tls import ClientTLS
from spruce.types import Match, Metadata, Record, SparseVector

__all__ = [
    "ErrorReply",
    "FetchReply",
    "FetchRequest",
    "Health",
    "ListReply",
    "ListRequest",
    "QueryReply",
    "QueryRequest",
    "ReplicaClient",
    "ReplicaDown",
    "TOKEN_HEADER",
    "WireRecord",
    "filter_json",
    "from_wire",
    "to_wire",
]


class WireRecord(msgspec.Struct, array_like=True):
    id: str
    score: float = 0.0
    values: bytes | None = None
    sparse_indices: bytes | None = None
    sparse_values: bytes | None = None
    metadata: Metadata | None = None


class QueryRequest(msgspec.Struct, kw_only=True):
    namespace: str
    min_lsn: int
    top_k: int
    vector: bytes | None = None
    sparse_indices: bytes | None = None
    sparse_values: bytes | None = None
    filter: dict[str, Any] | None = None
    include_values: bool = False
    include_metadata: bool = False


class QueryReply(msgspec.Struct, kw_only=True):
    matches: list[WireRecord]
    lsn: int


class FetchRequest(msgspec.Struct, kw_only=True):
    namespace: str
    min_lsn: int
    ids: list[str]


class FetchReply(msgspec.Struct, kw_only=True):
    records: list[WireRecord]
    lsn: int


class ListRequest(msgspec.Struct, kw_only=True):
    namespace: str
    min_lsn: int
    prefix: str = ""
    limit: int = 100
    after: str | None = None


class ListReply(msgspec.Struct, kw_only=True):
    ids: list[str]
    lsn: int


class Health(msgspec.Struct, kw_only=True):
    shard: int
    shards: int
    node_type: str
    pid: int
    namespaces: dict[str, int]  # name -> applied LSN
    served: int = 0  # reads answered since start


class ErrorReply(msgspec.Struct, kw_only=True):
    kind: str
    message: str


class ReplicaDown(Exception):
    """The replica could not be reached (not a SpruceError: the router tries another)."""


def to_wire(item: Record | Match) -> WireRecord:
    sparse = item.sparse
    return WireRecord(
        id=item.id,
        score=item.score if isinstance(item, Match) else 0.0,
        values=None if item.values is None else np.asarray(item.values, "<f4").tobytes(),
        sparse_indices=None if sparse is None else np.asarray(sparse.indices, "<u4").tobytes(),
        sparse_values=None if sparse is None else np.asarray(sparse.values, "<f4").tobytes(),
        metadata=item.metadata,
    )


def from_wire(w: WireRecord) -> Match:
    sparse = None
    if w.sparse_indices is not None and w.sparse_values is not None:
        sparse = SparseVector(
            np.frombuffer(w.sparse_indices, "<u4").astype(np.uint32),
            np.frombuffer(w.sparse_values, "<f4").astype(np.float32),
        )
    values = None if w.values is None else np.frombuffer(w.values, "<f4").astype(np.float32)
    return Match(w.id, w.score, values, sparse, w.metadata)


_OPS: dict[type[Filter], str] = {
    Eq: "$eq",
    Ne: "$ne",
    Gt: "$gt",
    Gte: "$gte",
    Lt: "$lt",
    Lte: "$lte",
}


def filter_json(f: Filter) -> dict[str, Any]:
    """A parsed filter back as Pinecone's filter JSON (parsing it again gives ``f``)."""
    if isinstance(f, And | Or):
        return {"$and" if isinstance(f, And) else "$or": [filter_json(c) for c in f.children]}
    fields = {x.name: getattr(f, x.name) for x in dataclasses.fields(f)}  # type: ignore[arg-type]
    field = fields["field"]
    if isinstance(f, In | Nin):
        return {field: {"$in" if isinstance(f, In) else "$nin": list(fields["values"])}}
    if isinstance(f, Exists):
        return {field: {"$exists": fields["value"]}}
    return {field: {_OPS[type(f)]: fields["value"]}}


#: The header that carries the replica token (replicas answer no one without it).
TOKEN_HEADER = "x-spruce-replica-token"


class ReplicaClient:
    """Keep-alive HTTP connections to one replica, one per calling thread; HTTPS with
    ``tls`` (the replicas of a server that serves TLS serve it too)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float = 60.0,
        token: str | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.tls = tls
        self._headers = {"Content-Type": "application/msgpack"}
        if token:
            self._headers[TOKEN_HEADER] = token
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'http' if self.tls is None else 'https'}://{host}:{self.port}"

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self.tls is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            else:
                conn = self.tls.connection(self.host, self.port, self.timeout)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def call(self, path: str, request: msgspec.Struct | None, reply: type[Any]) -> Any:
        body = b"" if request is None else msgspec.msgpack.encode(request)
        method = "GET" if request is None else "POST"
        for attempt in range(2):  # a kept-alive connection the replica closed: redial once
            conn = self._conn()
            try:
                conn.request(method, path, body, self._headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt:
                    raise ReplicaDown(f"replica {self.url}: {exc!r}") from exc
        if response.status != 200:
            try:
                err = msgspec.msgpack.decode(data, type=ErrorReply)
            except msgspec.DecodeError:
                raise ReplicaDown(f"replica {self.url} answered {response.status}") from None
            cls = getattr(errors, err.kind, None)
            if isinstance(cls, type) and issubclass(cls, errors.SpruceError):
                raise cls(err.message)
            raise errors.Internal(err.message)
        return msgspec.msgpack.decode(data, type=reply)

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
