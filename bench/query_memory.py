"""Peak server memory for one large query response (docs/RELIABILITY.md, "Resource bounds").

Starts ``spruce serve`` on loopback, loads ROWS records of DIM values with ~200 bytes of
metadata, then for each top_k resets the server's peak RSS (``/proc/PID/clear_refs``)
and reports how far one query with values and metadata raised it (``VmHWM``)::

    PYTHONPATH=src python bench/query_memory.py [--src OTHER/src]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

DIM = 768
ROWS = 10_000
KEY = "bench-key"


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(field)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", default="src", help="the spruce sources to run")
    parser.add_argument("--top-k", type=int, nargs="*", default=[1000, 1300, 10_000])
    parser.add_argument("--parallel", type=int, default=8, help="queries at once, last run")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp()) / "data"
    env = {**os.environ, "PYTHONPATH": str(Path(args.src).resolve())}
    cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data-dir", str(data)]
    cmd += ["--port", str(port), "--api-key", KEY, "--no-index-ports"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    head = {"Api-Key": KEY}
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/indexes", headers=head)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        body = {
            "name": "mem",
            "dimension": DIM,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        }
        httpx.post(f"{base}/indexes", headers=head, json=body).raise_for_status()
        host = httpx.get(f"{base}/indexes/mem", headers=head).json()["host"]
        rng = np.random.default_rng(1)
        for start in range(0, ROWS, 100):
            vectors = [
                {
                    "id": f"r{i:05d}",
                    "values": (rng.random(DIM) + 0.01).tolist(),
                    "metadata": {"text": "x" * 200, "n": i},
                }
                for i in range(start, start + 100)
            ]
            r = httpx.post(f"{host}/vectors/upsert", headers=head, json={"vectors": vectors})
            r.raise_for_status()
        query = {"vector": [1.0] * DIM, "includeValues": True, "includeMetadata": True}
        httpx.post(f"{host}/query", headers=head, json={**query, "topK": 10}, timeout=120)
        print(f"rows={ROWS} dim={DIM} src={args.src}")
        for top_k in args.top_k:
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            before = _rss_kb(proc.pid, "VmRSS")
            r = httpx.post(
                f"{host}/query", headers=head, json={**query, "topK": top_k}, timeout=120
            )
            peak = _rss_kb(proc.pid, "VmHWM")
            print(
                f"top_k={top_k}: HTTP {r.status_code}, {len(r.content) / 1e6:.1f} MB "
                f"response, peak RSS +{(peak - before) / 1024:.0f} MB"
            )
        for top_k in args.top_k:
            Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
            before = _rss_kb(proc.pid, "VmRSS")
            body = {**query, "topK": top_k}
            with ThreadPoolExecutor(args.parallel) as pool:
                codes = list(
                    pool.map(
                        lambda _, body=body: (
                            httpx.post(
                                f"{host}/query", headers=head, json=body, timeout=300
                            ).status_code
                        ),
                        range(args.parallel),
                    )
                )
            peak = _rss_kb(proc.pid, "VmHWM")
            print(
                f"{args.parallel} x top_k={top_k} at once: HTTP {sorted(set(codes))}, "
                f"peak RSS +{(peak - before) / 1024:.0f} MB"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
