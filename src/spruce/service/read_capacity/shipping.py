"""Publishing dedicated indexes to object storage, under a writer lease per namespace.

With ``SPRUCE_REPLICA_STORE`` set (``s3://bucket/prefix`` or ``file:///path``), every
namespace of an index with dedicated read nodes is shipped to
``<store>/<index uid>/<namespace directory>/`` (layout: engine/disk/ship.py) a few times a
second and right after each write, so replicas on other hosts can mirror it. Before
the first write to a namespace, this server takes its lease (storage/lease.py) and
renews it as it ships; while another server holds it, writes here are refused: one
writer per namespace.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from spruce.engine.disk.ship import Publisher
from spruce.errors import FailedPrecondition
from spruce.storage import BlobStore, Lease

__all__ = ["Shipper", "Target"]

log = logging.getLogger(__name__)

#: (index uid, index name, namespace directory)
Target = tuple[str, str, Path]


class Shipper:
    def __init__(
        self,
        store: BlobStore,
        targets: Callable[[], list[Target]],
        *,
        interval: float = 0.2,
        ttl: float = 15.0,
    ) -> None:
        self.store = store
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._targets = targets
        self._interval = interval
        self._ttl = ttl
        self._publishers: dict[tuple[str, str], Publisher] = {}
        self._leases: dict[tuple[str, str], Lease] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        threading.Thread(target=self._run, name="shipper", daemon=True).start()

    def url(self, uid: str) -> str:
        """Where a replica on another host finds the index (its ``--source``)."""
        return f"{self.store.url.rstrip('/')}/{uid}"

    def _lease(self, uid: str, directory: Path) -> Lease:
        key = (uid, directory.name)
        with self._lock:
            lease = self._leases.get(key)
            if lease is None:
                store = self.store.child(f"{uid}/{directory.name}")
                lease = self._leases[key] = Lease(store, "LEASE", self.holder, ttl=self._ttl)
            return lease

    def ensure_writer(self, uid: str, name: str, directory: Path) -> None:
        """Hold the namespace's lease before writing to it, or refuse the write."""
        lease = self._lease(uid, directory)
        if lease.held or lease.acquire():
            return
        raise FailedPrecondition(
            f"Index '{name}': another server ({lease.holder_now() or 'unknown'}) holds the "
            f"writer lease of namespace directory {directory.name}; writes go to it"
        )

    def poke(self) -> None:
        self._wake.set()

    def published(self, uid: str, directory: Path) -> int:
        publisher = self._publishers.get((uid, directory.name))
        return 0 if publisher is None else publisher.lsn

    def ship_once(self) -> None:
        for uid, _name, directory in self._targets():
            if not directory.is_dir():
                continue
            if not self._lease(uid, directory).keep():
                continue  # another writer's namespace: not ours to publish
            key = (uid, directory.name)
            publisher = self._publishers.get(key)
            if publisher is None:
                store = self.store.child(f"{uid}/{directory.name}")
                publisher = self._publishers[key] = Publisher(directory, store)
            publisher.publish()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self.ship_once()
            except Exception:
                log.exception("shipping to %s failed; retrying", self.store.url)

    def forget(self, uid: str) -> None:
        with self._lock:
            for key in [k for k in self._leases if k[0] == uid]:
                self._leases.pop(key).release()
            for key in [k for k in self._publishers if k[0] == uid]:
                del self._publishers[key]

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        with self._lock:
            for lease in self._leases.values():
                lease.release()
