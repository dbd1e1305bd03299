"""What happens, as it happens: data-plane calls and engine events, tallied.

Tallies are prometheus-client histograms and counters in a private registry, keyed by
index uid (names are reused across projects and after a delete). ``scrape.py`` turns
them into Pinecone's names and labels for the caller's project at scrape time.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

from spruce import observe
from spruce.catalog import IndexRow
from spruce.service import DataPlane

__all__ = ["METHODS", "Recorder"]

#: DataPlane method -> the operation it counts as. Pinecone names the first six in its
#: metrics (``pinecone_db_op_<op>_count``); ``describe_index_stats`` is Spruce's only.
METHODS = {
    "upsert": "upsert",
    "query": "query",
    "fetch": "fetch",
    "fetch_by_metadata": "fetch",
    "update": "update",
    "delete": "delete",
    "list_ids": "list",
    "stats": "describe_index_stats",
}

# Request latency on this machine runs from 0.1 ms (a fetch) to seconds (a large
# filtered query): buckets from 0.25 ms up.
_REQUEST_BUCKETS = (
    0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
)  # fmt: skip
# One fsync: ~0.1 ms on tmpfs-like disks, 1-10 ms on SSDs, more on network storage.
_FSYNC_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
# Flushes, merges and graph builds: milliseconds for a small memtable, minutes at scale.
_BACKGROUND_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 180.0, 600.0)

#: Pinecone bills a write at least 5 write units.
_MIN_WRITE_UNITS = 5
#: Bytes a record is assumed to take besides its values (id, metadata): the same
#: estimate the data plane's read units use.
_RECORD_OVERHEAD = 256


class Recorder:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        r = self.registry
        self.op_seconds = Histogram(
            "spruce_db_op_duration_seconds",
            "Data-plane requests by operation, from the service's start to its answer.",
            ["index_uid", "op"],
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.read_units = Counter("spruce_read_units", "Read units", ["index_uid"], registry=r)
        self.write_units = Counter("spruce_write_units", "Write units", ["index_uid"], registry=r)
        self.wal_fsync = Histogram(
            "spruce_wal_fsync_seconds",
            "fsync of one WAL append (one per write request).",
            buckets=_FSYNC_BUCKETS,
            registry=r,
        )
        self.flush = Histogram(
            "spruce_flush_duration_seconds",
            "A frozen memtable written as a segment (count: flushes).",
            buckets=_BACKGROUND_BUCKETS,
            registry=r,
        )
        self.compaction = Histogram(
            "spruce_compaction_duration_seconds",
            "Segments merged into one (count: compactions).",
            buckets=_BACKGROUND_BUCKETS,
            registry=r,
        )
        self.hnsw_build = Histogram(
            "spruce_hnsw_build_duration_seconds",
            "An HNSW graph built or extended, during a flush or a compaction.",
            buckets=_BACKGROUND_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "spruce_background_rows",
            "Rows written by flushes and compactions, and added to HNSW graphs.",
            ["kind"],
            registry=r,
        )
        self.imported = Counter(
            "spruce_import_records", "Records loaded by bulk imports.", registry=r
        )
        self._rows = {kind: self.rows.labels(kind) for kind in ("flush", "compaction", "hnsw")}
        self._timed = {
            "wal_fsync": self.wal_fsync,
            "flush": self.flush,
            "compaction": self.compaction,
            "hnsw_build": self.hnsw_build,
        }
        # Children by label values: ``labels()`` takes a lock and builds a key each
        # call (8 us); a dict read is 0.1 us.
        self._op_child: dict[tuple[str, str], Any] = {}
        self._read_child: dict[str, Any] = {}
        self._write_child: dict[str, Any] = {}
        observe.listen(self.on_event)

    def close(self) -> None:
        observe.unlisten(self.on_event)

    # -- engine events ------------------------------------------------------------

    def on_event(self, event: observe.Event, seconds: float, rows: int) -> None:
        if event == "import":
            self.imported.inc(rows)
            return
        self._timed[event].observe(seconds)
        if event != "wal_fsync":
            self._rows["hnsw" if event == "hnsw_build" else event].inc(rows)

    # -- data-plane calls ---------------------------------------------------------

    def instrument(self, data: DataPlane) -> None:
        """Time every data-plane call of ``data`` (REST, gRPC and integrated records all
        go through it): its methods are wrapped on this instance only."""
        for method, op in METHODS.items():
            setattr(data, method, self._timed_call(getattr(data, method), op))

    def _timed_call(self, call: Callable[..., Any], op: str) -> Callable[..., Any]:
        @functools.wraps(call)
        def timed(index: IndexRow, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = call(index, *args, **kwargs)
            finally:
                # Every request counts, a refused one too, as Pinecone counts requests.
                key = (index.uid, op)
                child = self._op_child.get(key)
                if child is None:
                    child = self._op_child[key] = self.op_seconds.labels(*key)
                child.observe(time.perf_counter() - started)
            self._units(index, op, args, kwargs, result)
            return result

        return timed

    def _units(
        self, index: IndexRow, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> None:
        """The units the answer reports (reads), or Pinecone's rule estimated (writes)."""
        if op in ("query", "fetch", "list"):
            if hasattr(result, "read_units"):
                units = int(result.read_units)
            elif op == "fetch":  # fetch by id: 1 RU per 10 records asked for, as the edges
                ids = args[1] if len(args) > 1 else kwargs.get("ids", ())
                units = max(1, (len(ids) + 9) // 10)
            else:
                units = 1
            self._counter(self.read_units, self._read_child, index.uid).inc(units)
        elif op == "upsert":
            # 1 WU per KB written, at least 5 (Pinecone's rule); the size is estimated.
            size = result[1] * ((index.dimension or 0) * 4 + _RECORD_OVERHEAD)
            units = max(_MIN_WRITE_UNITS, math.ceil(size / 1024))
            self._counter(self.write_units, self._write_child, index.uid).inc(units)
        elif op in ("update", "delete"):
            self._counter(self.write_units, self._write_child, index.uid).inc(_MIN_WRITE_UNITS)

    @staticmethod
    def _counter(parent: Counter, children: dict[str, Any], uid: str) -> Any:
        child = children.get(uid)
        if child is None:
            child = children[uid] = parent.labels(uid)
        return child
