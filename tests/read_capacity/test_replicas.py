"""Replicas and shards are real: processes that serve reads, and slices of the data.

- Every read of a dedicated index is answered by a replica process, round-robin among a
  shard's replicas (their own counters say so).
- A write is visible to the very next read (the writer's LSN travels with the read).
- With 2 shards, query / fetch / list answers equal an on-demand index's, exactly.
- A replica killed with SIGKILL: reads go on (another replica), and it is replaced.
- Removing replicas while queries run drains them: no query fails.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from typing import Any

import pytest
from pinecone import Pinecone, ServerlessSpec

from spruce.errors import Unauthenticated
from spruce.service.read_capacity.protocol import Health, ReplicaClient
from tests.api.helpers import unique
from tests.conftest import LiveServer
from tests.read_capacity.conftest import dedicated, replicas, settle


def _index(pc: Pinecone, server: LiveServer, name: str, capacity: dict[str, Any]) -> Any:
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=capacity)
    pc.create_index(name=name, dimension=8, metric="euclidean", spec=spec)
    return pc.Index(host=settle(server, name)["host"])


def _records(n: int, seed: int) -> list[tuple[str, list[float], dict[str, Any]]]:
    rng = random.Random(seed)
    return [
        (f"r{i:04d}", [rng.randint(-8, 8) / 4 for _ in range(8)], {"g": i % 3, "t": f"t{i % 5}"})
        for i in range(n)
    ]


def _served(server: LiveServer, name: str) -> dict[int, int]:
    return {r["pid"]: r["served"] for r in replicas(server, name)}


def test_replicas_serve_reads_round_robin(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("rr")
    index = _index(pc, rc_server, name, dedicated(1, 2))
    index.upsert(vectors=_records(50, 1))
    before = _served(rc_server, name)
    assert len(before) == 2
    for _ in range(40):
        index.query(vector=[0.5] * 8, top_k=3)
    after = _served(rc_server, name)
    assert sorted(after[p] - before[p] for p in after) == [20, 20]
    pc.delete_index(name)


def test_replicas_answer_only_their_server(rc_server: LiveServer, pc: Pinecone) -> None:
    """Replicas require the server's token (a random one unless SPRUCE_REPLICA_TOKEN)."""
    name = unique("token")
    _index(pc, rc_server, name, dedicated(1, 1))
    (replica,) = replicas(rc_server, name)
    assert replica["pid"] > 0  # the server reached it
    host, port = replica["url"].removeprefix("http://").split(":")
    stranger = ReplicaClient(host, int(port))
    with pytest.raises(Unauthenticated):
        stranger.call("/health", None, Health)
    stranger.close()
    pc.delete_index(name)


def test_reads_see_the_write_before_them(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("ryw")
    index = _index(pc, rc_server, name, dedicated(2, 1))
    for i in range(25):
        index.upsert(vectors=[(f"w{i}", [float(i)] * 8, {"i": i})])
        assert index.fetch(ids=[f"w{i}"]).vectors[f"w{i}"].metadata == {"i": i}
        assert index.query(vector=[float(i)] * 8, top_k=1).matches[0].id == f"w{i}"
        index.update(id=f"w{i}", set_metadata={"seen": True})
        top = index.query(vector=[float(i)] * 8, top_k=1, include_metadata=True).matches[0]
        assert top.metadata == {"i": i, "seen": True}
        if i % 5 == 4:
            index.delete(ids=[f"w{i}"])
            assert index.fetch(ids=[f"w{i}"]).vectors == {}
    pc.delete_index(name)


def test_two_shards_answer_like_one_index(rc_server: LiveServer, pc: Pinecone) -> None:
    od_name, dd_name = unique("same-od"), unique("same-dd")
    od = _index(pc, rc_server, od_name, {"mode": "OnDemand"})
    dd = _index(pc, rc_server, dd_name, dedicated(2, 1))
    records = _records(300, 7)
    for target in (od, dd):
        target.upsert(vectors=records, batch_size=100)
        target.delete(ids=[f"r{i:04d}" for i in range(0, 300, 7)])
        target.update(id="r0001", values=[2.0] * 8, set_metadata={"g": 9})
    rng = random.Random(3)
    for _ in range(10):
        q = [rng.randint(-8, 8) / 4 for _ in range(8)]
        for kwargs in ({}, {"filter": {"g": {"$in": [0, 9]}}}, {"filter": {"t": "t1"}}):
            a = od.query(vector=q, top_k=15, include_metadata=True, **kwargs).matches
            b = dd.query(vector=q, top_k=15, include_metadata=True, **kwargs).matches
            assert [(m.id, m.score, m.metadata) for m in a] == [
                (m.id, m.score, m.metadata) for m in b
            ]
    ids = [f"r{i:04d}" for i in range(0, 300, 3)] + ["missing"]
    assert od.fetch(ids=ids).vectors == dd.fetch(ids=ids).vectors
    listed = [[v.id for p in t.list(prefix="r01", limit=7) for v in p.vectors] for t in (od, dd)]
    assert listed[0] == listed[1] and len(listed[0]) > 7
    shards = {r["shard"] for r in replicas(rc_server, dd_name)}
    assert shards == {0, 1}
    pc.delete_index(od_name)
    pc.delete_index(dd_name)


def test_a_killed_replica_is_replaced(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("kill")
    index = _index(pc, rc_server, name, dedicated(1, 2))
    index.upsert(vectors=_records(20, 2))
    victim = replicas(rc_server, name)[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    for _ in range(20):  # every read still answered, by the survivor meanwhile
        assert len(index.query(vector=[0.1] * 8, top_k=5).matches) == 5
    deadline = time.monotonic() + 30
    while True:
        now = replicas(rc_server, name)
        pids = {r.get("pid") for r in now}  # a dead one shows as "down", without a pid
        if len(now) == 2 and None not in pids and victim not in pids:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.2)
    pc.delete_index(name)


def test_removing_replicas_drains_them(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("drain")
    index = _index(pc, rc_server, name, dedicated(1, 3))
    index.upsert(vectors=_records(200, 4))
    errors: list[BaseException] = []
    answered = [0]
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                assert len(index.query(vector=[0.25] * 8, top_k=10).matches) == 10
                answered[0] += 1
            except BaseException as exc:
                errors.append(exc)
                return

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        pc.configure_index(name, read_capacity=dedicated(1, 1))
        assert settle(rc_server, name)["read_capacity"]["status"]["current_replicas"] == 1
        time.sleep(0.5)
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert errors == [] and answered[0] > 10
    assert len(replicas(rc_server, name)) == 1
    pc.delete_index(name)


@pytest.mark.parametrize("shards", [1, 3])
def test_sparse_and_hybrid_on_shards(rc_server: LiveServer, pc: Pinecone, shards: int) -> None:
    name = unique("hybrid")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(shards, 1))
    pc.create_index(name=name, dimension=2, metric="dotproduct", spec=spec)
    index = pc.Index(host=settle(rc_server, name)["host"])
    index.upsert(
        vectors=[
            {
                "id": f"h{i}",
                "values": [1.0, i / 10],
                "sparse_values": {"indices": [i], "values": [1.0]},
            }
            for i in range(12)
        ]
    )
    top = index.query(
        vector=[0.0, 1.0], sparse_vector={"indices": [3], "values": [5.0]}, top_k=2
    ).matches
    assert [m.id for m in top] == ["h3", "h11"]
    assert top[0].score == pytest.approx(0.3 + 5.0)
    pc.delete_index(name)
