"""The namespaces API and ``delete_all`` as Pinecone's spec and guides describe them, over
raw HTTP, the SDK's REST client and PineconeGRPC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

HEADERS = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2025-10"}


@pytest.fixture(params=["rest", "grpc"])
def pc(server: LiveServer, request: pytest.FixtureRequest) -> Any:
    return client(server) if request.param == "rest" else grpc_client(server)


@pytest.fixture
def host(server: LiveServer) -> Iterator[str]:
    """A fresh 4-dimension index's REST host."""
    pc = client(server)
    name = unique("ns")
    yield str(make_index(pc, name, dimension=4).host)
    pc.delete_index(name)


def test_delete_namespace_answers_200_with_a_json_body(host: str) -> None:
    """2025-10 spec: 200 with a DeleteResponse (``{}``), which the TypeScript SDK parses."""
    up = httpx.post(
        f"{host}/vectors/upsert",
        headers=HEADERS,
        json={"vectors": [{"id": "a", "values": [1, 0, 0, 0]}], "namespace": "gone"},
    )
    assert up.status_code == 200
    response = httpx.delete(f"{host}/namespaces/gone", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    missing = httpx.delete(f"{host}/namespaces/gone", headers=HEADERS)
    assert missing.status_code == 404


def _names(index: Any) -> list[str]:
    return [ns.name for page in index.list_namespaces() for ns in page.namespaces]


def test_delete_all_deletes_the_namespace(pc: Any) -> None:
    """Multitenancy guide, "Offboard a tenant": delete_all deletes the namespace and all
    records for tenant1; the name can then be written again."""
    name = unique("offboard")
    index = make_index(pc, name, dimension=4)
    try:
        index.upsert(vectors=[("a", [1, 0, 0, 0]), ("b", [0, 1, 0, 0])], namespace="tenant1")
        index.upsert(vectors=[("c", [0, 0, 1, 0])], namespace="tenant2")
        index.delete(delete_all=True, namespace="tenant1")
        stats = index.describe_index_stats()
        assert {k: v.vector_count for k, v in stats.namespaces.items()} == {"tenant2": 1}
        assert stats.total_vector_count == 1
        assert _names(index) == ["tenant2"]
        with pytest.raises(Exception) as raised:
            index.describe_namespace(namespace="tenant1")
        assert "not found" in str(raised.value).lower()
        index.upsert(vectors=[("z", [0, 0, 0, 1])], namespace="tenant1")
        assert index.describe_namespace(namespace="tenant1").record_count == 1
        assert sorted(index.fetch(ids=["a", "z"], namespace="tenant1").vectors) == ["z"]
    finally:
        pc.delete_index(name)


def test_delete_all_survives_a_restart(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    index = make_index(pc, "offboard", dimension=4)
    index.upsert(vectors=[("a", [1, 0, 0, 0])], namespace="tenant1")
    index.upsert(vectors=[("b", [0, 1, 0, 0])], namespace="tenant2")
    index.delete(delete_all=True, namespace="tenant1")
    fresh_server.kill()  # kill -9: nothing more is written after the acknowledgement
    fresh_server.start()
    index = pc.Index(host=pc.describe_index("offboard").host)
    assert set(index.describe_index_stats().namespaces) == {"tenant2"}
    assert _names(index) == ["tenant2"]
