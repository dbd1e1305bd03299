"""Shards have a capacity: fullness, refused writes, too few shards, one namespace.

The server here has 2,100-byte shards and 4,000 bytes of memory per b1 node, so a few
records of dimension 4 fill them. A record with a 5-byte id and no metadata takes
5 + 4 * 4 = 21 bytes of storage and 16 of memory (Pinecone's sizing formula).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError

from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client
from tests.read_capacity.conftest import FAST, dedicated, replicas, settle, start

CAPACITY = 2100
MEMORY = 4000


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        **FAST,
        "SPRUCE_SHARD_CAPACITY_BYTES": str(CAPACITY),
        "SPRUCE_NODE_MEMORY_BYTES": f"b1={MEMORY},t1={4 * MEMORY}",
    }
    live = start(tmp_path_factory.mktemp("shards") / "data", env)
    yield live
    live.stop()


def _vectors(lo: int, hi: int) -> list[tuple[str, list[float]]]:
    return [(f"s{i:04d}", [1.0, float(i), 0.0, 0.5]) for i in range(lo, hi)]


def _stats(host: str) -> dict[str, Any]:
    """The raw describe_index_stats body (the SDK keeps these fields too)."""
    response = httpx.post(f"{host}/describe_index_stats", headers={"Api-Key": API_KEY}, json={})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _create(pc: Pinecone, server: LiveServer, capacity: dict[str, Any]) -> tuple[str, str, Any]:
    name = unique("cap")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=capacity)
    pc.create_index(name=name, dimension=4, metric="cosine", spec=spec)
    host = settle(server, name)["host"]
    return name, host, pc.Index(host=host)


def test_fullness_and_full_shards(small: LiveServer) -> None:
    pc = client(small)
    name, host, index = _create(pc, small, dedicated(1, 1))
    index.upsert(vectors=_vectors(0, 50))
    stats = _stats(host)
    # The names of the dedicated read nodes guide and the 2025-10 spec, in snake case ...
    assert stats["storage_fullness"] == pytest.approx(50 * 21 / CAPACITY)
    assert stats["memory_fullness"] == pytest.approx(50 * 16 / MEMORY)
    assert stats["indexFullness"] == stats["storage_fullness"]
    # ... and in camel case, which the Python SDK decodes.
    assert stats["storageFullness"] == stats["storage_fullness"]
    assert stats["memoryFullness"] == stats["memory_fullness"]
    sdk = index.describe_index_stats()
    assert sdk.storage_fullness == pytest.approx(0.5) and sdk.index_fullness == pytest.approx(0.5)
    assert sdk.memory_fullness == pytest.approx(0.2)
    grpc = grpc_client(small).Index(host=host).describe_index_stats()  # and over gRPC
    assert grpc.storage_fullness == pytest.approx(0.5) and grpc.memory_fullness == pytest.approx(
        0.2
    )

    index.upsert(vectors=_vectors(50, 100))  # exactly full is allowed
    assert _stats(host)["storageFullness"] == pytest.approx(1.0)
    with pytest.raises(ApiError) as raised:
        index.upsert(vectors=_vectors(100, 101))
    assert raised.value.status_code == 400
    assert raised.value.message == (
        f"Index '{name}' is full: this write would put shard 0 at {CAPACITY + 21} bytes of "
        f"storage, over its capacity of {CAPACITY} bytes. Add shards "
        "(read_capacity.dedicated.manual.shards) or delete records."
    )
    with pytest.raises(ApiError):  # metadata makes a record bigger: refused too
        index.update(id="s0001", set_metadata={"k": "v"})
    index.upsert(vectors=_vectors(0, 10))  # overwriting the same sizes fits
    index.delete(ids=[f"s{i:04d}" for i in range(10)])
    index.upsert(vectors=_vectors(100, 110))
    assert index.describe_index_stats().total_vector_count == 100

    # More shards: the same records spread over two, each about half full.
    pc.configure_index(name, read_capacity=dedicated(2, 1))
    assert settle(small, name)["read_capacity"]["status"]["current_shards"] == 2
    per_shard = [0, 0]
    for i in range(10, 110):
        per_shard[zlib.crc32(f"s{i:04d}".encode()) % 2] += 21
    assert _stats(host)["storageFullness"] == pytest.approx(max(per_shard) / CAPACITY)
    index.upsert(vectors=_vectors(110, 130))
    assert {r["shard"] for r in replicas(small, name)} == {0, 1}
    pc.delete_index(name)


def _needed(ids: list[str], size: int) -> int:
    n = math.ceil(len(ids) * size / CAPACITY)
    while True:
        shards = [0] * n
        for i in ids:
            shards[zlib.crc32(i.encode()) % n] += size
        if max(shards) <= CAPACITY:
            return n
        n += 1


def test_migrating_with_too_few_shards_ends_in_error(small: LiveServer) -> None:
    pc = client(small)
    name, _, index = _create(pc, small, {"mode": "OnDemand"})
    index.upsert(vectors=_vectors(0, 150))
    pc.configure_index(name, read_capacity=dedicated(1, 1))
    body = settle(small, name)
    need = _needed([f"s{i:04d}" for i in range(150)], 21)
    assert need >= 2
    assert body["read_capacity"]["status"] == {
        "state": "Error",
        "current_shards": None,
        "current_replicas": None,
        "error_message": (
            f"Not enough shards: index '{name}' holds {150 * 21} bytes ({150 * 16} bytes in "
            f"memory on b1 nodes), which needs at least {need} shards; 1 requested. Each "
            f"shard stores {CAPACITY} bytes. Retry with more shards."
        ),
    }
    # The old configuration keeps serving, and a failed change costs no rate limit.
    assert index.query(vector=[1, 3, 0, 0.5], top_k=1).matches[0].id == "s0003"
    assert replicas(small, name) == []
    pc.configure_index(name, read_capacity=dedicated(need, 1))
    status = settle(small, name)["read_capacity"]["status"]
    assert status == {"state": "Ready", "current_shards": need, "current_replicas": 1}
    assert index.query(vector=[1, 3, 0, 0.5], top_k=1).matches[0].id == "s0003"
    pc.delete_index(name)


def test_one_namespace_per_dedicated_index(small: LiveServer) -> None:
    pc = client(small)
    name, _, index = _create(pc, small, {"mode": "OnDemand"})
    index.upsert(vectors=_vectors(0, 3), namespace="a")
    index.upsert(vectors=_vectors(0, 3), namespace="b")
    pc.configure_index(name, read_capacity=dedicated(1, 1))
    assert settle(small, name)["read_capacity"]["status"]["error_message"] == (
        f"Dedicated read nodes support a single namespace; index '{name}' has 2 ('a', 'b'). "
        "Delete all but one namespace and retry."
    )
    index.delete_namespace(namespace="b")
    pc.configure_index(name, read_capacity=dedicated(1, 1))
    assert settle(small, name)["read_capacity"]["status"]["state"] == "Ready"
    message = (
        f"Index '{name}' has dedicated read nodes, which support a single namespace; it "
        "already has namespace 'a'"
    )
    with pytest.raises(ApiError) as raised:
        index.upsert(vectors=_vectors(0, 1), namespace="c")
    assert raised.value.message == message
    with pytest.raises(ApiError) as raised:
        index.create_namespace(name="c")
    assert raised.value.message == message
    index.upsert(vectors=_vectors(3, 4), namespace="a")
    assert index.describe_index_stats().namespaces["a"].vector_count == 4
    pc.delete_index(name)


def test_delete_all_then_write_again(small: LiveServer) -> None:
    """delete_all deletes the namespace (multitenancy guide); written again at once, the
    replicas serve the new records, not those of the deleted namespace."""
    pc = client(small)
    name, _, index = _create(pc, small, dedicated(1, 1))
    index.upsert(vectors=_vectors(0, 3), namespace="a")
    assert index.query(vector=[1, 2, 0, 0.5], top_k=1, namespace="a").matches[0].id == "s0002"
    index.delete(delete_all=True, namespace="a")
    assert index.describe_index_stats().namespaces == {}
    assert index.query(vector=[1, 2, 0, 0.5], top_k=1, namespace="a").matches == []
    index.upsert(vectors=[("new", [1.0, 2.0, 0.0, 0.5])], namespace="a")
    found = index.query(vector=[1, 2, 0, 0.5], top_k=5, namespace="a").matches
    assert [m.id for m in found] == ["new"]
    assert sorted(index.fetch(ids=["s0001", "new"], namespace="a").vectors) == ["new"]
    pc.delete_index(name)
