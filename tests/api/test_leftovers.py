"""kill -9 at the vulnerable moments of index deletes and namespace creation: a delete
is finished at the next start, and a namespace exists only with an acknowledged write."""

from __future__ import annotations

import contextlib
import os
import random
import threading
import time
from pathlib import Path

import httpx

from tests.api.helpers import client, make_index
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}


def _index_dirs(live: LiveServer) -> list[str]:
    root = live.data_dir / "indexes"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _leftovers(live: LiveServer) -> list[Path]:
    """Temporary or trashed entries anywhere under the data dir."""
    found = []
    for dirpath, dirnames, _ in os.walk(live.data_dir / "indexes"):
        for name in dirnames:
            if name.startswith(".tmp-") or name.startswith(".trash-"):
                found.append(Path(dirpath) / name)
    trash = live.data_dir / "indexes" / ".trash"
    if trash.is_dir():
        found.extend(trash.iterdir())
    return found


def test_delete_committed_before_the_crash_is_finished_on_start(
    fresh_server: LiveServer,
) -> None:
    pc = client(fresh_server)
    index = make_index(pc, "gone", dimension=3)
    index.upsert(vectors=[{"id": "a", "values": [1.0, 2.0, 3.0]}])
    make_index(pc, "kept", dimension=3).upsert(vectors=[{"id": "k", "values": [1.0, 0.0, 0.0]}])
    fresh_server.kill()
    # The state a crash right after the delete's commit point leaves: the data in the
    # trash, the catalog row still there.
    root = fresh_server.data_dir / "indexes"
    (root / ".trash").mkdir(exist_ok=True)
    by_uid = {p.name: p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")}
    assert len(by_uid) == 2
    victim = _uid_of(fresh_server, "gone", by_uid)
    os.rename(by_uid[victim], root / ".trash" / victim)
    fresh_server.start()
    assert [i.name for i in pc.list_indexes()] == ["kept"]
    assert _leftovers(fresh_server) == []
    assert victim not in _index_dirs(fresh_server)
    kept = pc.Index(host=pc.describe_index("kept").host)
    assert sorted(kept.fetch(ids=["k"]).vectors) == ["k"]


def _uid_of(live: LiveServer, name: str, by_uid: dict[str, Path]) -> str:
    """The uid of index ``name``, from its descriptor."""
    for uid, path in by_uid.items():
        if f'"name":"{name}"'.encode() in (path / "INDEX").read_bytes():
            return uid
    raise AssertionError(f"no descriptor names {name}")


def test_kill_9_during_index_deletes(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    rng = random.Random(13)
    for trial in range(4):
        name = f"del-{trial}"
        index = make_index(pc, name, dimension=8)
        for ns in range(6):
            index.upsert(
                vectors=[{"id": f"v{i}", "values": [float(i + 1)] * 8} for i in range(200)],
                namespace=f"ns{ns}",
            )

        def delete(name: str = name) -> None:
            with contextlib.suppress(httpx.HTTPError):
                httpx.delete(f"{fresh_server.url}/indexes/{name}", headers=H, timeout=10)

        thread = threading.Thread(target=delete)
        thread.start()
        time.sleep(rng.uniform(0.0, 0.05))
        fresh_server.kill()
        thread.join(timeout=15)
        fresh_server.start()
        names = [i.name for i in pc.list_indexes()]
        assert _leftovers(fresh_server) == []
        # Either the delete happened (no data left behind) or it did not (all there).
        dirs = [d for d in _index_dirs(fresh_server) if not d.startswith(".")]
        assert len(dirs) == len(names), (names, dirs)
        if name in names:
            survivor = pc.Index(host=pc.describe_index(name).host)
            assert survivor.describe_index_stats().total_vector_count == 1200
            pc.delete_index(name)
        assert [d for d in _index_dirs(fresh_server) if not d.startswith(".")] == []


def test_kill_9_during_first_writes_leaves_no_empty_namespace(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    host = make_index(pc, "nss", dimension=4).host
    acked: set[str] = set()
    stop = threading.Event()

    def writer(k: int) -> None:
        n = 0
        with httpx.Client(headers=H, timeout=5) as http:
            while not stop.is_set():
                ns = f"w{k}-{n}"
                body = {"vectors": [{"id": "x", "values": [1.0, 2.0, 3.0, 4.0]}], "namespace": ns}
                try:
                    r = http.post(f"{host}/vectors/upsert", json=body)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.add(ns)
                n += 1

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    fresh_server.kill()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    fresh_server.start()
    index = pc.Index(host=host)
    stats = index.describe_index_stats()
    listed = set(stats.namespaces)
    assert acked <= listed
    # Every namespace listed holds its record: none is empty.
    for ns, info in stats.namespaces.items():
        assert info.vector_count == 1, ns
    assert _leftovers(fresh_server) == []
