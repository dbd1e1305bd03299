"""Background workers: the compactor yields the CPU to requests."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spruce.engine.background import compaction
from spruce.engine.background.workers import Worker, lower_thread_priority
from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.types import Record


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_niced_worker_lowers_only_its_own_thread() -> None:
    seen: list[int] = []
    done = threading.Event()

    def job() -> None:
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        done.set()

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    Worker("test-niced", niceness=before + 5).submit("job", job)
    assert done.wait(10)
    assert seen == [before + 5]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_lowering_never_raises_priority() -> None:
    seen: list[int] = []

    def body() -> None:
        tid = threading.get_native_id()
        lower_thread_priority(os.getpriority(os.PRIO_PROCESS, tid) + 3)
        start = os.getpriority(os.PRIO_PROCESS, tid)
        lower_thread_priority(start - 2)  # would raise priority: left as it is
        seen.append(os.getpriority(os.PRIO_PROCESS, tid) - start)

    t = threading.Thread(target=body)
    t.start()
    t.join(10)
    assert seen == [0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_graphs_over_scanned_rows_build_at_normal_priority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small merges run niced; a plan that puts exactly-scanned rows into a graph
    moves to the urgent lane, at the process's own priority (issue: graphs starved)."""
    builds: list[tuple[str, int, bool]] = []
    real_build = compaction.build

    def watched(layout: Any, the_plan: compaction.Plan, *args: Any, **kw: Any) -> Any:
        me = threading.current_thread()
        nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        builds.append((me.name, nice, compaction.urgent(the_plan, options)))
        return real_build(layout, the_plan, *args, **kw)

    monkeypatch.setattr(compaction, "build", watched)
    options = EngineOptions(hnsw_min_rows=400, small_merge_count=2, idle_compact_s=0)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    rng = np.random.default_rng(0)
    ns = Namespace.open(
        tmp_path / "ns", dimension=8, metric="cosine", flush_rows=100, options=options
    )
    try:
        for b in range(6):
            x = rng.standard_normal((100, 8)).astype(np.float32)
            ns.upsert([Record(id=f"{b}-{i}", values=x[i].tolist()) for i in range(100)])
            ns.flush()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
            ns.shape().unindexed_rows < 400 and any(b[2] for b in builds)
        ):
            time.sleep(0.05)
        assert ns.shape().unindexed_rows < 400
    finally:
        ns.close()
    urgent = [b for b in builds if b[2]]
    niced = [b for b in builds if b[0] == "spruce-compact"]
    assert urgent and niced
    assert {(name, nice) for name, nice, _ in urgent} == {("spruce-compact-urgent", base)}
    # Small merges run niced; once on the urgent lane, a job finishes its plans there.
    assert all(nice > base and not is_urgent for _, nice, is_urgent in niced)
