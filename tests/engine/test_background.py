"""Background workers: the compactor yields the CPU to requests."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from spruce.engine.background.workers import Worker, lower_thread_priority


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
