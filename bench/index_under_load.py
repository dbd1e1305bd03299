"""Time to index while other processes use every core (issue 18, part 1).

Loads ``--rows`` clustered 384-d vectors into one namespace, in process, the way the
server's writer does (1,000-row upserts, background flushes and compactions), then
queries it from one thread until no live row is outside an HNSW graph, and then for
``--steady`` seconds more. Prints ingest time, time until fully indexed (from the end of
ingest), query QPS and p50/p99/max latency during that window, and the steady-state p50.

``--hog N`` starts N busy-loop processes at normal priority before the load and stops
them after (default: one per core); ``--hog 0`` is the quiet run. To compare code
versions, run it under each tree's ``src``:

    PYTHONPATH=src .venv/bin/python bench/index_under_load.py --rows 100000 --hog 2
    PYTHONPATH=/path/to/old/src .venv/bin/python bench/index_under_load.py --rows 100000 --hog 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import synthetic

from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.types import Record

HOG = "while True: pass"


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) * 1000 if xs else float("nan")


def run(rows: int, hogs: int, steady_s: float, idle_s: float) -> dict[str, float]:
    data = synthetic(n=rows)
    x = np.ascontiguousarray(data.vectors[:rows], dtype=np.float32)
    queries = data.queries
    procs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(hogs)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            options = EngineOptions(idle_compact_s=idle_s)
            ns = Namespace.open(
                Path(tmp) / "ns", dimension=x.shape[1], metric="cosine", options=options
            )
            t0 = time.monotonic()
            for lo in range(0, rows, 1000):
                hi = min(rows, lo + 1000)
                ns.upsert([Record(id=f"v{i}", values=x[i].tolist()) for i in range(lo, hi)])
            t_ingest = time.monotonic() - t0
            window: list[float] = []
            steady: list[float] = []
            worst_scan = ns.shape().unindexed_rows
            t1 = time.monotonic()
            done_at: float | None = None
            i = 0
            while True:
                q = queries[i % len(queries)].tolist()
                i += 1
                s = time.perf_counter()
                ns.query(q, top_k=10)
                lat = time.perf_counter() - s
                now = time.monotonic()
                if done_at is None:
                    window.append(lat)
                    unindexed = ns.shape().unindexed_rows
                    worst_scan = max(worst_scan, unindexed)
                    if unindexed == 0:
                        done_at = now
                    elif now - t1 > 3600:
                        raise RuntimeError("not indexed within an hour")
                else:
                    steady.append(lat)
                    if now - done_at > steady_s:
                        break
            t_index = (done_at or time.monotonic()) - t1
            ns.close()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    p50s = _pct(steady, 50)
    return {
        "rows": rows,
        "hogs": hogs,
        "load1": os.getloadavg()[0],
        "ingest_s": t_ingest,
        "index_s": t_index,
        "window_qps": len(window) / max(t_index, 1e-9),
        "window_p50_ms": _pct(window, 50),
        "window_p99_ms": _pct(window, 99),
        "window_max_ms": max(window) * 1000 if window else float("nan"),
        "steady_p50_ms": p50s,
        "max_unindexed": worst_scan,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--hog", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--steady", type=float, default=5.0)
    ap.add_argument("--idle", type=float, default=2.0, help="idle compaction delay (s)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    for _ in range(args.repeat):
        r = run(args.rows, args.hog, args.steady, args.idle)
        print(
            " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items())
        )
        sys.stdout.flush()
        threading.Event().wait(1)


if __name__ == "__main__":
    main()
