"""What writing float32 values in JSON costs: fetch of 1,000 x 384 and a top_k=1000
query with values, end to end over REST, plus the encoding alone in process.

Runs a fresh ``spruce serve`` on loopback (from whatever source ``PYTHONPATH`` points
at, so two checkouts can be compared) and times raw HTTP requests, whose bodies are
read whole. Prints a Markdown table.

    PYTHONPATH=src .venv/bin/python bench/json_floats.py [--rows 1000] [--dim 384]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import orjson
from serverproc import KEY, start_server

H = {"Api-Key": KEY, "Content-Type": "application/json"}


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _encoding(matrix: np.ndarray, repeat: int) -> tuple[float, float]:
    """orjson of a fetch body: values as Python lists of widened doubles (tolist) vs
    the float32 arrays themselves (orjson writes each shortest)."""
    option = orjson.OPT_SERIALIZE_NUMPY

    def widened() -> bytes:
        return orjson.dumps({f"v{i}": {"values": row.tolist()} for i, row in enumerate(matrix)})

    def shortest() -> bytes:
        return orjson.dumps(
            {f"v{i}": {"values": row} for i, row in enumerate(matrix)}, option=option
        )

    return _median_ms(widened, repeat), _median_ms(shortest, repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    matrix = np.random.default_rng(7).standard_normal((args.rows, args.dim)).astype(np.float32)
    ids = [f"v{i}" for i in range(args.rows)]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data")
        try:
            with httpx.Client(timeout=60) as http:
                create = {
                    "name": "floats",
                    "dimension": args.dim,
                    "metric": "cosine",
                    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
                }
                http.post(f"{url}/indexes", headers=H, json=create).raise_for_status()
                host = http.get(f"{url}/indexes/floats", headers=H).json()["host"]
                for lo in range(0, args.rows, 200):
                    vectors = [
                        {"id": ids[i], "values": matrix[i].tolist()}
                        for i in range(lo, min(lo + 200, args.rows))
                    ]
                    body = {"vectors": vectors}
                    http.post(f"{host}/vectors/upsert", headers=H, json=body).raise_for_status()
                sizes: dict[str, int] = {}

                def fetch() -> None:
                    r = http.get(f"{host}/vectors/fetch", headers=H, params={"ids": ids})
                    r.raise_for_status()
                    sizes["fetch"] = len(r.content)

                query = {"vector": matrix[0].tolist(), "topK": args.rows, "includeValues": True}

                def search() -> None:
                    r = http.post(f"{host}/query", headers=H, json=query)
                    r.raise_for_status()
                    sizes["query"] = len(r.content)

                fetch_ms = _median_ms(fetch, args.repeat)
                query_ms = _median_ms(search, args.repeat)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    widened_ms, shortest_ms = _encoding(matrix, args.repeat)
    print(f"source: {os.environ.get('PYTHONPATH', '(installed)')}")
    print("| request | median ms | body bytes |")
    print("|---|---:|---:|")
    print(f"| fetch {args.rows} x {args.dim} | {fetch_ms:.1f} | {sizes['fetch']:,} |")
    print(f"| query top_k={args.rows}, values | {query_ms:.1f} | {sizes['query']:,} |")
    print(f"| encode only, tolist (widened) | {widened_ms:.1f} | |")
    print(f"| encode only, float32 arrays (shortest) | {shortest_ms:.1f} | |")


if __name__ == "__main__":
    main()
