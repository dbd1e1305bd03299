"""Timings the engine reports, for whoever listens (``spruce.metrics``).

The engine and the import runner sit below every layer that may know about
Prometheus, so they call ``record`` here and ``spruce.metrics`` subscribes. With no
listener, ``record`` is a loop over an empty list: the hot path (one WAL fsync per
write) pays two ``perf_counter`` calls and a function call, about 0.2 µs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

__all__ = ["Event", "Listener", "listen", "record", "unlisten"]

#: ``wal_fsync``: one WAL append's fsync. ``flush``: a memtable written as a segment.
#: ``compaction``: segments merged into one. ``hnsw_build``: an HNSW graph built or
#: extended. ``import``: records a bulk import has loaded (``seconds`` is 0).
Event = Literal["wal_fsync", "flush", "compaction", "hnsw_build", "import"]

#: Called as ``listener(event, seconds, rows)``; must be cheap and must not raise.
Listener = Callable[[Event, float, int], None]

_listeners: list[Listener] = []


def record(event: Event, seconds: float, rows: int = 0) -> None:
    for listener in _listeners:
        listener(event, seconds, rows)


def listen(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unlisten(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)
