"""What one query costs the SDK and loopback alone, with no database behind them.

The floor under any server's QPS on this machine: a stand-in server that answers every
``query`` with the same canned top-10 (REST: a bare asyncio HTTP/1.1 responder; gRPC:
grpc.aio with one method handler), driven by the official ``pinecone`` SDK exactly as
the search benchmark drives ``spruce serve``. Then the same loop against ``spruce
serve`` (a small namespace, so the search itself is cheap) and the engine in-process on
the same namespace, so the three rows split Spruce's server time into SDK+transport,
Spruce's own server path, and the search.

    .venv/bin/python bench/sdk_floor.py [--queries 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

KEY = "bench-key"
DIM = 384
_MATCHES = [{"id": f"v{i}", "score": 0.9 - i / 100} for i in range(10)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# -- the stand-in servers (run in their own process: --canned-rest / --canned-grpc) --


async def _rest_server(port: int) -> None:
    import orjson

    body = orjson.dumps({"matches": _MATCHES, "namespace": "", "usage": {"readUnits": 1}})
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                headers = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in headers.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(head + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    await server.serve_forever()


async def _grpc_server(port: int) -> None:
    import grpc

    from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb

    reply = pb.QueryResponse(
        matches=[pb.ScoredVector(id=m["id"], score=m["score"]) for m in _MATCHES]
    )

    async def query(request: pb.QueryRequest, context: Any) -> pb.QueryResponse:
        return reply

    handler = grpc.unary_unary_rpc_method_handler(
        query,
        request_deserializer=pb.QueryRequest.FromString,
        response_serializer=pb.QueryResponse.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("VectorService", {"Query": handler}),)
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


# -- the client side ----------------------------------------------------------------


def _loop(index: Any, queries: list[list[float]], n: int, namespace: str) -> dict[str, float]:
    lat = []
    for i in range(n):
        t = time.perf_counter()
        index.query(vector=queries[i % len(queries)], top_k=10, namespace=namespace)
        lat.append(time.perf_counter() - t)
    ms = np.array(lat[n // 10 :]) * 1000  # the first tenth warms connections up
    return {
        "qps": 1000 / float(ms.mean()),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
    }


def _inproc(vectors: np.ndarray, queries: np.ndarray, n: int) -> dict[str, float]:
    from spruce.engine.write.namespace import Namespace
    from spruce.types import Record

    with tempfile.TemporaryDirectory() as d:
        ns = Namespace.open(Path(d) / "ns", dimension=DIM, metric="cosine")
        ns.upsert([Record(f"v{i}", v, None, None) for i, v in enumerate(vectors)])
        lat = []
        for i in range(n):
            t = time.perf_counter()
            ns.query(queries[i % len(queries)], top_k=10)
            lat.append(time.perf_counter() - t)
        ns.close()
    ms = np.array(lat[n // 10 :]) * 1000
    return {
        "qps": 1000 / float(ms.mean()),
        "p50": float(np.percentile(ms, 50)),
        "p99": float(np.percentile(ms, 99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--canned-rest", type=int)
    ap.add_argument("--canned-grpc", type=int)
    args = ap.parse_args()
    if args.canned_rest:
        asyncio.run(_rest_server(args.canned_rest))
        return
    if args.canned_grpc:
        asyncio.run(_grpc_server(args.canned_grpc))
        return
    warnings.filterwarnings("ignore")
    from pinecone import Pinecone, ServerlessSpec
    from pinecone.grpc import PineconeGRPC

    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.rows, DIM)).astype(np.float32)
    qs = rng.standard_normal((200, DIM)).astype(np.float32)
    queries = qs.tolist()
    rows: list[tuple[str, dict[str, float]]] = []
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rest_port, grpc_port = _free_port(), _free_port()
        for flag, port in (("--canned-rest", rest_port), ("--canned-grpc", grpc_port)):
            procs.append(subprocess.Popen([sys.executable, __file__, flag, str(port)]))
            _wait(port)
        host = f"http://127.0.0.1:{rest_port}"
        rows.append(
            (
                "canned REST server",
                _loop(Pinecone(api_key=KEY).Index(host=host), queries, args.queries, ""),
            )
        )
        g = PineconeGRPC(api_key=KEY, grpc_scheme="http").Index(host=f"127.0.0.1:{grpc_port}")
        rows.append(("canned gRPC server", _loop(g, queries, args.queries, "")))

        data = tempfile.mkdtemp()
        port = _free_port()
        env = dict(os.environ, SPRUCE_COMPACT_IDLE_S="1")
        cmd = [
            sys.executable,
            "-m",
            "spruce.cli",
            "serve",
            "--data-dir",
            data,
            "--port",
            str(port),
            "--api-key",
            KEY,
        ]
        procs.append(
            subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
        _wait(port)
        pc = Pinecone(api_key=KEY, host=f"http://127.0.0.1:{port}")
        pc.create_index(
            name="floor",
            dimension=DIM,
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        index_host = pc.describe_index("floor").host
        rest = pc.Index(host=index_host)
        for lo in range(0, args.rows, 200):
            rest.upsert(
                vectors=[
                    (f"v{i}", vectors[i].tolist()) for i in range(lo, min(lo + 200, args.rows))
                ],
                namespace="ns",
            )
        time.sleep(2)
        rows.append(("spruce serve, REST", _loop(rest, queries, args.queries, "ns")))
        g = PineconeGRPC(api_key=KEY, host=f"http://127.0.0.1:{port}", grpc_scheme="http")
        rows.append(
            ("spruce serve, gRPC", _loop(g.Index(host=index_host), queries, args.queries, "ns"))
        )
        rows.append(("spruce in-process (same rows)", _inproc(vectors, qs, args.queries)))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    print(
        f"1 client, top_k=10, {args.rows} x {DIM}-d rows, {args.queries} queries, "
        f"load {os.getloadavg()[0]:.1f}\n"
    )
    print("| path | QPS | p50 ms | p99 ms |\n|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['qps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} |")


if __name__ == "__main__":
    main()
