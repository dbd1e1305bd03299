"""Query throughput vs dedicated read replicas (docs/BENCHMARKS.md, "Read replicas").

Starts a fresh ``spruce serve``, loads the pypi-minilm-50k vectors (50,000 x 384,
cosine) into an index with dedicated read nodes, then for each configuration runs a
closed loop of concurrent REST queries (top 10, the dataset's real queries) for a
fixed time and reports queries per second and latency percentiles:

- on-demand (reads served by the server process itself),
- dedicated, 1 shard x 1 replica, then 1 x 2, then 2 shards x 1 (b1 nodes: each replica
  answers one query at a time, the compute of one node).

    .venv/bin/python bench/replica_qps.py [--seconds 20] [--clients 8] [--vectors 50000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.data import pypi

KEY = "bench-key"
HEADERS = {"Api-Key": KEY, "X-Pinecone-Api-Version": "2026-07"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data_dir: Path, exact: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port), "--api-key", KEY, "--no-index-ports"]
    env = {**os.environ, "SPRUCE_RC_MODE_INTERVAL_S": "0", "SPRUCE_RC_SCALE_INTERVAL_S": "0"}
    if exact:  # no HNSW: every query scans every vector (compute-bound)
        env["SPRUCE_HNSW_MIN_ROWS"] = str(10**9)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/indexes", headers=HEADERS, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _capacity(shards: int, replicas: int) -> dict[str, Any]:
    if shards == 0:
        return {"mode": "OnDemand"}
    return {
        "mode": "Dedicated",
        "dedicated": {
            "node_type": "b1",
            "scaling": "Manual",
            "manual": {"shards": shards, "replicas": replicas},
        },
    }


def _settle(url: str, name: str) -> dict[str, Any]:
    while True:
        body: dict[str, Any] = httpx.get(f"{url}/indexes/{name}", headers=HEADERS).json()
        if body["read_capacity"]["status"]["state"] in ("Ready", "Error"):
            return body
        time.sleep(0.2)


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) a process and its children have used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return sum(int(x) for x in fields[11:13]) / tick


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _segments(data_dir: Path) -> str:
    """The namespace's published segments, e.g. "50000 (HNSW)"."""
    (manifest,) = data_dir.glob("indexes/*/ns-*/manifest/MANIFEST")
    segments = json.loads(manifest.read_text())["segments"]
    return " + ".join(f"{s['rows']}{' (HNSW)' if s.get('ann') else ''}" for s in segments)


def _quiet(pid: int, data_dir: Path) -> None:
    """Wait for a steady state: one compacted segment, and a server that has used
    almost no CPU for 10 seconds (at most 10 minutes)."""
    deadline = time.monotonic() + 600
    last, calm = _cpu(pid), 0
    while time.monotonic() < deadline:
        time.sleep(5)
        now = _cpu(pid)
        calm = calm + 1 if now - last < 0.1 else 0
        last = now
        if calm >= 2 and "+" not in _segments(data_dir):
            return


def _load(host: str, queries: list[bytes], seconds: float, clients: int) -> dict[str, float]:
    base = host.split("//", 1)[1]
    hostport, _, path = base.partition("/")
    h, _, p = hostport.partition(":")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection(h, int(p))
        n = i
        while time.monotonic() < stop:
            body = queries[n % len(queries)]
            n += clients
            t0 = time.perf_counter()
            conn.request(
                "POST", f"/{path}/query", body, {**HEADERS, "Content-Type": "application/json"}
            )
            response = conn.getresponse()
            data = response.read()
            if response.status != 200:
                raise RuntimeError(data.decode())
            latencies[i].append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    flat = sorted(x for per in latencies for x in per)
    return {
        "qps": len(flat) / elapsed,
        "p50_ms": 1000 * statistics.median(flat),
        "p99_ms": 1000 * flat[int(0.99 * (len(flat) - 1))],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--vectors", type=int, default=50_000)
    ap.add_argument("--configs", default="0x0,1x1,1x2,2x1", help="SHARDSxREPLICAS; 0x0 on-demand")
    ap.add_argument("--exact", action="store_true", help="no HNSW: exact scans only")
    args = ap.parse_args()
    data = pypi(queries=1000)
    n = min(args.vectors, len(data.ids))
    queries = [json.dumps({"vector": q.tolist(), "topK": 10}).encode() for q in data.queries]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _start(Path(tmp) / "data", args.exact)
        try:
            name = "qps"
            httpx.post(
                f"{url}/indexes",
                headers=HEADERS,
                json={
                    "name": name,
                    "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 384}}},
                },
            ).raise_for_status()
            host = _settle(url, name)["host"]
            with httpx.Client(headers=HEADERS, timeout=120) as c:
                for lo in range(0, n, 200):
                    vectors = [
                        {"id": data.ids[i], "values": data.vectors[i].tolist()}
                        for i in range(lo, min(n, lo + 200))
                    ]
                    c.post(f"{host}/vectors/upsert", json={"vectors": vectors}).raise_for_status()
            _quiet(proc.pid, Path(tmp) / "data")  # flushes and compactions (HNSW) done
            mode = "exact scans" if args.exact else "HNSW (one compacted segment)"
            print(
                f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; {mode}; "
                f"{n} x 384 vectors, top 10, {args.clients} clients, {args.seconds:g} s each\n"
            )
            print(
                "| read capacity | segments | QPS | p50 ms | p99 ms "
                "| CPU ms/query: server | replicas | client |"
            )
            print("|---|---|---:|---:|---:|---:|---:|---:|")
            for config in args.configs.split(","):
                shards, replicas = (int(x) for x in config.split("x"))
                response = httpx.patch(
                    f"{url}/indexes/{name}",
                    headers=HEADERS,
                    json={"read_capacity": _capacity(shards, replicas)},
                )
                response.raise_for_status()
                state = _settle(url, name)["read_capacity"]["status"]
                assert state["state"] == "Ready", state
                _load(host, queries, 2, args.clients)  # warm up
                kids = _children(proc.pid)
                before = [_cpu(proc.pid), sum(_cpu(k) for k in kids), time.process_time()]
                r = _load(host, queries, args.seconds, args.clients)
                after = [_cpu(proc.pid), sum(_cpu(k) for k in kids), time.process_time()]
                total = r["qps"] * args.seconds
                cpu = [1000 * (a - b) / total for a, b in zip(after, before, strict=True)]
                label = (
                    "on-demand"
                    if shards == 0
                    else f"dedicated b1, {shards} shard(s) x {replicas} replica(s)"
                )
                print(
                    f"| {label} | {_segments(Path(tmp) / 'data')} "
                    f"| {r['qps']:.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} "
                    f"| {cpu[0]:.2f} | {cpu[1]:.2f} | {cpu[2]:.2f} |",
                    flush=True,
                )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
