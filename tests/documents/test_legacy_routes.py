"""A document index refuses the legacy vectors and records APIs (REST and gRPC) with a
400 naming the Documents API, and nothing is written; namespaces and stats still serve."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import grpc
import httpx
import pytest

from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb
from spruce.api.grpc.proto import db_data_2025_10_pb2_grpc as pb_grpc
from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}
SCHEMA = {
    "fields": {
        "v": {"type": "dense_vector", "dimension": 2},
        "title": {"type": "string", "full_text_search": {}},
    }
}
VECTOR = {"id": "x", "values": [1.0, 0.0], "metadata": {"title": "sneaked in"}}

REST: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/vectors/upsert", {"vectors": [VECTOR], "namespace": "n"}),
    ("POST", "/query", {"vector": [1.0, 0.0], "topK": 3, "namespace": "n"}),
    ("GET", "/vectors/fetch?ids=d1&namespace=n", None),
    ("POST", "/vectors/fetch_by_metadata", {"filter": {"a": 1}, "namespace": "n"}),
    ("POST", "/vectors/update", {"id": "d1", "values": [0.0, 1.0], "namespace": "n"}),
    ("POST", "/vectors/delete", {"ids": ["d1"], "namespace": "n"}),
    ("GET", "/vectors/list?namespace=n", None),
    ("POST", "/records/namespaces/n/upsert", None),
    ("POST", "/records/namespaces/n/search", {"query": {"top_k": 1, "inputs": {"text": "a"}}}),
]


@pytest.fixture(scope="module")
def host(server: LiveServer) -> str:
    pc = client(server)
    name = unique("legacy")
    pc.indexes.create(name=name, schema=SCHEMA)
    host = str(pc.indexes.describe(name).host)
    index = pc.index(host=host)
    index.documents.upsert(namespace="n", documents=[{"_id": "d1", "v": [1, 0], "title": "a"}])
    return host


def _refused(message: str) -> None:
    assert "document index" in message and "Documents API" in message, message


@pytest.mark.parametrize(("method", "path", "body"), REST)
def test_rest_vector_and_record_routes_are_refused(
    host: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    ndjson = body is None and method == "POST"
    content = b'{"_id": "x", "title": "sneaked in"}\n' if ndjson else None
    r = httpx.request(
        method,
        f"{host}{path}",
        headers={**H, "Content-Type": "application/x-ndjson" if content else "application/json"},
        json=body,
        content=content,
    )
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 3  # INVALID_ARGUMENT, the data plane's shape
    _refused(r.json()["message"])


def test_grpc_data_calls_are_refused(host: str) -> None:
    calls: list[tuple[str, Any]] = [
        ("Upsert", pb.UpsertRequest(vectors=[pb.Vector(id="x", values=[1.0, 0.0])], namespace="n")),
        ("Query", pb.QueryRequest(vector=[1.0, 0.0], top_k=3, namespace="n")),
        ("Fetch", pb.FetchRequest(ids=["d1"], namespace="n")),
        ("Delete", pb.DeleteRequest(ids=["d1"], namespace="n")),
        ("List", pb.ListRequest(namespace="n")),
    ]
    with grpc.insecure_channel(urlparse(host).netloc) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        for name, req in calls:
            with pytest.raises(grpc.RpcError) as err:
                getattr(stub, name)(req, metadata=(("api-key", API_KEY),))
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
            _refused(err.value.details() or "")


def test_nothing_was_written_and_namespaces_still_serve(host: str, server: LiveServer) -> None:
    index = client(server).index(host=host)
    fetched = index.documents.fetch(namespace="n", ids=["d1", "x"], include_fields=["*"])
    assert sorted(fetched.documents) == ["d1"]
    assert fetched.documents["d1"].to_dict()["title"] == "a"
    r = httpx.get(f"{host}/namespaces", headers=H)
    assert r.status_code == 200 and [n["name"] for n in r.json()["namespaces"]] == ["n"]
    r = httpx.post(f"{host}/describe_index_stats", headers=H, json={})
    assert r.status_code == 200 and r.json()["namespaces"]["n"]["vectorCount"] == 1
