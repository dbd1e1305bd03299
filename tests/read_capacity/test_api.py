"""read_capacity through the SDK and on the wire: validation, states, pause, cost.

Every transition of Pinecone's "Dedicated read nodes" guide, driven by the official
SDK against a live server: create dedicated (Migrating -> Ready), add replicas
(Scaling -> Ready), change node type (Migrating), pause with 0 replicas (reads and
writes refused), resume, convert back to on-demand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError

from tests.api.helpers import unique
from tests.conftest import API_KEY, LiveServer
from tests.read_capacity.conftest import dedicated, raw_describe, replicas, settle

HEADERS = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"}
CLI_ARGS = ["--shards", "2", "--replicas", "2", "--rates", "t1=100"]


def _create_raw(server: LiveServer, name: str, read_capacity: Any) -> httpx.Response:
    return httpx.post(
        f"{server.url}/indexes",
        headers=HEADERS,
        json={
            "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 4}}},
            "name": name,
            "read_capacity": read_capacity,
        },
    )


def _status(body: dict[str, Any]) -> dict[str, Any]:
    status: dict[str, Any] = body["read_capacity"]["status"]
    return status


@pytest.mark.parametrize(
    ("read_capacity", "message"),
    [
        (
            {"mode": "Sometimes"},
            "Invalid value for read_capacity.mode: 'Sometimes'; expected 'OnDemand' or 'Dedicated'",
        ),
        (
            {"mode": "Dedicated"},
            "read_capacity.dedicated is required for mode 'Dedicated': set node_type, scaling "
            "and manual.shards / manual.replicas",
        ),
        (
            {**dedicated(), "dedicated": {**dedicated()["dedicated"], "node_type": "x1"}},
            "Invalid value for read_capacity.dedicated.node_type: 'x1'; expected 'b1' or 't1'",
        ),
        (
            {**dedicated(), "dedicated": {**dedicated()["dedicated"], "scaling": "Auto"}},
            "Invalid value for read_capacity.dedicated.scaling: 'Auto'; 'Manual' is the only "
            "supported value",
        ),
        (
            dedicated(shards=0),
            "Invalid value for read_capacity.dedicated.manual.shards: 0; it must be an integer "
            "of at least 1",
        ),
        (
            dedicated(replicas=-1),
            "Invalid value for read_capacity.dedicated.manual.replicas: -1; it must be an "
            "integer of at least 0",
        ),
        (
            dedicated(replicas=True),  # type: ignore[arg-type]
            "Invalid value for read_capacity.dedicated.manual.replicas: True; it must be an "
            "integer of at least 0",
        ),
        (
            {"mode": "OnDemand", "dedicated": dedicated()["dedicated"]},
            "read_capacity.dedicated is only allowed with mode 'Dedicated'",
        ),
        (
            dedicated(shards=5, replicas=5),
            "This would use 25 dedicated read nodes in the project (shards x replicas, summed "
            "over its indexes); the limit is 20",
        ),
    ],
)
def test_create_refuses_bad_read_capacity(
    rc_server: LiveServer, read_capacity: Any, message: str
) -> None:
    name = unique("bad-rc")
    response = _create_raw(rc_server, name, read_capacity)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == message
    assert httpx.get(f"{rc_server.url}/indexes/{name}", headers=HEADERS).status_code == 404


def test_on_demand_is_the_default(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("od")
    pc.create_index(name=name, dimension=4, spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    assert raw_describe(rc_server, name)["read_capacity"] == {
        "mode": "OnDemand",
        "status": {"state": "Ready"},
    }
    assert pc.describe_index(name).read_capacity.status.state == "Ready"
    pc.delete_index(name)


def test_every_transition(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("life")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    created = pc.create_index(name=name, dimension=4, metric="cosine", spec=spec)
    assert created.read_capacity.dedicated.manual.replicas == 1
    body = settle(rc_server, name)
    assert body["read_capacity"] == {**dedicated(1, 1), "status": {
        "state": "Ready", "current_shards": 1, "current_replicas": 1}}  # fmt: skip
    (first,) = replicas(rc_server, name)
    assert first["pid"] != rc_server.proc.pid and first["node_type"] == "b1"  # type: ignore[union-attr]

    index = pc.Index(host=body["host"])
    index.upsert(vectors=[(f"v{i}", [1.0, float(i), 0.0, 0.5]) for i in range(10)])
    assert index.query(vector=[1, 9, 0, 0.5], top_k=1).matches[0].id == "v9"

    # Add a replica: Scaling, with the current count still 1, then Ready with 2.
    changed = pc.configure_index(name, read_capacity=dedicated(1, 2))
    status = changed.read_capacity.status
    assert (status.state, status.current_replicas) == ("Scaling", 1)
    assert _status(settle(rc_server, name)) == {
        "state": "Ready",
        "current_shards": 1,
        "current_replicas": 2,
    }
    pids = {r["pid"] for r in replicas(rc_server, name)}
    assert len(pids) == 2 and first["pid"] in pids

    # Node type: Migrating; a new set of replicas replaces the old one.
    changed = pc.configure_index(name, read_capacity=dedicated(1, 2, node_type="t1"))
    assert changed.read_capacity.status.state == "Migrating"
    assert settle(rc_server, name)["read_capacity"]["dedicated"]["node_type"] == "t1"
    now = replicas(rc_server, name)
    assert {r["node_type"] for r in now} == {"t1"} and not pids & {r["pid"] for r in now}
    assert index.fetch(ids=["v3"]).vectors["v3"].values == [1.0, 3.0, 0.0, 0.5]

    # Pause: replicas 0. Reads and writes are refused until replicas come back.
    pc.configure_index(name, read_capacity=dedicated(1, 0, node_type="t1"))
    assert _status(settle(rc_server, name))["current_replicas"] == 0
    assert replicas(rc_server, name) == []
    paused = (
        f"Index '{name}' is paused (dedicated read capacity with 0 replicas). Configure at "
        "least 1 replica to resume reads and writes."
    )
    for call in (
        lambda: index.query(vector=[1, 0, 0, 0], top_k=1),
        lambda: index.fetch(ids=["v1"]),
        lambda: index.upsert(vectors=[("new", [1, 1, 1, 1])]),
        lambda: index.describe_index_stats(),
    ):
        with pytest.raises(ApiError) as raised:
            call()
        assert raised.value.status_code == 400
        assert raised.value.message == paused
    pc.configure_index(name, read_capacity=dedicated(1, 1, node_type="t1"))
    assert _status(settle(rc_server, name))["current_replicas"] == 1
    assert index.describe_index_stats().total_vector_count == 10
    index.upsert(vectors=[("new", [1, 1, 1, 1])])
    assert "new" in index.fetch(ids=["new"]).vectors

    # Back to on-demand: Migrating, then no replica processes; reads served here again.
    changed = pc.configure_index(name, read_capacity={"mode": "OnDemand"})
    assert changed.read_capacity.status.state == "Migrating"
    assert settle(rc_server, name)["read_capacity"] == {
        "mode": "OnDemand",
        "status": {"state": "Ready"},
    }
    assert replicas(rc_server, name) == []
    assert index.query(vector=[1, 1, 1, 1], top_k=1).matches[0].id == "new"
    pc.delete_index(name)


def test_partial_patch_and_change_in_progress(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("partial")
    assert _create_raw(rc_server, name, dedicated(1, 1)).status_code == 201
    settle(rc_server, name)
    # Pinecone's scale example sends only the field that changes.
    response = httpx.patch(
        f"{rc_server.url}/indexes/{name}",
        headers=HEADERS,
        json={"read_capacity": {"dedicated": {"manual": {"replicas": 2}}}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["read_capacity"]["dedicated"] == dedicated(1, 2)["dedicated"]
    # A second change while the first is carried out is refused.
    with pytest.raises(ApiError) as raised:
        pc.configure_index(name, read_capacity=dedicated(1, 3))
    assert raised.value.message == (
        f"A read capacity change of index '{name}' is already in progress (state Scaling); "
        "wait until it is Ready before making another"
    )
    assert _status(settle(rc_server, name))["current_replicas"] == 2
    pc.delete_index(name)
    assert replicas_gone(rc_server, name)


def replicas_gone(server: LiveServer, name: str) -> bool:
    return (
        httpx.get(
            f"{server.url}/indexes/{name}/read_capacity/replicas", headers={"Api-Key": API_KEY}
        ).status_code
        == 404
    )


def test_cost_estimate(rc_server: LiveServer, pc: Pinecone) -> None:
    name = unique("cost")
    pc.create_index(name=name, dimension=4, spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    url = f"{rc_server.url}/indexes/{name}/read_capacity/cost"
    assert httpx.get(url, headers=HEADERS).json()["monthly_cost"] == 0.0
    # The guide's examples: b1 and t1 nodes, 2 shards, 2 replicas, Standard plan rates.
    b1 = httpx.get(url, headers=HEADERS, params={"node_type": "b1", "shards": 2, "replicas": 2})
    assert b1.json()["monthly_cost"] == 2195.84 and b1.json()["nodes"] == 4
    t1 = httpx.get(url, headers=HEADERS, params={"node_type": "t1", "shards": 2, "replicas": 2})
    assert t1.json()["monthly_cost"] == 7034.12
    pc.delete_index(name)
    out = subprocess.run(
        [sys.executable, "-m", "spruce.cli", "cost-estimate", "--node-type", "t1", *CLI_ARGS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    ).stdout
    assert "400.00" in out and "node rate x shards x replicas" in out
