"""Dedicated read nodes: each index's requested vs applied read capacity, and the work
that moves one to the other.

The requested capacity lives in the index spec (catalog); what is applied, the state
(``Ready | Scaling | Migrating | Error``) and when the last changes were made live in
``<data>/read_capacity/<uid>.json``, owned here. A change is accepted by ``configure``
(validation, Pinecone's limits: one node type / mode change per 24 h, one shard /
replica change per hour, none while another is in progress, 20 nodes per project),
marked ``Scaling`` (shards, replicas) or ``Migrating`` (mode, node type), and carried
out by a background thread: check the data fits the new shape (else ``Error``, the old
shape keeps serving), start the replica processes and wait until they serve, switch
reads to them, drain and stop the old ones, then ``Ready``. Replicas 0 pauses the
index: reads and writes are refused until replicas are added back.

Shard fullness is accounted here too, from a read-only follower of the index's files.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec

from spruce.catalog import Catalog, IndexRow
from spruce.engine.filters import Filter
from spruce.engine.follower import Follower
from spruce.engine.fsutil import atomic_write
from spruce.engine.namespace import Metric
from spruce.engine.partition import ShardUsage, record_size, shard_of
from spruce.engine.store import IndexStore, encode_name
from spruce.errors import FailedPrecondition, NotFound, SpruceError
from spruce.service.read_capacity import (
    ON_DEMAND,
    Capacity,
    CapacitySettings,
    estimate_cost,
    parse_capacity,
    shards_needed,
)
from spruce.service.replica_protocol import ReplicaDown
from spruce.service.replicas import Replica, ReplicaSet, ReplicaSpec, Supervisor
from spruce.types import Metadata, Record

__all__ = ["ReadNodes", "RcState"]

log = logging.getLogger(__name__)

Save = Callable[..., IndexRow]


class RcState(msgspec.Struct, kw_only=True):
    state: str = "Ready"
    current: dict[str, Any] | None = None  # applied capacity; None: on-demand
    error_message: str | None = None
    mode_changed_at: float | None = None
    scale_changed_at: float | None = None
    restore: list[float | None] | None = None  # timestamps before the change in flight


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class ReadNodes:
    def __init__(
        self, catalog: Catalog, state_dir: Path, settings: CapacitySettings | None = None
    ) -> None:
        self._catalog = catalog
        self._dir = state_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings or CapacitySettings()
        self._supervisor = Supervisor(host=self.settings.replica_host, on_death=self._replace)
        self._stores: Callable[[IndexRow], IndexStore] | None = None
        self._states: dict[str, RcState] = {}
        self._sets: dict[str, ReplicaSet] = {}
        self._books: dict[tuple[str, str], Follower] = {}
        self._estimates: dict[str, list[list[int]]] = {}
        self._lock = threading.RLock()  # states, sets, books: short sections only
        self._transitions: dict[str, threading.Lock] = {}
        self._closed = False

    def bind(self, stores: Callable[[IndexRow], IndexStore]) -> None:
        """The data plane's index stores (where an index's files are)."""
        self._stores = stores

    # -- state --------------------------------------------------------------------

    def _state(self, uid: str) -> RcState:
        with self._lock:
            st = self._states.get(uid)
            if st is None:
                path = self._dir / f"{uid}.json"
                st = (
                    msgspec.json.decode(path.read_bytes(), type=RcState)
                    if path.exists()
                    else RcState()
                )
                self._states[uid] = st
            return msgspec.structs.replace(st)

    def _save(self, uid: str, st: RcState) -> None:
        with self._lock:
            atomic_write(self._dir / f"{uid}.json", msgspec.json.encode(st))
            self._states[uid] = st

    def applied(self, row: IndexRow) -> Capacity:
        return Capacity.from_json(self._state(row.uid).current)

    def decorate(self, row: IndexRow) -> IndexRow:
        """The row with ``read_capacity`` as describe shows it: request + live status."""
        requested = Capacity.from_json(row.spec.get("read_capacity"))
        st = self._state(row.uid)
        applied = Capacity.from_json(st.current)
        status: dict[str, Any] = {"state": st.state}
        if requested.dedicated or applied.dedicated:
            status["current_shards"] = applied.shards if applied.dedicated else None
            status["current_replicas"] = applied.replicas if applied.dedicated else None
        if st.error_message:
            status["error_message"] = st.error_message
        shown = {**requested.to_json(), "status": status}
        return dataclasses.replace(row, spec={**row.spec, "read_capacity": shown})

    # -- control plane ------------------------------------------------------------

    def validate_create(self, project_id: str, raw: object) -> dict[str, Any]:
        if raw is None:
            return ON_DEMAND.to_json()
        capacity = parse_capacity(raw)
        self._check_nodes(project_id, None, capacity)
        return capacity.to_json()

    def created(self, row: IndexRow) -> None:
        requested = Capacity.from_json(row.spec.get("read_capacity"))
        st = RcState()
        if requested.dedicated:
            # Pinecone: replica changes are allowed "starting one hour after index creation".
            st.state, st.scale_changed_at = "Migrating", time.time()
        self._save(row.uid, st)
        if requested.dedicated:
            self._kick(row.uid)

    def configure(self, row: IndexRow, spec: dict[str, Any], raw: object, save: Save) -> IndexRow:
        """Validate a change against Pinecone's limits, persist it, start carrying it out."""
        with self._lock:
            st = self._state(row.uid)
            requested = Capacity.from_json(row.spec.get("read_capacity"))
            applied = Capacity.from_json(st.current)
            new = parse_capacity(raw, requested)
            if st.state in ("Scaling", "Migrating"):
                raise FailedPrecondition(
                    f"A read capacity change of index '{row.name}' is already in progress "
                    f"(state {st.state}); wait until it is Ready before making another"
                )
            mode_change = new.mode != applied.mode or new.node_type != applied.node_type
            scale_change = new.dedicated and (
                (new.shards, new.replicas) != (applied.shards, applied.replicas)
            )
            now = time.time()
            s = self.settings
            if new != applied:
                if mode_change and st.mode_changed_at is not None:
                    allowed = st.mode_changed_at + s.mode_change_interval_s
                    if now < allowed:
                        raise FailedPrecondition(
                            f"The read capacity mode or node type of index '{row.name}' can be "
                            f"changed once every {_span(s.mode_change_interval_s)}; the next "
                            f"change is allowed after {_when(allowed)}"
                        )
                if scale_change and st.scale_changed_at is not None:
                    allowed = st.scale_changed_at + s.scale_change_interval_s
                    if now < allowed:
                        raise FailedPrecondition(
                            f"The shards and replicas of index '{row.name}' can be changed once "
                            f"every {_span(s.scale_change_interval_s)}; the next change is "
                            f"allowed after {_when(allowed)}"
                        )
                self._check_nodes(row.project_id, row.uid, new)
            spec["read_capacity"] = new.to_json()
            row = save(row, spec=spec)
            if new == applied:  # back to what runs (e.g. after an Error): nothing to do
                st.state, st.error_message, st.restore = "Ready", None, None
                self._save(row.uid, st)
                return row
            st.restore = [st.mode_changed_at, st.scale_changed_at]
            if mode_change:
                st.mode_changed_at = now
            if scale_change:
                st.scale_changed_at = now
            st.state = "Migrating" if mode_change else "Scaling"
            st.error_message = None
            self._save(row.uid, st)
        self._kick(row.uid)
        return row

    def _check_nodes(self, project_id: str, uid: str | None, new: Capacity) -> None:
        used = sum(
            Capacity.from_json(r.spec.get("read_capacity")).nodes
            for r in self._catalog.list_indexes(project_id)
            if r.uid != uid
        )
        limit = self.settings.max_nodes_per_project
        if used + new.nodes > limit:
            raise FailedPrecondition(
                f"This would use {used + new.nodes} dedicated read nodes in the project "
                f"(shards x replicas, summed over its indexes); the limit is {limit}"
            )

    def check_serving(self, row: IndexRow) -> None:
        """Pinecone: "While an index is paused, you can't write to it or read from it"."""
        applied = self.applied(row)
        if applied.dedicated and applied.replicas == 0:
            raise FailedPrecondition(
                f"Index '{row.name}' is paused (dedicated read capacity with 0 replicas). "
                "Configure at least 1 replica to resume reads and writes."
            )

    def estimate(self, row: IndexRow, overrides: dict[str, Any]) -> dict[str, Any]:
        requested = Capacity.from_json(row.spec.get("read_capacity"))
        capacity = requested
        if overrides:
            what_if = {"scaling": "Manual", **overrides}
            capacity = parse_capacity({"mode": "Dedicated", "dedicated": what_if}, requested)
        return estimate_cost(capacity, self.settings.node_rates)

    def dropped(self, row: IndexRow) -> None:
        with self._lock:
            replicas = self._sets.pop(row.uid, None)
            books = [k for k in self._books if k[0] == row.uid]
            for key in books:
                del self._books[key]
            self._states.pop(row.uid, None)
            self._estimates.pop(row.uid, None)
            (self._dir / f"{row.uid}.json").unlink(missing_ok=True)
        if replicas is not None:
            self._stop_all(replicas.all())

    def recover(self) -> None:
        """After a restart: start the replicas each index had; resume changes cut short."""
        rows = [r for r in self._catalog.list_indexes() if (self._dir / f"{r.uid}.json").exists()]
        for row in rows:
            st = self._state(row.uid)
            applied = Capacity.from_json(st.current)
            if applied.dedicated:
                self._sets[row.uid] = self._start_set(row, applied)
            if st.state in ("Scaling", "Migrating"):
                self._kick(row.uid)

    def close(self) -> None:
        self._closed = True
        self._supervisor.close()

    # -- carrying out changes -----------------------------------------------------

    def _kick(self, uid: str) -> None:
        threading.Thread(target=self._transition, args=(uid,), daemon=True).start()

    def _transition(self, uid: str) -> None:
        with self._lock:
            lock = self._transitions.setdefault(uid, threading.Lock())
        with lock:
            row = self._row(uid)
            if row is None or self._closed:
                return
            requested = Capacity.from_json(row.spec.get("read_capacity"))
            applied = self.applied(row)
            problem = None
            try:
                if requested.dedicated:
                    problem = self._does_not_fit(row, requested)
                if problem is None:
                    self._switch(row, applied, requested)
            except SpruceError as exc:
                problem = exc.message
            except Exception as exc:
                log.exception("read capacity change of %s failed", row.name)
                problem = f"The change failed: {exc!r}"
            st = self._state(uid)
            if problem is not None:
                st.state, st.error_message = "Error", problem
                if st.restore is not None:  # a failed change does not use up the limit
                    st.mode_changed_at, st.scale_changed_at = st.restore
            else:
                st.current = requested.to_json() if requested.dedicated else None
                st.state, st.error_message = "Ready", None
                with self._lock:
                    self._estimates.pop(uid, None)
            st.restore = None
            if self._row(uid) is not None:
                self._save(uid, st)
            else:
                self.dropped(row)

    def _row(self, uid: str) -> IndexRow | None:
        return next((r for r in self._catalog.list_indexes() if r.uid == uid), None)

    def _does_not_fit(self, row: IndexRow, capacity: Capacity) -> str | None:
        names = self._store(row).names()
        if len(names) > 1:
            shown = ", ".join(repr(n) for n in names[:5])
            return (
                f"Dedicated read nodes support a single namespace; index '{row.name}' has "
                f"{len(names)} ({shown}). Delete all but one namespace and retry."
            )
        usage = self.usage(row, capacity.shards)
        cap, mem = self._capacities(capacity)
        if not self._over(usage, cap, mem):
            return None
        whole = self.usage(row, 1)[0]
        need = max(shards_needed(whole.storage_bytes, cap), shards_needed(whole.memory_bytes, mem))
        while need < 4096 and self._over(self.usage(row, need), cap, mem):
            need += 1  # ids hash unevenly: one more shard until every one fits
        return (
            f"Not enough shards: index '{row.name}' holds {whole.storage_bytes} bytes "
            f"({whole.memory_bytes} bytes in memory on {capacity.node_type} nodes), which "
            f"needs at least {need} shards; {capacity.shards} requested. Each shard stores "
            f"{cap} bytes. Retry with more shards."
        )

    def _capacities(self, capacity: Capacity) -> tuple[int, int]:
        s = self.settings
        return s.shard_capacity_bytes, s.node_memory_bytes.get(capacity.node_type or "b1", 1 << 62)

    @staticmethod
    def _over(usage: list[ShardUsage], cap: int, mem: int) -> bool:
        return any(u.storage_bytes > cap or u.memory_bytes > mem for u in usage)

    def _switch(self, row: IndexRow, applied: Capacity, requested: Capacity) -> None:
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
            root=self._store(row).root,
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

    # -- data plane -----------------------------------------------------------------

    def describe_replicas(self, row: IndexRow) -> list[dict[str, Any]]:
        """Every replica process of the index and what it reports about itself."""
        replicas = self.replicas(row)
        out = []
        for replica in [] if replicas is None else replicas.all():
            item: dict[str, Any] = {"shard": replica.spec.shard, "url": replica.url}
            try:
                item.update(msgspec.structs.asdict(replica.health()))
            except (SpruceError, ReplicaDown):
                item["state"] = "down"
            out.append(item)
        return out

    def replicas(self, row: IndexRow) -> ReplicaSet | None:
        with self._lock:
            return self._sets.get(row.uid)

    def _store(self, row: IndexRow) -> IndexStore:
        assert self._stores is not None, "bind() the data plane first"
        return self._stores(row)

    def _book(self, row: IndexRow, namespace: str) -> Follower | None:
        key = (row.uid, namespace)
        with self._lock:
            book = self._books.get(key)
        if book is None:
            path = self._store(row).root / encode_name(namespace)
            if not path.is_dir():
                return None
            metric: Metric = row.metric  # type: ignore[assignment]
            book = Follower(path, dimension=row.dimension, metric=metric)
            with self._lock:
                book = self._books.setdefault(key, book)
        try:
            book.refresh()
        except NotFound:
            with self._lock:
                self._books.pop(key, None)
            return None
        return book

    def usage(self, row: IndexRow, shards: int) -> list[ShardUsage]:
        """What each shard holds now (every namespace counted), from the files on disk."""
        total = [ShardUsage(0, 0, 0)] * shards
        for name in self._store(row).names():
            book = self._book(row, name)
            if book is not None:
                total = [
                    ShardUsage(
                        a.records + b.records,
                        a.storage_bytes + b.storage_bytes,
                        a.memory_bytes + b.memory_bytes,
                    )
                    for a, b in zip(total, book.usage(shards), strict=True)
                ]
        return total

    def fullness(self, row: IndexRow) -> tuple[float, float] | None:
        """(memory, storage) fullness of the fullest shard; None for on-demand indexes."""
        applied = self.applied(row)
        if not applied.dedicated:
            return None
        usage = self.usage(row, applied.shards)
        with self._lock:
            self._estimates[row.uid] = [[u.storage_bytes, u.memory_bytes] for u in usage]
        cap, mem = self._capacities(applied)
        return (
            max(u.memory_bytes for u in usage) / mem,
            max(u.storage_bytes for u in usage) / cap,
        )

    def admit(self, row: IndexRow, namespace: str, records: list[Record]) -> None:
        """Refuse a write that would take a shard past its capacity (Pinecone: "Writes
        that would cause your index to exceed its storage capacity are blocked")."""
        applied = self.applied(row)
        if not applied.dedicated or not records:
            return
        shards = applied.shards
        adds = [[0, 0] for _ in range(shards)]
        for r in records:
            nnz = 0 if r.sparse is None else len(r.sparse.indices)
            storage, memory = record_size(r.id, row.dimension, nnz, r.metadata)
            shard = adds[shard_of(r.id, shards)]
            shard[0] += storage
            shard[1] += memory
        cap, mem = self._capacities(applied)
        with self._lock:
            estimate = self._estimates.get(row.uid)
        if estimate is None or len(estimate) != shards or self._full(estimate, adds, cap, mem):
            # Near the limit: count exactly, crediting the rows this write replaces.
            estimate = [[u.storage_bytes, u.memory_bytes] for u in self.usage(row, shards)]
            book = self._book(row, namespace)
            old = book.fetch([r.id for r in records]) if book is not None else {}
            for r in old.values():
                nnz = 0 if r.sparse is None else len(r.sparse.indices)
                storage, memory = record_size(r.id, row.dimension, nnz, r.metadata)
                shard = estimate[shard_of(r.id, shards)]
                shard[0] -= storage
                shard[1] -= memory
            full = self._full(estimate, adds, cap, mem)
            if full is not None:
                which, used, limit, kind = full
                raise FailedPrecondition(
                    f"Index '{row.name}' is full: this write would put shard {which} at "
                    f"{used} bytes of {kind}, over its capacity of {limit} bytes. Add shards "
                    "(read_capacity.dedicated.manual.shards) or delete records."
                )
        with self._lock:
            self._estimates[row.uid] = [
                [a[0] + b[0], a[1] + b[1]] for a, b in zip(estimate, adds, strict=True)
            ]

    def admit_where(
        self, row: IndexRow, namespace: str, filter: Filter, set_metadata: Metadata
    ) -> None:
        """``admit`` for an update by filter: the matched records, grown by the update."""
        if not self.applied(row).dedicated or not set_metadata:
            return
        book = self._book(row, namespace)
        if book is None:
            return
        matched = book.fetch(book.matching(filter))
        grown = [
            Record(r.id, r.values, r.sparse, {**(r.metadata or {}), **set_metadata})
            for r in matched.values()
        ]
        self.admit(row, namespace, grown)

    @staticmethod
    def _full(
        estimate: list[list[int]], adds: list[list[int]], cap: int, mem: int
    ) -> tuple[int, int, int, str] | None:
        for shard, (have, add) in enumerate(zip(estimate, adds, strict=True)):
            if add[0] and have[0] + add[0] > cap:
                return shard, have[0] + add[0], cap, "storage"
            if add[1] and have[1] + add[1] > mem:
                return shard, have[1] + add[1], mem, "memory"
        return None


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "24 hours" if hours == 24 else "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds:g} seconds"
