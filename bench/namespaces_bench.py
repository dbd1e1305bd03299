"""Many namespaces: describe_index_stats and list_namespaces on a cold index.

Creates N namespaces (default 100,000) with one 8-d record each through the service
layer (``DataPlane``, in process, no SDK), closes it, then times on a freshly opened
``DataPlane`` (nothing open, as after a restart):

- ``names``: the directory scan that lists the namespaces;
- ``describe_index_stats``: ``DataPlane.stats`` without a filter;
- ``list_namespaces page``: the first page of 100 (``namespaces_page``);
- ``list_namespaces all``: every namespace with its count (``namespaces``);
- ``describe_namespace``: one namespace.

Each count comes from the namespace's ``COUNT`` file (engine/disk/countfile.py); the script
checks that no namespace was opened and that every count is exact. For comparison it
times the old way, opening a namespace to count it, on the first ``--baseline``
namespaces and extrapolates that to N, with the memory an open namespace holds
(traced with tracemalloc on the next ``--baseline`` namespaces).

Setup runs with fsync turned off: creating a namespace fsyncs about seven times (2.5 ms
each on the development machine), which would make setup alone take half an hour at
100,000. The timed reads do not fsync. Idle compaction is off too, so that setup does
not also flush 100,000 one-record memtables in the background.

    .venv/bin/python bench/namespaces_bench.py [--namespaces 100000] [--baseline 2000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

# Read when each namespace's EngineOptions are built, so it must be set before any is.
os.environ["SPRUCE_COMPACT_IDLE_S"] = "0"

from spruce.catalog import IndexRow
from spruce.engine.write.namespace import Namespace
from spruce.service.data_plane import DataPlane

T = TypeVar("T")
DIM = 8
# Namespaces created between two closes of the data plane during setup, which bounds
# the memory that open namespaces hold meanwhile.
CHUNK = 5_000


def _name(i: int) -> str:
    return f"tenant-{i:06d}"


@contextmanager
def _no_fsync() -> Iterator[None]:
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


@contextmanager
def _count_opens() -> Iterator[list[Path]]:
    opened: list[Path] = []
    original: Any = Namespace.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Namespace], path: Path, **kwargs: Any) -> Namespace:
        opened.append(path)
        return original(cls, path, **kwargs)  # type: ignore[no-any-return]

    Namespace.open = classmethod(spy)  # type: ignore[method-assign, assignment]
    try:
        yield opened
    finally:
        Namespace.open = classmethod(original)  # type: ignore[method-assign, assignment]


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespaces", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--dir", type=Path, default=None, help="data directory (default: temp)")
    args = parser.parse_args()
    n: int = args.namespaces
    data_dir = Path(tempfile.mkdtemp(prefix="spruce-ns-bench-", dir=args.dir))
    index = IndexRow(
        project_id="bench",
        name="tenants",
        uid="tenants",
        state="Ready",
        created_at=time.time(),
        spec={"dimension": DIM, "metric": "cosine"},
    )
    try:
        print(f"{n:,} namespaces, 1 record each, {DIM}-d, in {data_dir}")
        start = time.perf_counter()
        close_s = 0.0
        with _no_fsync():
            for lo in range(0, n, CHUNK):
                plane = DataPlane(data_dir, flush_rows=20_000)
                for i in range(lo, min(lo + CHUNK, n)):
                    values = [float((i + j) % 7) + 1.0 for j in range(DIM)]
                    plane.upsert(index, _name(i), [{"id": "r0", "values": values}])
                _, took = _timed(plane.close)
                close_s += took
        setup_s = time.perf_counter() - start
        print(f"setup: {setup_s:.1f} s ({n / setup_s:,.0f} namespaces/s, fsync off)")
        per_close = close_s / n * 1e6
        print(f"  of which closing (writes each COUNT): {close_s:.1f} s, {per_close:.0f} µs/ns")

        plane = DataPlane(data_dir, flush_rows=20_000)
        with _count_opens() as opened:
            names, names_s = _timed(lambda: plane.store(index).names())
            stats, stats_s = _timed(lambda: plane.stats(index))
            page, page_s = _timed(lambda: plane.namespaces_page(index, limit=100))
            listed, list_s = _timed(lambda: plane.namespaces(index))
            one, one_s = _timed(lambda: plane.describe_namespace(index, _name(n // 2)))
            _, stats2_s = _timed(lambda: plane.stats(index))
        assert len(names) == n and not opened, f"{len(opened)} namespaces were opened"
        assert stats.total == n and set(stats.namespaces.values()) == {1}
        assert len(page.namespaces) == min(100, n) and page.total == n
        assert len(listed) == n and all(info.record_count == 1 for info in listed)
        assert one.record_count == 1
        print("cold (store reopened, 0 namespaces opened):")
        print(f"  names (directory scan)        {names_s:8.3f} s")
        print(f"  describe_index_stats          {stats_s:8.3f} s  ({stats_s / n * 1e6:.0f} µs/ns)")
        print(f"  describe_index_stats, again   {stats2_s:8.3f} s")
        print(f"  list_namespaces, page of 100  {page_s:8.3f} s")
        print(f"  list_namespaces, all          {list_s:8.3f} s")
        print(f"  describe_namespace            {one_s * 1e3:8.3f} ms")

        k = min(args.baseline, n // 2)
        store = plane.store(index)
        counts, open_s = _timed(lambda: [store.get(_name(i), create=False) for i in range(k)])
        assert all(ns is not None and ns.count() == 1 for ns in counts)
        # Memory on a second batch, traced (tracing would have slowed the timed one).
        tracemalloc.start()
        held = [store.get(_name(i), create=False) for i in range(k, 2 * k)]
        per_ns = tracemalloc.get_traced_memory()[0] / max(len(held), 1)
        tracemalloc.stop()
        print(f"old way (open each namespace to count it), first {k:,}:")
        print(
            f"  {open_s:.2f} s, {open_s / k * 1e3:.2f} ms/ns -> {open_s / k * n:,.0f} s "
            f"for {n:,}; {per_ns / 1024:.0f} KiB/ns held open -> {per_ns * n / 2**30:.1f} "
            f"GiB for {n:,}"
        )
        plane.close()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
