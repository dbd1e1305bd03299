"""Spruce against its peers on the same data, recall target and machine.

    bench/.venv/bin/python bench/run.py --dataset pypi50k --systems all
    bench/.venv/bin/python bench/run.py --dataset synth1m --systems spruce-inproc,faiss-hnsw

Each system runs in its own worker process (clean resident-memory figures, no shared
GIL or thread pools). A worker loads the data, ingests it in batches (timed), waits for
the index to be complete (timed), picks the cheapest search-effort setting that reaches
recall@10 >= 0.95 on the first 200 queries, then measures all queries with 1 client and
8 concurrent clients, and filtered queries at several selectivities. Results are JSON
under bench/results/; report.py turns them into the tables of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import data
import numpy as np
import psutil
from systems import SYSTEMS, System, cleanup, workdir

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 0.95
K = 10


def dataset(name: str, queries: int) -> data.Dataset:
    if name == "pypi50k":
        return data.pypi(queries)
    if name.startswith("synth"):
        n = int(float(name[5:].rstrip("mk")) * (1_000_000 if name.endswith("m") else 1000))
        return data.synthetic(n, queries=queries)
    raise SystemExit(f"unknown dataset {name}")


def _latencies(
    system: System, ds: data.Dataset, queries: np.ndarray, sel: float
) -> tuple[list[list[int]], list[float]]:
    found, lat = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(system.search(q, K, sel))
        lat.append(time.perf_counter() - t)
    return found, lat


def _concurrent(system: System, queries: np.ndarray, clients: int, seconds: float) -> float:
    """Queries per second with ``clients`` threads each issuing queries back to back."""
    done = [0] * clients
    stop = threading.Event()

    def worker(i: int) -> None:
        idx = system.client() if hasattr(system, "client") else None
        j = i
        while not stop.is_set():
            q = queries[j % len(queries)]
            if idx is not None:
                system.search(q, K, 1.0, idx)  # type: ignore[call-arg]
            else:
                system.search(q, K, 1.0)
            done[i] += 1
            j += clients

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    time.sleep(seconds)
    stop.set()
    for th in threads:
        th.join()
    return sum(done) / (time.perf_counter() - t)


def _summary(found: list[list[int]], lat: list[float], truth: np.ndarray) -> dict[str, float]:
    arr = np.array(lat) * 1000
    return {
        "recall": round(data.recall(found, truth, K), 4),
        "qps_1": round(len(lat) / sum(lat), 1),
        "p50_ms": round(float(np.percentile(arr, 50)), 3),
        "p99_ms": round(float(np.percentile(arr, 99)), 3),
    }


def _rss_mb(pid: int | None) -> float:
    proc = psutil.Process(pid) if pid else psutil.Process()
    total = proc.memory_info().rss
    if pid:
        total += sum(c.memory_info().rss for c in proc.children(recursive=True))
    return round(total / 2**20, 1)


def worker(name: str, ds_name: str, queries: int, filtered_queries: int, out: Path) -> None:
    ds = dataset(ds_name, queries)
    truth = {s: ds.truth(s) for s in data.SELECTIVITIES}
    base_rss = _rss_mb(None)
    path = workdir(name)
    system = SYSTEMS[name](ds, path)
    result: dict[str, Any] = {
        "system": name,
        "dataset": ds.name,
        "rows": len(ds.ids),
        "dim": int(ds.vectors.shape[1]),
        "queries": len(ds.queries),
        "load_avg_start": os.getloadavg()[0],
    }
    try:
        ingest_s = system.ingest()
        build_s = system.wait_built()
        result.update(
            ingest_s=round(ingest_s, 2),
            ingest_per_s=round(len(ds.ids) / ingest_s),
            build_s=round(build_s, 2),
            total_load_s=round(ingest_s + build_s, 2),
        )
        warm = ds.queries[: min(50, len(ds.queries))]
        for q in warm:
            system.search(q, K, 1.0)
        calib = ds.queries[: min(200, len(ds.queries))]
        chosen = system.knobs[-1]
        for knob in system.knobs:
            if hasattr(system, "set_knob"):
                system.set_knob(knob)  # type: ignore[attr-defined]
            else:
                system.knob = knob
            found, _ = _latencies(system, ds, calib, 1.0)
            if data.recall(found, truth[1.0][: len(calib)], K) >= TARGET:
                chosen = knob
                break
        result["knob"] = chosen
        found, lat = _latencies(system, ds, ds.queries, 1.0)
        result["unfiltered"] = _summary(found, lat, truth[1.0])
        result["unfiltered"]["qps_8"] = round(_concurrent(system, ds.queries, 8, 15.0), 1)
        result["filtered"] = {}
        fq = ds.queries[:filtered_queries]
        for sel in data.SELECTIVITIES[:-1]:
            found, lat = _latencies(system, ds, fq, sel)
            result["filtered"][str(sel)] = _summary(found, lat, truth[sel][: len(fq)])
        pid = system.server_pid()
        result["rss_mb"] = _rss_mb(pid) if pid else _rss_mb(None)
        result["rss_base_mb"] = base_rss  # the worker with the dataset loaded, before the system
        result["rss_note"] = "server process tree" if pid else "whole worker process"
        result["disk_mb"] = round(
            sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1
        )
    except Exception as exc:  # record the failure; the report shows it
        import traceback

        result["error"] = f"{exc!r}"
        traceback.print_exc()
    finally:
        result["load_avg_end"] = os.getloadavg()[0]
        try:
            system.close()
        finally:
            cleanup(path)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="pypi50k")
    ap.add_argument("--systems", default="all")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--filtered-queries", type=int, default=300)
    ap.add_argument("--worker")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.dataset, args.queries, args.filtered_queries, args.out)
        return
    names = list(SYSTEMS) if args.systems == "all" else args.systems.split(",")
    RESULTS.mkdir(exist_ok=True)
    dataset(args.dataset, args.queries)  # generate / cache data and ground truth once
    for s in data.SELECTIVITIES:
        dataset(args.dataset, args.queries).truth(s)
    for name in names:
        out = RESULTS / f"{args.dataset}-{name}.json"
        print(f"== {name}", flush=True)
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                name,
                "--dataset",
                args.dataset,
                "--queries",
                str(args.queries),
                "--filtered-queries",
                str(args.filtered_queries),
                "--out",
                str(out),
            ],
            check=False,
        )


if __name__ == "__main__":
    main()
