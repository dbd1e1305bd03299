"""Process-wide background workers: one thread for flushes, one for compaction.

Shared by every namespace (an index may have 100,000 of them: no thread per namespace).
Flushes and compactions run on separate threads so that a long HNSW build never holds up
the flushes that keep ingest going. A job submitted again while still queued runs once.

The compactor runs at a lower CPU priority (a higher nice value, on this thread only):
when requests and graph builds compete for the cores, requests win, and the graphs
catch up when the requests stop, as RocksDB does with its low-priority compaction pool.
Except for urgent jobs: a graph over rows that queries now scan exactly goes to a second
compactor thread at normal priority (``submit(..., urgent=True)``), because on a machine
busy with other processes a nice-10 build starves (minutes instead of seconds) and every
query meanwhile is an exact scan. Two threads rather than one whose priority moves,
because an unprivileged thread can raise its nice value but never lower it again.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["COMPACTOR", "FLUSHER", "TIMERS", "Timers", "Worker"]

log = logging.getLogger(__name__)


def lower_thread_priority(niceness: int) -> None:
    """Raise this thread's nice value to ``niceness`` (Linux: per thread; threads it
    starts, such as an OpenMP team's, inherit it). Elsewhere, or if not allowed: no-op."""
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, niceness)
    except (AttributeError, OSError):
        pass


class _Lane:
    """One thread and its queue."""

    def __init__(self, name: str, niceness: int = 0) -> None:
        self.name = name
        self._niceness = niceness
        self._queue: queue.Queue[tuple[Hashable, Callable[[], None]]] = queue.Queue()
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            self._start()
        self._queue.put((key, job))

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        if self._niceness:
            lower_thread_priority(self._niceness)
        while True:
            key, job = self._queue.get()
            with self._lock:
                self._pending.discard(key)  # a submission from now on queues it again
            try:
                job()
            except Exception:  # a job reports its own failures; never kill the worker
                log.exception("%s job %r failed", self.name, key)


class Timers:
    """Delayed calls on one thread; re-arming a key replaces its pending call."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._calls: dict[Hashable, tuple[int, Callable[[], None]]] = {}
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, key: Hashable, delay: float, call: Callable[[], None]) -> None:
        with self._cond:
            seq = next(self._seq)
            self._calls[key] = (seq, call)
            heapq.heappush(self._heap, (time.monotonic() + delay, seq, key))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="spruce-timers", daemon=True)
                self._thread.start()
            self._cond.notify()

    def cancel(self, key: Hashable) -> None:
        with self._cond:
            self._calls.pop(key, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cond.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, seq, key = heapq.heappop(self._heap)
                pending = self._calls.get(key)
                if pending is None or pending[0] != seq:
                    continue  # cancelled or re-armed since
                del self._calls[key]
            try:
                pending[1]()
            except Exception:
                log.exception("timer %r failed", key)


class Worker:
    """A background lane, plus an urgent lane at normal priority when ``niceness`` > 0."""

    def __init__(self, name: str, niceness: int = 0) -> None:
        self.name = name
        self._lane = _Lane(name, niceness)
        self._urgent = _Lane(f"{name}-urgent") if niceness > 0 else self._lane

    def submit(self, key: Hashable, job: Callable[[], None], *, urgent: bool = False) -> None:
        """Queue ``job`` unless ``key`` is already queued in that lane."""
        if not urgent:
            # A thread inherits its creator's nice value: the urgent lane's thread is
            # started here, by a normal-priority submitter, not by a niced job handing off.
            self._urgent.start()
        (self._urgent if urgent else self._lane).submit(key, job)


TIMERS = Timers()
FLUSHER = Worker("spruce-flush")
# SPRUCE_COMPACT_NICE=0 keeps compaction at normal priority: on a machine shared with
# other busy processes a nice-10 compactor gets little CPU, and graphs wait for it.
COMPACTOR = Worker("spruce-compact", niceness=int(os.environ.get("SPRUCE_COMPACT_NICE") or 10))
