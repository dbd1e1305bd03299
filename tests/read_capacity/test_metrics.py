"""``/metrics`` for dedicated read nodes: each replica's lag behind the writer (in LSNs)
and Pinecone's fullness gauges; ``/ready`` waits for every shard's replica."""

from __future__ import annotations

import httpx
from pinecone import Pinecone, ServerlessSpec

from tests.api.helpers import unique
from tests.api.test_metrics import scrape, value
from tests.conftest import LiveServer
from tests.read_capacity.conftest import dedicated, replicas, settle


def test_replica_lag_and_fullness(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("lag")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=8, metric="euclidean", spec=spec)
    index = pc.Index(host=settle(rc_server, name)["host"])
    for i in range(3):
        index.upsert(vectors=[(f"r{i}", [float(i)] * 8)], namespace="ns")
    # A read carries the writer's LSN: the replica applies up to it before answering.
    assert index.query(vector=[0.0] * 8, top_k=1, namespace="ns").matches[0].id == "r0"

    samples = scrape(rc_server)
    (replica,) = replicas(rc_server, name)
    labels = {"index_name": name, "shard": "0", "replica": replica["url"]}
    assert value(samples, "spruce_replica_up", **labels) == 1
    assert value(samples, "spruce_replica_lag_lsn", **labels) == 0
    assert replica["namespaces"] == {"ns": 3}  # the LSN it applied: the writer's
    for gauge in ("fullness", "memory_fullness", "storage_fullness"):
        assert 0 < value(samples, f"pinecone_db_index_{gauge}", index_name=name) < 1, gauge
    assert value(samples, "pinecone_db_record_total", index_name=name) == 3

    r = httpx.get(f"{rc_server.url}/ready", timeout=10)
    assert (r.status_code, r.json()) == (200, {"status": "ready"})
    pc.delete_index(name)
