"""Process-wide background workers: one thread for flushes, one for compaction.

Shared by every namespace (an index may have 100,000 of them: no thread per namespace).
Flushes and compactions run on separate threads so that a long HNSW build never holds up
the flushes that keep ingest going. A job submitted again while still queued runs once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Hashable

__all__ = ["COMPACTOR", "FLUSHER", "Worker"]

log = logging.getLogger(__name__)


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.Queue[tuple[Hashable, Callable[[], None]]] = queue.Queue()
        self._pending: set[Hashable] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, key: Hashable, job: Callable[[], None]) -> None:
        with self._lock:
            if key in self._pending:
                return
            self._pending.add(key)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()
        self._queue.put((key, job))

    def _run(self) -> None:
        while True:
            key, job = self._queue.get()
            with self._lock:
                self._pending.discard(key)  # a submission from now on queues it again
            try:
                job()
            except Exception:  # a job reports its own failures; never kill the worker
                log.exception("%s job %r failed", self.name, key)


FLUSHER = Worker("spruce-flush")
COMPACTOR = Worker("spruce-compact")
