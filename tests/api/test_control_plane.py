"""The real SDK's control-plane calls against a live server."""

from __future__ import annotations

import httpx
import pytest
from pinecone import ServerlessSpec
from pinecone.errors import PineconeError

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer


def test_create_describe_list_delete(server: LiveServer) -> None:
    pc = client(server)
    name = unique("ctl")
    created = pc.create_index(
        name=name,
        dimension=16,
        metric="euclidean",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        tags={"env": "test"},
    )
    assert created.name == name
    desc = pc.describe_index(name)
    assert desc.status.ready is True
    assert desc.status.state == "Ready"
    assert desc.dimension == 16
    assert desc.metric == "euclidean"
    assert desc.deletion_protection == "disabled"
    assert desc.tags == {"env": "test"}
    # The index's own port (docs/GRPC.md), with its path on the main port's host.
    assert desc.host.startswith("http://127.0.0.1:") and desc.host.endswith(f"/{name}")
    assert name in [i.name for i in pc.list_indexes()]
    assert pc.has_index(name)
    pc.delete_index(name)
    assert not pc.has_index(name)
    assert name not in [i.name for i in pc.list_indexes()]


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_each_metric(server: LiveServer, metric: str) -> None:
    pc = client(server)
    name = unique(f"m-{metric}")
    make_index(pc, name, dimension=4, metric=metric)
    assert pc.describe_index(name).metric == metric
    pc.delete_index(name)


def test_deletion_protection_and_tags(server: LiveServer) -> None:
    pc = client(server)
    name = unique("prot")
    make_index(pc, name, deletion_protection="enabled")
    with pytest.raises(PineconeError) as info:
        pc.delete_index(name)
    assert "Deletion protection is enabled" in str(info.value)
    assert pc.has_index(name)
    pc.configure_index(name, tags={"team": "search", "tier": "gold"})
    pc.configure_index(name, tags={"tier": ""})
    assert pc.describe_index(name).tags == {"team": "search"}
    pc.configure_index(name, deletion_protection="disabled")
    assert pc.describe_index(name).deletion_protection == "disabled"
    pc.delete_index(name)
    assert not pc.has_index(name)


def test_duplicate_name_conflicts(server: LiveServer) -> None:
    pc = client(server)
    name = unique("dup")
    make_index(pc, name)
    response = httpx.post(
        f"{server.url}/indexes",
        headers={"Api-Key": API_KEY},
        json={
            "name": name,
            "dimension": 8,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        },
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "ALREADY_EXISTS"
    pc.delete_index(name)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "Bad_Name", "dimension": 8}, "lower case alphanumeric"),
        ({"name": "x" * 46, "dimension": 8}, "at most 45"),
        ({"name": "dim-zero", "dimension": 0}, "between 1 and 20000"),
        ({"name": "dim-big", "dimension": 20001}, "between 1 and 20000"),
        ({"name": "bad-metric", "dimension": 8, "metric": "hamming"}, "metric"),
        ({"name": "no-dim"}, "Dimension is required"),
        (
            {"name": "sparse-dim", "dimension": 8, "vector_type": "sparse"},
            "must not have a dimension",
        ),
        (
            {"name": "sparse-cos", "vector_type": "sparse", "metric": "cosine"},
            "dotproduct",
        ),
    ],
)
def test_invalid_create_2025_shape(
    server: LiveServer, body: dict[str, object], fragment: str
) -> None:
    body = {**body, "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}}}
    response = httpx.post(
        f"{server.url}/indexes",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2025-10"},
        json=body,
    )
    assert response.status_code == 400
    payload = response.json()
    assert payload["status"] == 400
    assert payload["error"]["code"] == "INVALID_ARGUMENT"
    assert fragment in payload["error"]["message"]
    listed = httpx.get(f"{server.url}/indexes", headers={"Api-Key": API_KEY}).json()
    assert body["name"] not in [i["name"] for i in listed["indexes"]]


def test_unknown_index_is_404(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/indexes/nope", headers={"Api-Key": API_KEY})
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "NOT_FOUND", "message": "Resource nope not found"},
        "status": 404,
    }
    pc = client(server)
    assert not pc.has_index("nope")


def test_missing_and_wrong_key(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/indexes")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    response = httpx.get(f"{server.url}/indexes", headers={"Api-Key": "wrong"})
    assert response.status_code == 401
    pc = client(server, api_key="wrong")
    with pytest.raises(PineconeError):
        pc.list_indexes()


def test_describe_shows_2026_and_2025_fields(server: LiveServer) -> None:
    pc = client(server)
    name = unique("shape")
    make_index(pc, name, dimension=3)
    body = httpx.get(f"{server.url}/indexes/{name}", headers={"Api-Key": API_KEY}).json()
    assert body["schema"] == {
        "fields": {"_values": {"type": "dense_vector", "dimension": 3, "metric": "cosine"}}
    }
    assert body["deployment"]["deployment_type"] == "managed"
    assert body["dimension"] == 3
    assert body["spec"]["serverless"]["cloud"] == "aws"
    assert body["read_capacity"]["mode"] == "OnDemand"
    pc.delete_index(name)


def test_indexes_survive_restart(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    make_index(pc, "kept", dimension=5, deletion_protection="enabled", tags={"a": "b"})
    fresh_server.restart()
    desc = client(fresh_server).describe_index("kept")
    assert (desc.dimension, desc.deletion_protection, desc.tags) == (5, "enabled", {"a": "b"})
