"""Upsert throughput and query latency: REST vs gRPC, and REST on the index's own
port vs the main port (what the per-index port front costs REST).

Runs a fresh ``spruce serve`` on loopback and drives it with the official SDK:
``Pinecone`` (REST) and ``PineconeGRPC`` (gRPC, plaintext). Each upsert run
writes the same vectors into a fresh namespace, one batch at a time, from one
client thread (the SDK's default). Prints a Markdown table.

    .venv/bin/python bench/grpc_vs_rest.py [--vectors 20000] [--dim 384] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pinecone import Pinecone, ServerlessSpec
from pinecone.grpc import PineconeGRPC
from serverproc import KEY, start_server


def _upsert_rate(index: Any, vectors: np.ndarray, batch: int, namespace: str) -> float:
    ids = [f"v{i}" for i in range(len(vectors))]
    rows = vectors.tolist()
    start = time.perf_counter()
    for lo in range(0, len(rows), batch):
        index.upsert(
            vectors=list(zip(ids[lo : lo + batch], rows[lo : lo + batch], strict=True)),
            namespace=namespace,
        )
    return len(rows) / (time.perf_counter() - start)


def _latencies(
    calls: dict[str, Callable[[list[float]], object]], queries: np.ndarray
) -> dict[str, tuple[float, float]]:
    """p50 and p99 per client; clients take turns on each query, in rotating order, so
    that background work (flushes after the upserts) hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls.items())
    for i, q in enumerate(queries.tolist()):
        shift = i % len(order)  # nobody is always the first to wake the server
        for name, call in order[shift:] + order[:shift]:
            start = time.perf_counter()
            call(q)
            times[name].append((time.perf_counter() - start) * 1000)
    out = {}
    for name, series in times.items():
        series.sort()
        out[name] = (statistics.median(series), series[int(len(series) * 0.99) - 1])
    return out


def _raw_rest(hosts: dict[str, str], requests: int) -> dict[str, float]:
    """p50 microseconds of a bare keep-alive REST call (describe_index_stats) per host,
    without the SDK: what handing index-port sockets to uvicorn costs per request."""
    clients = {name: httpx.Client(headers={"Api-Key": KEY}) for name in hosts}
    times: dict[str, list[float]] = {name: [] for name in hosts}
    names = list(hosts)
    for i in range(requests):
        for name in names[i % 2 :] + names[: i % 2]:
            start = time.perf_counter()
            clients[name].post(f"{hosts[name]}/describe_index_stats", json={}).raise_for_status()
            times[name].append((time.perf_counter() - start) * 1e6)
    for client in clients.values():
        client.close()
    return {name: statistics.median(series) for name, series in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vectors", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2, help="upsert runs per client; best kept")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pinecone")

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.vectors, args.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim)).astype(np.float32)

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(Path(tmp) / "data")
        try:
            rest_pc = Pinecone(api_key=KEY, host=url)
            grpc_pc = PineconeGRPC(api_key=KEY, host=url, grpc_scheme="http")
            rest_pc.create_index(
                name="bench",
                dimension=args.dim,
                metric="cosine",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
            host = rest_pc.describe_index("bench").host
            main_host = f"{url}/{host.split('/', 3)[3]}"
            clients = {
                "REST, index port": rest_pc.Index(host=host),
                "REST, main port": rest_pc.Index(host=main_host),
                "gRPC, index port": grpc_pc.Index(host=host),
            }
            rows = []
            order = list(clients.items())
            for round_ in range(args.rounds):
                # Rotate who goes first: a namespace's flush (at --vectors rows, by default)
                # runs in the background while the next client upserts.
                shift = round_ % len(order)
                for name, index in order[shift:] + order[:shift]:
                    ns = f"{name.split(',')[0]}-{name.split()[-2]}-{round_}"
                    rate = _upsert_rate(index, vectors, args.batch, ns)
                    rows.append((name, rate))
            best = {name: max(r for n, r in rows if n == name) for name in clients}
            # Queries hit one namespace holding every vector (exact scan of the memtable).
            target = "REST-index-0"
            calls = {
                name: lambda q, index=index: index.query(vector=q, top_k=10, namespace=target)
                for name, index in clients.items()
            }
            _latencies(calls, queries[:20])  # warm up connections and caches
            latency = _latencies(calls, queries)
            # A tiny request, where transport overhead is most of the time.
            fetches = {
                name: lambda _q, index=index: index.fetch(ids=["v1"], namespace=target)
                for name, index in clients.items()
            }
            fetch_latency = _latencies(fetches, queries)
            raw = _raw_rest({"index port": host, "main port": main_host}, 2000)
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    cpu = os.cpu_count()
    print(
        f"\n{args.vectors} vectors x {args.dim} dims, batches of {args.batch}, "
        f"{args.queries} queries (top_k=10), {cpu} CPUs, client and server on one machine\n"
    )
    print(
        f"| client | upsert vectors/s (best of {args.rounds}) | query p50 ms | query p99 ms "
        "| fetch 1 id p50 ms |"
    )
    print("|---|---:|---:|---:|---:|")
    for name in clients:
        p50, p99 = latency[name]
        print(
            f"| {name} | {best[name]:,.0f} | {p50:.2f} | {p99:.2f} | {fetch_latency[name][0]:.2f} |"
        )
    print(
        "\nBare REST call (httpx keep-alive, describe_index_stats), p50: "
        + ", ".join(f"{name} {us:.0f} us" for name, us in raw.items())
    )


if __name__ == "__main__":
    main()
