"""Bulk import throughput: records loaded per second, 384-d dense, from local disk.

Runs a fresh ``spruce serve`` on loopback, creates a cosine index of dimension 384 and
imports, through the official SDK's ``start_import``, (1) the real pypi-minilm-50k set
(if present) and (2) a generated set (default 500,000 rows in 10 files, unit vectors
with small JSON metadata) written to a temporary directory first. The rate is
``records_imported / (finished_at - created_at)`` as the server reports it: listing,
footer checks, decoding, validation, de-duplication, segment writes with fsync and
publishing, everything up to ``Completed``. HNSW indexing of the imported segments
runs afterwards, in the background. Prints a Markdown table.

    .venv/bin/python bench/import_bench.py [--rows 500000] [--files 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PYPI = Path(os.environ.get("SPRUCE_BENCH_PYPI", "/work/shared/datasets/pypi-minilm-50k"))
KEY = "bench-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate(root: Path, rows: int, files: int, dimension: int = 384) -> Path:
    """``root/__default__/N.parquet``: unit vectors and PyPI-like metadata JSON."""
    target = root / "__default__"
    target.mkdir(parents=True)
    rng = np.random.default_rng(7)
    per_file = -(-rows // files)
    for number in range(files):
        n = min(per_file, rows - number * per_file)
        vectors = rng.standard_normal((n, dimension), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        first = number * per_file
        ids = [f"gen-{first + i}" for i in range(n)]
        metadata = [
            json.dumps({"name": f"pkg{first + i}", "year": 2000 + i % 26, "popular": i % 3 == 0})
            for i in range(n)
        ]
        values = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), dimension)
        table = pa.table(
            {
                "id": pa.array(ids),
                "values": values.cast(pa.list_(pa.float32())),
                "metadata": pa.array(metadata),
            }
        )
        pq.write_table(table, target / f"{number}.parquet", row_group_size=25_000)
    return root


class Server:
    def __init__(self, data: Path, import_roots: list[Path]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data-dir", str(data)]
        cmd += ["--port", str(self.port), "--api-key", KEY]
        for root in import_roots:  # local imports are read only from allowed roots
            cmd += ["--import-root", str(root)]
        self.log = open(data.parent / "server.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/indexes", headers={"Api-Key": KEY}, timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()


def run_import(pc: Any, uri: Path, error_mode: str) -> tuple[int, float]:
    """(records, seconds) of one import into a fresh index."""
    from pinecone import ServerlessSpec

    name = f"bench-{time.monotonic_ns() % 10**9}"
    pc.create_index(
        name=name,
        dimension=384,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    index = pc.Index(host=pc.describe_index(name).host)
    job = index.start_import(uri=str(uri), error_mode=error_mode)
    while (state := index.describe_import(job.id)).status not in (
        "Completed",
        "Failed",
        "Cancelled",
    ):
        time.sleep(0.05)
    if state.status != "Completed":
        raise RuntimeError(f"import {job.id} {state.status}: {state.error}")
    seconds = (
        dt.datetime.fromisoformat(state.finished_at) - dt.datetime.fromisoformat(state.created_at)
    ).total_seconds()
    pc.delete_index(name)
    return int(state.records_imported), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    from pinecone import Pinecone

    work = Path(tempfile.mkdtemp(prefix="spruce-import-bench-"))
    try:
        sources: list[tuple[str, Path, str]] = []
        if (PYPI / "import").is_dir():
            sources.append(("pypi-minilm-50k (real)", PYPI / "import", "continue"))
        started = time.perf_counter()
        generated = generate(work / "generated", args.rows, args.files)
        made = time.perf_counter() - started
        print(f"generated {args.rows} rows in {made:.1f} s", file=sys.stderr)
        sources.append((f"generated {args.rows:,} x 384", generated, "abort"))
        (work / "data").mkdir()
        server = Server(work / "data", [uri for _, uri, _ in sources])
        try:
            pc = Pinecone(api_key=KEY, host=server.url)
            print("| source | records | best s | median s | best records/s |")
            print("|---|---:|---:|---:|---:|")
            for label, uri, mode in sources:
                runs = [run_import(pc, uri, mode) for _ in range(args.repeat)]
                records = runs[0][0]
                times = [seconds for _, seconds in runs]
                best = min(times)
                print(
                    f"| {label} | {records:,} | {best:.2f} | {statistics.median(times):.2f} "
                    f"| {records / best:,.0f} |",
                    flush=True,
                )
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
