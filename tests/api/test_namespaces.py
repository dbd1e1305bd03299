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


GENRE = {"fields": {"genre": {"filterable": True}}}


def test_schema_is_stored_returned_and_applied(pc: Any) -> None:
    name = unique("schema")
    index = make_index(pc, name, dimension=4)
    try:
        created = index.create_namespace(name="movies", schema=GENRE)
        assert (created.name, created.record_count) == ("movies", 0)
        assert created.schema.fields["genre"].filterable is True
        assert list(created.schema.fields) == ["genre"]
        assert created.indexed_fields.fields == ["genre"]
        index.upsert(
            vectors=[
                {"id": "a", "values": [1, 0, 0, 0], "metadata": {"genre": "drama", "year": 2020}},
                {"id": "b", "values": [0, 1, 0, 0], "metadata": {"genre": "comedy", "year": 2021}},
            ],
            namespace="movies",
        )
        described = index.describe_namespace(name="movies")
        assert described.record_count == 2
        assert list(described.schema.fields) == ["genre"]
        assert described.indexed_fields.fields == ["genre"]
        listed = {ns.name: ns for p in index.list_namespaces() for ns in p.namespaces}
        assert list(listed["movies"].schema.fields) == ["genre"]
        # A declared field filters as usual; every field is still stored and returned.
        found = index.query(
            vector=[1, 1, 0, 0],
            top_k=5,
            namespace="movies",
            filter={"genre": "comedy"},
            include_metadata=True,
        ).matches
        assert [(m.id, m.metadata) for m in found] == [("b", {"genre": "comedy", "year": 2021})]
        # An undeclared field is not indexed: a filter on it is refused.
        with pytest.raises(Exception) as raised:
            index.query(vector=[1, 1, 0, 0], top_k=5, namespace="movies", filter={"year": 2020})
        assert (
            'Cannot filter on metadata field "year": it is not indexed, as the schema of '
            'namespace "movies" does not declare it filterable'
        ) in str(raised.value)
        # A namespace created without a schema indexes every field, and reports none.
        index.upsert(
            vectors=[{"id": "c", "values": [0, 0, 1, 0], "metadata": {"year": 2020}}],
            namespace="plain",
        )
        plain = index.describe_namespace(name="plain")
        assert plain.schema is None and plain.indexed_fields is None
        hits = index.query(vector=[0, 0, 1, 0], top_k=5, namespace="plain", filter={"year": 2020})
        assert [m.id for m in hits.matches] == ["c"]
    finally:
        pc.delete_index(name)


def test_schema_over_raw_http(host: str) -> None:
    created = httpx.post(
        f"{host}/namespaces",
        headers=HEADERS,
        json={"name": "movies", "schema": {"fields": {"genre": {"filterable": True}}}},
    )
    assert created.status_code == 201
    assert created.json() == {
        "name": "movies",
        "record_count": 0,
        "schema": {"fields": {"genre": {"filterable": True}}},
        "indexed_fields": {"fields": ["genre"]},
    }
    for path in ("/vectors/delete", "/vectors/fetch_by_metadata", "/vectors/update"):
        refused = httpx.post(
            f"{host}{path}", headers=HEADERS, json={"namespace": "movies", "filter": {"year": 1}}
        )
        assert refused.status_code == 400, path
        assert refused.json()["message"].startswith('Cannot filter on metadata field "year"')
    bad = {
        "fields": {"genre": {"filterable": False}},
    }
    refused = httpx.post(
        f"{host}/namespaces", headers=HEADERS, json={"name": "other", "schema": bad}
    )
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        'Schema field "genre" must be {"filterable": true}: filterable: false is not '
        "supported; omit a field to leave it unindexed"
    )
    no_fields = httpx.post(
        f"{host}/namespaces", headers=HEADERS, json={"name": "other", "schema": {}}
    )
    assert no_fields.status_code == 400
    assert no_fields.json()["message"] == "schema.fields must be an object of field names"
    # Nothing was created by the refused requests.
    names = httpx.get(f"{host}/namespaces", headers=HEADERS).json()["namespaces"]
    assert [n["name"] for n in names] == ["movies"]


def test_schema_survives_a_restart(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    index = make_index(pc, "keeps", dimension=4)
    index.create_namespace(name="movies", schema=GENRE)
    fresh_server.kill()
    fresh_server.start()
    index = pc.Index(host=pc.describe_index("keeps").host)
    assert list(index.describe_namespace(name="movies").schema.fields) == ["genre"]
    with pytest.raises(Exception) as raised:
        index.query(vector=[1, 0, 0, 0], top_k=1, namespace="movies", filter={"year": 1})
    assert 'Cannot filter on metadata field "year"' in str(raised.value)
