"""CPU time of the in-process write, build and query paths, for comparing two trees.

Wall-clock figures on a shared machine swing by 2x with other processes' load; the CPU
time a process spends on the same work moves much less. Run it once per tree, several
times, alternating:

    cd bench && PYTHONPATH=/path/to/tree/src ../.venv/bin/python cpu_time.py [--rows 50000]

Prints one JSON line: ingest and compaction (HNSW build) CPU seconds, CPU microseconds
per query (on the querying thread), the wall figures beside them, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import run

import spruce
from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.types import Record


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="synth200k")
    ap.add_argument("--rows", type=int, default=50_000)
    args = ap.parse_args()
    ds = run.dataset(args.dataset, 1000)
    d = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    try:
        ns = Namespace.open(
            d / "ns", dimension=ds.vectors.shape[1], metric="cosine", options=EngineOptions()
        )
        c0, w0 = time.process_time(), time.perf_counter()
        for lo in range(0, args.rows, 1000):
            v = np.ascontiguousarray(ds.vectors[lo : lo + 1000])
            ns.upsert(
                [Record(ds.ids[i], v[i - lo], None, ds.metadata(i)) for i in range(lo, lo + len(v))]
            )
        c1, w1 = time.process_time(), time.perf_counter()
        ns.compact()
        c2, w2 = time.process_time(), time.perf_counter()
        for q in ds.queries[:100]:  # warm up
            ns.query(q, top_k=10)
        t0, w3 = time.thread_time(), time.perf_counter()
        for _ in range(3):
            for q in ds.queries:
                ns.query(q, top_k=10)
        t1, w4 = time.thread_time(), time.perf_counter()
        ns.close()
        n = 3 * len(ds.queries)
        print(
            json.dumps(
                {
                    "spruce": spruce.__file__,
                    "load1": round(os.getloadavg()[0], 2),
                    "ingest_cpu_s": round(c1 - c0, 2),
                    "ingest_wall_s": round(w1 - w0, 2),
                    "compact_cpu_s": round(c2 - c1, 2),
                    "compact_wall_s": round(w2 - w1, 2),
                    "query_cpu_us": round((t1 - t0) / n * 1e6, 1),
                    "query_wall_us": round((w4 - w3) / n * 1e6, 1),
                }
            )
        )
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
