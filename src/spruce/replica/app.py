"""The replica's reads and its small ASGI app (no framework: four routes, msgpack)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from spruce.engine.disk.ship import IndexMirror
from spruce.engine.read.filters import parse_filter
from spruce.engine.read.follower import Follower
from spruce.engine.read.partition import Partition
from spruce.engine.write.namespace import Metric
from spruce.engine.write.store import decode_name, encode_name
from spruce.errors import NotFound, SpruceError, Unavailable
from spruce.service.read_capacity.protocol import (
    TOKEN_HEADER,
    ErrorReply,
    FetchReply,
    FetchRequest,
    Health,
    ListReply,
    ListRequest,
    QueryReply,
    QueryRequest,
    to_wire,
)
from spruce.types import SparseVector

__all__ = ["ReplicaApp", "ShardReader"]

log = logging.getLogger("spruce.replica")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class ShardReader:
    """Followers of an index's namespaces, answering for one shard."""

    def __init__(
        self,
        root: Path,
        *,
        dimension: int | None,
        metric: Metric,
        partition: Partition,
        node_type: str,
        mirror: IndexMirror | None = None,
    ) -> None:
        self.root = root
        #: On another host: the local copy of the index, synced from object storage.
        self.mirror = mirror
        self.dimension = dimension
        self.metric: Metric = metric
        self.partition = partition
        self.node_type = node_type
        self._followers: dict[str, Follower] = {}
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self.served = 0

    def warm(self) -> None:
        """Load every namespace now, so the first query finds it in memory."""
        if self.mirror is not None:
            self.mirror.sync()
        for entry in sorted(os.listdir(self.root)) if self.root.is_dir() else []:
            name = decode_name(entry)
            if name is not None:
                self._follower(name)

    def _follower(self, namespace: str) -> Follower | None:
        with self._lock:
            found = self._followers.get(namespace)
            if found is None:
                path = self.root / encode_name(namespace)
                if not path.is_dir():
                    return None
                found = Follower(path, dimension=self.dimension, metric=self.metric)
                self._followers[namespace] = found
            return found

    def _ready(self, namespace: str, min_lsn: int) -> tuple[Follower, int] | None:
        """The namespace's follower once it has applied ``min_lsn`` (read-your-writes)."""
        if self.mirror is None:
            follower = self._follower(namespace)
            return None if follower is None else (follower, follower.catch_up(min_lsn))
        deadline = time.monotonic() + 10.0
        while True:  # the writer ships every few milliseconds: sync until it is here
            follower = self._follower(namespace)
            if follower is not None:
                try:
                    return follower, follower.catch_up(min_lsn, timeout=0.0)
                except Unavailable:
                    pass
            if time.monotonic() > deadline:
                if follower is None:
                    return None
                raise Unavailable(f"replica is at LSN {follower.lsn}, the read needs {min_lsn}")
            with self._sync_lock:
                self.mirror.sync()
            time.sleep(0.005)

    def query(self, req: QueryRequest) -> QueryReply:
        ready = self._ready(req.namespace, req.min_lsn)
        if ready is None:
            return QueryReply(matches=[], lsn=0)
        follower, lsn = ready
        vector = None if req.vector is None else np.frombuffer(req.vector, "<f4")
        sparse = None
        if req.sparse_indices is not None and req.sparse_values is not None:
            sparse = SparseVector(
                np.frombuffer(req.sparse_indices, "<u4").astype(np.uint32),
                np.frombuffer(req.sparse_values, "<f4").astype(np.float32),
            )
        matches = follower.query(
            vector,
            top_k=req.top_k,
            filter=parse_filter(req.filter),
            sparse=sparse,
            include_values=req.include_values,
            include_metadata=req.include_metadata,
            partition=self.partition,
        )
        return QueryReply(matches=[to_wire(m) for m in matches], lsn=lsn)

    def fetch(self, req: FetchRequest) -> FetchReply:
        ready = self._ready(req.namespace, req.min_lsn)
        if ready is None:
            return FetchReply(records=[], lsn=0)
        follower, lsn = ready
        found = follower.fetch(req.ids, partition=self.partition)
        return FetchReply(records=[to_wire(r) for r in found.values()], lsn=lsn)

    def list_ids(self, req: ListRequest) -> ListReply:
        ready = self._ready(req.namespace, req.min_lsn)
        if ready is None:
            return ListReply(ids=[], lsn=0)
        follower, lsn = ready
        ids = follower.list_ids(
            prefix=req.prefix, limit=req.limit, after=req.after, partition=self.partition
        )
        return ListReply(ids=ids, lsn=lsn)

    def keep_synced(self, interval: float = 0.5) -> None:
        """Follow the writer in the background too: reads only wait for the LSN they
        need, so without this a compaction (no new LSN) would go unnoticed, and the
        replica would keep serving, and holding open, the segments it replaced."""
        mirror = self.mirror

        def run() -> None:
            while True:
                time.sleep(interval)
                try:
                    if mirror is not None:
                        with self._sync_lock:
                            mirror.sync()
                    with self._lock:
                        followers = list(self._followers.items())
                    for name, follower in followers:
                        try:
                            follower.refresh()
                        except NotFound:  # the namespace was deleted
                            with self._lock:
                                self._followers.pop(name, None)
                except Exception:
                    log.exception("following the index failed; retrying")

        threading.Thread(target=run, name="follow", daemon=True).start()

    def health(self) -> Health:
        with self._lock:
            followers = dict(self._followers)
        return Health(
            shard=self.partition.shard,
            shards=self.partition.shards,
            node_type=self.node_type,
            pid=os.getpid(),
            namespaces={name: f.lsn for name, f in followers.items()},
            served=self.served,
        )


