"""Replica processes: starting and stopping them, and picking one for each read.

Each replica is a ``python -m spruce.replica`` child serving one shard of one index. A
``ReplicaSet`` is an index's routing table: for every shard, the replicas serving it,
used round-robin. Removing a replica first takes it out of the rotation, then waits
for the reads it is serving to finish (drain), then stops the process (SIGTERM, which
lets it finish anything still queued). A replica that dies is taken out of rotation and
reported, so the owner can start another; a read that finds its replica gone is retried
on another replica of the same shard.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from spruce.errors import Internal, Unavailable
from spruce.service.read_capacity.protocol import Health, ReplicaClient, ReplicaDown
from spruce.tls import ClientTLS, ServerTLS

__all__ = ["Replica", "ReplicaSet", "ReplicaSpec", "Supervisor"]

log = logging.getLogger(__name__)

READY = "SPRUCE-REPLICA-READY"
T = TypeVar("T")


@dataclass(frozen=True)
class ReplicaSpec:
    """Everything a replica process needs to serve one shard of one index."""

    root: Path
    dimension: int | None
    metric: str
    shard: int
    shards: int
    node_type: str
    threads: int


@dataclass(eq=False)
class Replica:
    spec: ReplicaSpec
    proc: subprocess.Popen[bytes] | None  # None: on another host, registered by URL
    client: ReplicaClient
    inflight: int = 0
    retired: bool = False  # out of rotation: draining or dead
    _cond: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return self.client.url

    def enter(self) -> None:
        with self._cond:
            self.inflight += 1

    def leave(self) -> None:
        with self._cond:
            self.inflight -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.inflight == 0, timeout)

    def health(self) -> Health:
        result: Health = self.client.call("/health", None, Health)
        return result


class Supervisor:
    """Starts and stops replica processes; notices the ones that die."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = 120.0,
        on_death: Callable[[Replica], None] | None = None,
        token: str | None = None,
        tls: ServerTLS | None = None,
    ) -> None:
        self.host = host
        self.token = token
        #: Replicas serve HTTPS with the server's certificate, and only it is accepted.
        self.tls = tls
        self.start_timeout = start_timeout
        self.on_death = on_death
        self._live: set[Replica] = set()
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._watch, name="replica-watch", daemon=True).start()

    def start(self, spec: ReplicaSpec) -> Replica:
        """Start a replica and return once it has loaded the index and listens."""
        cmd = [sys.executable, "-m", "spruce.replica", "--root", str(spec.root)]
        if spec.dimension is not None:
            cmd += ["--dimension", str(spec.dimension)]
        cmd += ["--metric", spec.metric, "--shard", str(spec.shard), "--shards", str(spec.shards)]
        cmd += ["--node-type", spec.node_type, "--threads", str(spec.threads)]
        cmd += ["--host", self.host, "--parent-pid", str(os.getpid())]
        client_tls = None
        if self.tls is not None:
            cmd += ["--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key)]
            # Read now, as the replica reads it: a rotated file pins the new certificate.
            client_tls = ClientTLS(pin=self.tls.pin())
        env = dict(os.environ)
        # One node = ``threads`` cores: BLAS and faiss must not fan out beyond them.
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(spec.threads)
        if self.token:
            env["SPRUCE_REPLICA_TOKEN"] = self.token  # not on the command line: ps shows it
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
        port = self._await_ready(proc)
        client = ReplicaClient(self.host, port, token=self.token, tls=client_tls)
        replica = Replica(spec, proc, client)
        with self._lock:
            self._live.add(replica)
        return replica

    def _await_ready(self, proc: subprocess.Popen[bytes]) -> int:
        assert proc.stdout is not None
        found: list[int] = []

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                text = line.decode(errors="replace").strip()
                if text.startswith(READY):
                    found.append(int(text.split()[1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(self.start_timeout)
        if not found:
            proc.kill()
            proc.wait()
            raise Internal(f"a read replica failed to start (exit code {proc.returncode})")
        return found[0]

    def stop(self, replica: Replica, *, drain_timeout: float = 30.0) -> None:
        """Drain (the caller has taken it out of rotation), then stop the process."""
        replica.retired = True
        replica.wait_idle(drain_timeout)
        with self._lock:
            self._live.discard(replica)
        replica.client.close()
        proc = replica.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _watch(self) -> None:
        while not self._closed:
            time.sleep(0.5)
            with self._lock:
                dead = [r for r in self._live if r.proc is not None and r.proc.poll() is not None]
                self._live.difference_update(dead)
            for replica in dead:
                code = None if replica.proc is None else replica.proc.returncode
                log.warning("read replica %s exited with %s", replica.url, code)
                replica.retired = True
                if self.on_death is not None:
                    self.on_death(replica)

    def close(self) -> None:
        self._closed = True
        with self._lock:
            live, self._live = list(self._live), set()
        for replica in live:
            replica.client.close()  # first: idle connections would slow their shutdown
        procs = [r.proc for r in live if r.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class ReplicaSet:
    """An index's routing table: shard -> replicas, used round-robin."""

    def __init__(self, shards: int, node_type: str) -> None:
        self.shards = shards
        self.node_type = node_type
        self._by_shard: list[list[Replica]] = [[] for _ in range(shards)]
        self._turn = [itertools.count() for _ in range(shards)]
        self._lock = threading.Lock()

    @property
    def replicas(self) -> int:
        """Replicas per shard (the smallest count, while one is being replaced)."""
        with self._lock:
            return min(len(r) for r in self._by_shard)

    def all(self) -> list[Replica]:
        with self._lock:
            return [r for shard in self._by_shard for r in shard]

    def add(self, replica: Replica) -> None:
        with self._lock:
            self._by_shard[replica.spec.shard].append(replica)

    def remove(self, replica: Replica) -> bool:
        with self._lock:
            shard = self._by_shard[replica.spec.shard]
            if replica in shard:
                shard.remove(replica)
                return True
            return False

    def newest(self, shard: int) -> Replica | None:
        with self._lock:
            found = self._by_shard[shard]
            return found[-1] if found else None

    def _pick(self, shard: int, skip: set[Replica]) -> Replica | None:
        with self._lock:
            found = [r for r in self._by_shard[shard] if not r.retired and r not in skip]
            if not found:
                return None
            replica = found[next(self._turn[shard]) % len(found)]
            replica.enter()
            return replica

    def call(self, shard: int, fn: Callable[[ReplicaClient], T]) -> T:
        """Run ``fn`` on the next replica of ``shard``; another one if it is down."""
        tried: set[Replica] = set()
        while True:
            replica = self._pick(shard, tried)
            if replica is None:
                raise Unavailable(f"No read replica of shard {shard} is available; retry shortly")
            try:
                return fn(replica.client)
            except ReplicaDown:
                tried.add(replica)
                log.warning("read replica %s is down; trying another", replica.url)
                if replica.proc is None:  # a remote one re-registers when it is back
                    replica.retired = True
                    self.remove(replica)
            finally:
                replica.leave()

    def fan_out(self, fn: Callable[[ReplicaClient], T], pool: ThreadPoolExecutor) -> list[T]:
        """``fn`` on one replica of every shard, in parallel; results in shard order."""
        if self.shards == 1:
            return [self.call(0, fn)]
        futures = [pool.submit(self.call, shard, fn) for shard in range(self.shards)]
        return [f.result() for f in futures]
