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

Shard fullness and capacity are counted in ``accounting.py``; shipping to object storage
for replicas on other hosts is ``shipping.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from spruce.catalog import Catalog, IndexRow
from spruce.engine.disk.fsutil import atomic_write
from spruce.engine.read.filters import Filter
from spruce.engine.write.store import IndexStore, encode_name
from spruce.errors import FailedPrecondition, SpruceError
from spruce.service.read_capacity.accounting import ShardBooks
from spruce.service.read_capacity.fleet import Fleet
from spruce.service.read_capacity.replicas import ReplicaSet
from spruce.service.read_capacity.shipping import Shipper
from spruce.service.read_capacity.spec import (
    ON_DEMAND,
    Capacity,
    CapacitySettings,
    estimate_cost,
    parse_capacity,
)
from spruce.storage import BlobStore
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
        self,
        catalog: Catalog,
        state_dir: Path,
        settings: CapacitySettings | None = None,
        store: BlobStore | None = None,
    ) -> None:
        self._catalog = catalog
        self._dir = state_dir
        self._dir.mkdir(parents=True, exist_ok=True)
        self.settings = settings or CapacitySettings()
        self.fleet = Fleet(self.settings, lambda row: self._store(row).root)
        self._stores: Callable[[IndexRow], IndexStore] | None = None
        self._states: dict[str, RcState] = {}
        self.books = ShardBooks(self.settings, lambda: self._stores_bound())
        self._lock = threading.RLock()  # states, sets, books: short sections only
        self._transitions: dict[str, threading.Lock] = {}
        self._closed = False
        #: Object storage for replicas on other hosts (shipping.py); None: off.
        self.shipper = None if store is None else Shipper(store, self._ship_targets)

    def bind(self, stores: Callable[[IndexRow], IndexStore]) -> None:
        """The data plane's index stores (where an index's files are)."""
        self._stores = stores

    def _stores_bound(self) -> Callable[[IndexRow], IndexStore]:
        assert self._stores is not None, "bind() the data plane first"
        return self._stores

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
        self.books.forget(row.uid)
        with self._lock:
            self._states.pop(row.uid, None)
            (self._dir / f"{row.uid}.json").unlink(missing_ok=True)
        if self.shipper is not None:
            self.shipper.forget(row.uid)
        self.fleet.drop(row.uid)

    def recover(self) -> None:
        """After a restart: start the replicas each index had; resume changes cut short."""
        rows = [r for r in self._catalog.list_indexes() if (self._dir / f"{r.uid}.json").exists()]
        for row in rows:
            st = self._state(row.uid)
            applied = Capacity.from_json(st.current)
            if applied.dedicated:
                self.fleet.start(row, applied)
            if st.state in ("Scaling", "Migrating"):
                self._kick(row.uid)

    def close(self) -> None:
        self._closed = True
        if self.shipper is not None:
            self.shipper.close()
        self.fleet.close()

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
            problem = None
            try:
                if requested.dedicated:
                    problem = self.books.does_not_fit(row, requested)
                if problem is None:
                    self.fleet.switch(row, requested)
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
                self.books.forget(uid)
            st.restore = None
            if self._row(uid) is not None:
                self._save(uid, st)
            else:
                self.dropped(row)

    def _row(self, uid: str) -> IndexRow | None:
        return next((r for r in self._catalog.list_indexes() if r.uid == uid), None)

    # -- data plane -----------------------------------------------------------------

    def wrote(self, row: IndexRow) -> None:
        """A write went to a dedicated index: ship it now rather than at the next tick."""
        if self.shipper is not None:
            self.shipper.poke()

    def _ship_targets(self) -> list[tuple[str, str, Path]]:
        out = []
        for row in self._catalog.list_indexes():
            if self.applied(row).dedicated and self._stores is not None:
                store = self._store(row)
                out += [(row.uid, row.name, store.root / encode_name(n)) for n in store.names()]
        return out

    def register(self, row: IndexRow, url: str) -> dict[str, Any]:
        """Add a replica running on another host to the index's rotation."""
        return self.fleet.register(row, self.applied(row), url)

    def describe_replicas(self, row: IndexRow) -> list[dict[str, Any]]:
        return self.fleet.describe(row)

    def replicas(self, row: IndexRow) -> ReplicaSet | None:
        return self.fleet.get(row.uid)

    def _store(self, row: IndexRow) -> IndexStore:
        return self._stores_bound()(row)

    def fullness(self, row: IndexRow) -> tuple[float, float] | None:
        """(memory, storage) fullness of the fullest shard; None for on-demand indexes."""
        applied = self.applied(row)
        return self.books.fullness(row, applied) if applied.dedicated else None

    def admit(self, row: IndexRow, namespace: str, records: list[Record]) -> None:
        """Refuse a write a dedicated index has no room for (or no writer lease for)."""
        applied = self.applied(row)
        if not applied.dedicated or not records:
            return
        if self.shipper is not None:
            directory = self._store(row).root / encode_name(namespace)
            self.shipper.ensure_writer(row.uid, row.name, directory)
        self.books.admit(row, namespace, records, applied)

    def admit_where(
        self, row: IndexRow, namespace: str, filter: Filter, set_metadata: Metadata
    ) -> None:
        """``admit`` for an update by filter: the matched records, grown by the update."""
        if self.applied(row).dedicated and set_metadata:
            self.admit(row, namespace, self.books.grown_where(row, namespace, filter, set_metadata))


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "24 hours" if hours == 24 else "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds:g} seconds"
