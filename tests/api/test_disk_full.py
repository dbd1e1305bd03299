"""A full disk: upserts answer StorageFull and change nothing, reads and deletes keep
working, and the server recovers by itself once space returns; a restart after kill -9
on a full disk never needs free space to open a namespace."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pinecone.exceptions import ForbiddenException

from tests.api.helpers import client, make_index
from tests.conftest import LiveServer

DIM = 32


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    # The data dir is the mount point: the server's log goes beside it (LiveServer),
    # outside the small disk.
    mnt = tmp_path / "data"
    mnt.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(path: Path, leave: int = 0) -> None:
    """Write ``path`` until the disk is full, then give back ``leave`` bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1):
            block = b"\xff" * chunk
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)


def _records(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {"id": f"{prefix}{i}", "values": [float(i % 7 + 1)] * DIM, "metadata": {"i": i}}
        for i in range(n)
    ]


def _server(data: Path, flush_rows: int) -> LiveServer:
    os.environ["SPRUCE_FLUSH_ROWS"] = str(flush_rows)
    return LiveServer(data)


@pytest.fixture
def env_guard() -> Iterator[None]:
    saved = os.environ.get("SPRUCE_FLUSH_ROWS")
    yield
    if saved is None:
        os.environ.pop("SPRUCE_FLUSH_ROWS", None)
    else:
        os.environ["SPRUCE_FLUSH_ROWS"] = saved


def test_upsert_on_full_disk_changes_nothing(small_disk: Path, env_guard: None) -> None:
    data = small_disk
    live = _server(data, flush_rows=20_000)
    live.start()
    try:
        pc = client(live)
        index = make_index(pc, "full", dimension=DIM)
        index.upsert(vectors=_records("a", 100))
        filler = small_disk / "filler"
        # Room for a small delete's WAL record, not for 500 vectors.
        _fill(filler, leave=4096)
        with pytest.raises(ForbiddenException) as caught:
            index.upsert(vectors=_records("b", 500))
        assert "nothing was written" in str(caught.value.body)
        assert "full" in str(caught.value.body)
        # Reads and deletes keep working; the refused batch left no trace.
        assert sorted(index.fetch(ids=["a1", "b1"]).vectors) == ["a1"]
        found = index.query(vector=[1.0] * DIM, top_k=3)
        assert len(found.matches) == 3
        index.delete(ids=["a2"])
        assert index.describe_index_stats().total_vector_count == 99
        # Space returns: writes work again without a restart.
        filler.unlink()
        index.upsert(vectors=_records("b", 500))
        assert index.describe_index_stats().total_vector_count == 599
        # Recovery after a restart sees exactly the acknowledged writes.
        live.kill()
        live.start()
        fetched = index.fetch(ids=["a1", "a2", "b499"]).vectors
        assert sorted(fetched) == ["a1", "b499"]
        assert fetched["b499"].values == [float(499 % 7 + 1)] * DIM
    finally:
        live.stop()


def test_restart_on_full_disk_after_kill_9(small_disk: Path, env_guard: None) -> None:
    data = small_disk
    live = _server(data, flush_rows=1_000_000)  # everything stays in the memtable
    live.start()
    try:
        pc = client(live)
        index = make_index(pc, "big", dimension=DIM)
        for start in range(0, 3000, 500):
            index.upsert(
                vectors=[{**r, "id": f"v{start + i}"} for i, r in enumerate(_records("", 500))]
            )
        live.kill()
        filler = small_disk / "filler"
        _fill(filler, leave=64 << 10)  # sqlite needs a few pages to open the catalog
        # Reopened with a flush threshold the replayed memtable is over: opening must
        # not flush (it would need megabytes), only replay and serve.
        os.environ["SPRUCE_FLUSH_ROWS"] = "1000"
        live.start()
        assert index.describe_index_stats().total_vector_count == 3000
        assert sorted(index.fetch(ids=["v0", "v2999"]).vectors) == ["v0", "v2999"]
        assert len(index.query(vector=[1.0] * DIM, top_k=5).matches) == 5
        index.delete(ids=["v0"])
        assert index.describe_index_stats().total_vector_count == 2999
        with contextlib.suppress(ForbiddenException):
            index.upsert(vectors=_records("w", 1000))  # may or may not fit: either is fine
        filler.unlink()
        index.upsert(vectors=_records("x", 10))
        # The background flush retries with backoff and lands once space is back.
        segments = list((data).rglob("segments/0*"))
        deadline = time.monotonic() + 60
        while not segments and time.monotonic() < deadline:
            time.sleep(0.5)
            segments = list(data.rglob("segments/0*"))
        assert segments, "no flush after space returned"
        stats = index.describe_index_stats().total_vector_count
        live.kill()
        live.start()
        assert index.describe_index_stats().total_vector_count == stats
        assert sorted(index.fetch(ids=["v0", "v1", "x9"]).vectors) == ["v1", "x9"]
    finally:
        live.stop()
