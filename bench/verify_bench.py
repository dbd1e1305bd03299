"""What verifying every byte on open costs: CRC-32 throughput and segment open time.

Writes one flushed segment of ``--rows`` x ``--dim`` float32 vectors (ids and a small
metadata map per row, no HNSW graph) with the engine's own ``write_segment``, then
opens it with ``SegmentCore`` (what a namespace open does per segment):

- ``crc32``: ``zlib.crc32`` over ``vectors.npy`` through a mapping (``verify_crc32``),
  page cache warm, in bytes per second;
- ``open``: ``SegmentCore`` open time, warm and cold (the file's pages evicted with
  ``posix_fadvise(DONTNEED)``, which touches only this file), with verification and
  with the vectors check skipped, so the difference is the cost of verifying.

Each figure is the median of ``--repeat`` runs. docs/RELIABILITY.md quotes the output.

    PYTHONPATH=src .venv/bin/python bench/verify_bench.py [--rows 200000] [--dim 384]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spruce.engine.disk import segment as segment_module
from spruce.engine.read.ann import HnswParams
from spruce.engine.disk.fsutil import verify_crc32
from spruce.engine.disk.segment import VECTORS, SegmentCore, records_table, write_segment


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _median(run: Callable[[], object], repeat: int, before: Callable[[], None]) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    table = records_table(
        [f"id-{i}" for i in range(args.rows)],
        [None] * args.rows,
        [{"i": i} for i in range(args.rows)],
    )
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        directory = Path(tmp) / "segment"
        entry = write_segment(directory, "1", table, vectors)
        del vectors
        path = directory / VECTORS
        size = path.stat().st_size
        files = [directory / f.name for f in directory.iterdir()]

        def open_segment() -> SegmentCore:
            return SegmentCore(directory, entry, args.dim, "cosine", HnswParams())

        def warm() -> None:
            open_segment()

        def cold() -> None:
            for f in files:
                _evict(f)

        result: dict[str, object] = {"rows": args.rows, "dim": args.dim, "vector_bytes": size}
        warm()
        crc = _median(lambda: verify_crc32(path, entry.vectors_crc32), args.repeat, warm)
        result["crc32_bytes_per_s"] = round(size / crc)
        result["open_verified_warm_s"] = round(_median(open_segment, args.repeat, warm), 3)
        result["open_verified_cold_s"] = round(_median(open_segment, args.repeat, cold), 3)
        real = segment_module.verify_crc32
        segment_module.verify_crc32 = lambda path, expected: None  # type: ignore[assignment]
        try:
            result["open_unverified_warm_s"] = round(_median(open_segment, args.repeat, warm), 3)
            result["open_unverified_cold_s"] = round(_median(open_segment, args.repeat, cold), 3)
        finally:
            segment_module.verify_crc32 = real
        print(json.dumps(result))


if __name__ == "__main__":
    main()
