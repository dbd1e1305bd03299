"""What metrics cost on the hot path: a 1,000-row upsert and a query, with and without.

Runs through the service layer (``DataPlane``, in process, no HTTP), where the
recorder sits: the HTTP edge costs the same either way and would only add noise. Two
data planes on the same disk, one instrumented by ``spruce.metrics.Recorder`` (which
also listens to the engine's WAL fsync timings), take turns, so that drift in the disk
hits both alike. Prints the median of each.

    PYTHONPATH=src .venv/bin/python bench/metrics_overhead.py [--rounds 200] [--dim 768]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from spruce.catalog import IndexRow
from spruce.metrics.recorder import Recorder
from spruce.service import DataPlane


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument(
        "--aa", action="store_true", help="instrument neither plane: the noise floor"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    row = IndexRow("p", "bench", "uid-bench", "Ready", 0.0, {"dimension": args.dim})
    with tempfile.TemporaryDirectory() as tmp:
        planes = {}
        for label in ("without", "with"):
            planes[label] = DataPlane(Path(tmp) / label, flush_rows=10**9)
        recorder = Recorder()
        if not args.aa:
            recorder.instrument(planes["with"])
        timings: dict[str, dict[str, list[float]]] = {
            label: {"upsert": [], "query": []} for label in planes
        }
        for r in range(args.rounds):
            batch = rng.standard_normal((1000, args.dim), dtype=np.float32)
            # The same ids each round: the namespace stays at 1,000 live records.
            vectors = [{"id": f"r{i}", "values": v.tolist()} for i, v in enumerate(batch)]
            q = rng.standard_normal(args.dim, dtype=np.float32).tolist()
            for label in ("without", "with") if r % 2 else ("with", "without"):
                data = planes[label]
                t = time.perf_counter()
                data.upsert(row, "ns", vectors)
                timings[label]["upsert"].append(time.perf_counter() - t)
                t = time.perf_counter()
                data.query(row, "ns", top_k=10, vector=q)
                timings[label]["query"].append(time.perf_counter() - t)
        for plane in planes.values():
            plane.close()
        recorder.close()
    for op in ("upsert", "query"):
        without = statistics.median(timings["without"][op]) * 1000
        with_ = statistics.median(timings["with"][op]) * 1000
        print(
            f"{op:7s} without {without:8.3f} ms   with {with_:8.3f} ms   "
            f"difference {with_ - without:+.3f} ms ({100 * (with_ / without - 1):+.1f} %)"
        )
    per_call: dict[str, float] = {}
    # The exact cost the recorder adds to one call: the wrapper around a call that
    # does nothing, minus the bare call.
    calls = 200_000
    bare = _noop
    wrapped = recorder._timed_call(_noop, "query")
    for label, fn in (("bare", bare), ("wrapped", wrapped)):
        t = time.perf_counter()
        for _ in range(calls):
            fn(row, "ns")
        per_call[label] = (time.perf_counter() - t) / calls * 1e6
    print(f"recorder per call: {per_call['wrapped'] - per_call['bare']:.2f} us")
    t = time.perf_counter()
    for _ in range(calls):
        recorder.on_event("wal_fsync", 0.001, 0)
    print(f"one WAL fsync timing: {(time.perf_counter() - t) / calls * 1e6:.2f} us")


class _Result:
    read_units = 1


def _noop(index: IndexRow, namespace: str) -> _Result:
    return _Result()


if __name__ == "__main__":
    main()
