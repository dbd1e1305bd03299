"""Each dedicated index's replica processes: started, reshaped, drained, replaced.

A ``ReplicaSet`` per index (service/read_capacity/replicas.py). Adding replicas starts them and adds
them to the rotation once they serve; removing takes them out, drains, stops. A new
shard count or node type starts a whole new set, switches reads to it, then drains and
stops the old one. A replica that dies is replaced. Replicas on other hosts join a set
by URL (``register``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msgspec

from spruce.catalog import IndexRow
from spruce.errors import FailedPrecondition, InvalidArgument, SpruceError
from spruce.service.read_capacity.protocol import Health, ReplicaClient, ReplicaDown
from spruce.service.read_capacity.replicas import Replica, ReplicaSet, ReplicaSpec, Supervisor
from spruce.service.read_capacity.spec import Capacity, CapacitySettings
from spruce.tls import ClientTLS

__all__ = ["Fleet"]

log = logging.getLogger(__name__)


class Fleet:
    def __init__(self, settings: CapacitySettings, root_of: Callable[[IndexRow], Path]) -> None:
        self.settings = settings
        self._root_of = root_of
        self._supervisor = Supervisor(
            host=settings.replica_host,
            on_death=self._replace,
            token=settings.replica_token,
            tls=settings.tls,
        )
        self._sets: dict[str, ReplicaSet] = {}
        self._lock = threading.Lock()
        self._closed = False

    def get(self, uid: str) -> ReplicaSet | None:
        with self._lock:
            return self._sets.get(uid)

    def start(self, row: IndexRow, capacity: Capacity) -> None:
        """Start ``capacity``'s replicas for an index that has none (after a restart)."""
        replicas = self._start_set(row, capacity)
        with self._lock:
            self._sets[row.uid] = replicas

    def drop(self, uid: str) -> None:
        with self._lock:
            replicas = self._sets.pop(uid, None)
        if replicas is not None:
            self._stop_all(replicas.all())

    def close(self) -> None:
        self._closed = True
        self._supervisor.close()

    def switch(self, row: IndexRow, requested: Capacity) -> None:
        """Make the index's replicas match ``requested``; returns once they serve."""
        with self._lock:
            old = self._sets.get(row.uid)
        if not requested.dedicated:
            with self._lock:
                self._sets.pop(row.uid, None)
            if old is not None:
                self._stop_all(old.all())
            return
        reshape = old is None or (old.shards, old.node_type) != (
            requested.shards,
            requested.node_type,
        )
        if reshape:
            new = self._start_set(row, requested)  # serving before the old one stops
            with self._lock:
                self._sets[row.uid] = new
            if old is not None:
                self._stop_all(old.all())
            return
        assert old is not None
        more = requested.replicas - old.replicas
        if more > 0:
            specs = [self._spec(row, requested, s) for s in range(old.shards) for _ in range(more)]
            for replica in self._start_many(specs):
                old.add(replica)
        else:
            leaving = []
            for shard in range(old.shards):
                for _ in range(-more):
                    last = old.newest(shard)
                    if last is not None and old.remove(last):
                        leaving.append(last)
            self._stop_all(leaving)

    def _spec(self, row: IndexRow, capacity: Capacity, shard: int) -> ReplicaSpec:
        node_type = capacity.node_type or "b1"
        return ReplicaSpec(
            root=self._root_of(row),
            dimension=row.dimension,
            metric=row.metric,
            shard=shard,
            shards=capacity.shards,
            node_type=node_type,
            threads=self.settings.node_threads.get(node_type, 1),
        )

    def _start_set(self, row: IndexRow, capacity: Capacity) -> ReplicaSet:
        replicas = ReplicaSet(capacity.shards, capacity.node_type or "b1")
        specs = [
            self._spec(row, capacity, s)
            for s in range(capacity.shards)
            for _ in range(capacity.replicas)
        ]
        for replica in self._start_many(specs):
            replicas.add(replica)
        return replicas

    def _start_many(self, specs: list[ReplicaSpec]) -> list[Replica]:
        if not specs:
            return []
        started: list[Replica] = []
        with ThreadPoolExecutor(max_workers=min(8, len(specs))) as pool:
            futures = [pool.submit(self._supervisor.start, spec) for spec in specs]
            failure: BaseException | None = None
            for future in futures:
                try:
                    started.append(future.result())
                except BaseException as exc:
                    failure = exc
        if failure is not None:
            self._stop_all(started)
            raise failure
        return started

    def _stop_all(self, replicas: list[Replica]) -> None:
        for replica in replicas:
            replica.retired = True  # no new reads; those in flight finish
        for replica in replicas:
            self._supervisor.stop(replica)

    def _replace(self, dead: Replica) -> None:
        """A replica process died: take it out of rotation and start another."""
        with self._lock:
            owner = next((s for s in self._sets.values() if dead in s.all()), None)
            if owner is None or self._closed:
                return
            owner.remove(dead)

        def restart() -> None:
            try:
                owner.add(self._supervisor.start(dead.spec))
            except SpruceError:
                log.exception("could not replace read replica %s", dead.url)

        threading.Thread(target=restart, daemon=True).start()

    def register(self, row: IndexRow, applied: Capacity, url: str) -> dict[str, Any]:
        """Add a replica running elsewhere (``python -m spruce.replica --join``) to the
        index's rotation, once it answers and serves a shard of the current shape."""
        replicas = self.get(row.uid)
        if not applied.dedicated or replicas is None:
            raise FailedPrecondition(f"Index '{row.name}' has no dedicated read nodes")
        parsed = urlparse(url)
        # A server that serves TLS sends the replica token over TLS only (docs/TLS.md).
        schemes = ("https",) if self.settings.tls is not None else ("http", "https")
        if parsed.scheme not in schemes or parsed.hostname is None or parsed.port is None:
            raise InvalidArgument(f"url must be {' or '.join(schemes)}://HOST:PORT")
        tls = ClientTLS(ca=self.settings.tls_ca) if parsed.scheme == "https" else None
        client = ReplicaClient(
            parsed.hostname, parsed.port, timeout=30.0, token=self.settings.replica_token, tls=tls
        )
        try:
            health = client.call("/health", None, Health)
        except ReplicaDown as exc:
            raise FailedPrecondition(f"The replica at {url} does not answer: {exc}") from None
        if health.shards != applied.shards:
            raise FailedPrecondition(
                f"The replica at {url} serves shard {health.shard} of {health.shards}; index "
                f"'{row.name}' has {applied.shards} shards"
            )
        spec = ReplicaSpec(
            Path(), row.dimension, row.metric, health.shard, health.shards, health.node_type, 0
        )
        replicas.add(Replica(spec, None, client))
        return {"shard": health.shard, "url": url, "remote": True}

    def describe(self, row: IndexRow) -> list[dict[str, Any]]:
        """Every replica process of the index and what it reports about itself."""
        replicas = self.get(row.uid)
        out = []
        for replica in [] if replicas is None else replicas.all():
            item: dict[str, Any] = {"shard": replica.spec.shard, "url": replica.url}
            item["remote"] = replica.proc is None
            try:
                item.update(msgspec.structs.asdict(replica.health()))
            except (SpruceError, ReplicaDown):
                item["state"] = "down"
            out.append(item)
        return out