class ReplicaApp:
    """ASGI app; reads run on ``threads`` worker threads, the node's compute."""

    def __init__(self, reader: ShardReader, *, threads: int, token: str | None = None) -> None:
        self.reader = reader
        self._token = None if not token else token.encode()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="replica")
        self._routes: dict[str, Callable[[bytes], msgspec.Struct]] = {
            "/query": lambda b: reader.query(msgspec.msgpack.decode(b, type=QueryRequest)),
            "/fetch": lambda b: reader.fetch(msgspec.msgpack.decode(b, type=FetchRequest)),
            "/list": lambda b: reader.list_ids(msgspec.msgpack.decode(b, type=ListRequest)),
            "/health": lambda b: reader.health(),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self._pool.shutdown(wait=True)  # drain: finish reads in flight
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        handler = self._routes.get(scope["path"])
        status, payload = 200, b""
        given = dict(scope.get("headers") or []).get(TOKEN_HEADER.encode())
        if self._token is not None and (
            given is None or not hmac.compare_digest(given, self._token)
        ):
            status = 401
            error = ErrorReply(kind="Unauthenticated", message="wrong or missing replica token")
            payload = msgspec.msgpack.encode(error)
        elif handler is None:
            status = 404
            payload = msgspec.msgpack.encode(ErrorReply(kind="NotFound", message="no such route"))
        else:
            loop = asyncio.get_running_loop()
            try:
                reply = await loop.run_in_executor(self._pool, handler, bytes(body))
                payload = msgspec.msgpack.encode(reply)
                if scope["path"] != "/health":
                    self.reader.served += 1  # only this event loop thread counts
            except SpruceError as exc:
                status = 400
                payload = msgspec.msgpack.encode(
                    ErrorReply(kind=type(exc).__name__, message=exc.message)
                )
            except msgspec.DecodeError as exc:
                status = 400
                error = ErrorReply(kind="InvalidArgument", message=str(exc))
                payload = msgspec.msgpack.encode(error)
            except Exception as exc:
                log.exception("replica read failed")
                status = 500
                payload = msgspec.msgpack.encode(ErrorReply(kind="Internal", message=repr(exc)))
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/msgpack")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
