"""Pinecone's rate-of-change limits, with their production windows.

Node type or mode: one change per 24 hours. Shards or replicas: one change per hour,
"starting one hour after index creation". A change that ends in Error does not count.
Reads of a dedicated index have no rate limit at all (nothing here refuses them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError

from tests.api.helpers import client, unique
from tests.conftest import LiveServer
from tests.read_capacity.conftest import dedicated, settle, start

WHEN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start(tmp_path_factory.mktemp("limits") / "data", {})
    yield live
    live.stop()


def test_scaling_waits_an_hour_after_creation(prod: LiveServer) -> None:
    pc = client(prod)
    name = unique("hour")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=4, spec=spec)
    settle(prod, name)
    with pytest.raises(ApiError) as raised:
        pc.configure_index(name, read_capacity=dedicated(1, 2))
    assert raised.value.status_code == 400
    assert re.fullmatch(
        f"The shards and replicas of index '{name}' can be changed once every hour; the "
        f"next change is allowed after {WHEN}",
        raised.value.message,
    )
    # Tags and the like are not read capacity changes.
    pc.configure_index(name, tags={"k": "v"})
    assert pc.describe_index(name).read_capacity.dedicated.manual.replicas == 1
    pc.delete_index(name)


def test_mode_changes_once_a_day(prod: LiveServer) -> None:
    pc = client(prod)
    name = unique("day")
    pc.create_index(name=name, dimension=4, spec=ServerlessSpec(cloud="aws", region="us-east-1"))
    index = pc.Index(host=pc.describe_index(name).host)
    index.upsert(vectors=[("a", [1, 0, 0, 0])], namespace="one")
    index.upsert(vectors=[("b", [0, 1, 0, 0])], namespace="two")
    # Fails (two namespaces): an Error does not use up the day's change.
    pc.configure_index(name, read_capacity=dedicated(1, 1))
    assert settle(prod, name)["read_capacity"]["status"]["state"] == "Error"
    index.delete_namespace(namespace="two")
    pc.configure_index(name, read_capacity=dedicated(1, 1))
    assert settle(prod, name)["read_capacity"]["status"]["state"] == "Ready"
    for change in ({"mode": "OnDemand"}, dedicated(1, 1, node_type="t1")):
        with pytest.raises(ApiError) as raised:
            pc.configure_index(name, read_capacity=change)
        assert re.fullmatch(
            f"The read capacity mode or node type of index '{name}' can be changed once every "
            f"24 hours; the next change is allowed after {WHEN}",
            raised.value.message,
        )
    for _ in range(300):  # no read rate limit
        index.fetch(ids=["a"], namespace="one")
    pc.delete_index(name)


def test_no_change_is_not_limited(prod: LiveServer) -> None:
    """Sending the configuration the index already has is not a change."""
    pc = client(prod)
    name = unique("same")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=4, spec=spec)
    settle(prod, name)
    described = pc.configure_index(name, read_capacity=dedicated(1, 1))
    assert described.read_capacity.status.state == "Ready"
    pc.delete_index(name)


def test_pinecone_sdk_sees_dedicated_status(prod: LiveServer) -> None:
    pc: Pinecone = client(prod)
    name = unique("sdk")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(2, 1))
    pc.create_index(name=name, dimension=4, spec=spec)
    settle(prod, name)
    desc = pc.describe_index(name)
    assert type(desc.read_capacity).__name__ == "ReadCapacityDedicatedResponse"
    assert desc.read_capacity.status.current_shards == 2
    assert desc.spec.serverless.read_capacity["dedicated"]["node_type"] == "b1"
    pc.delete_index(name)
