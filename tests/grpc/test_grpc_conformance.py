"""The SDK's PineconeGRPC client against a live server: the scenarios of
tests/api/test_data_plane.py, over gRPC, with the same exact expected results."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pinecone import ApiError, NotFoundError, ServerlessSpec, UnauthorizedError
from pinecone.grpc import GrpcIndex, PineconeGRPC
from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client


@pytest.fixture
def pc(server: LiveServer) -> PineconeGRPC:
    return grpc_client(server)


@pytest.fixture
def index(pc: PineconeGRPC) -> Iterator[Any]:
    name = unique("grpc")
    idx = make_index(pc, name, dimension=4)
    assert isinstance(idx, GrpcIndex)
    yield idx
    pc.delete_index(name)


def test_multitenancy_guide(pc: PineconeGRPC) -> None:
    """Pinecone's multitenancy guide with ``PineconeGRPC as Pinecone``, but for the host."""
    if pc.has_index("multitenant-grpc"):
        pc.delete_index("multitenant-grpc")
    make_index(pc, "multitenant-grpc", dimension=8)
    index = pc.Index(host=pc.describe_index("multitenant-grpc").host)
    index.upsert(
        vectors=[
            {"id": k, "values": [v] * 8} for k, v in zip("ABCD", [0.1, 0.2, 0.3, 0.4], strict=True)
        ],
        namespace="tenant1",
    )
    index.upsert(
        vectors=[
            {"id": k, "values": [v] * 8} for k, v in zip("EFGH", [0.5, 0.6, 0.7, 0.8], strict=True)
        ],
        namespace="tenant2",
    )
    stats = index.describe_index_stats()
    assert stats.total_vector_count == 8
    assert stats.namespaces["tenant1"].vector_count == 4
    assert stats.namespaces["tenant2"].vector_count == 4
    result = index.query(namespace="tenant2", vector=[0.7] * 8, top_k=3, include_values=True)
    assert result.namespace == "tenant2"
    assert len(result.matches) == 3
    assert {m.id for m in result.matches} <= set("EFGH")
    for match in result.matches:
        assert match.score == pytest.approx(1.0, abs=1e-5)
        assert len(match.values) == 8
    result = index.query(namespace="tenant1", vector=[0.7] * 8, top_k=10)
    assert sorted(m.id for m in result.matches) == list("ABCD")
    index.delete_namespace(namespace="tenant1")
    assert "tenant1" not in index.describe_index_stats().namespaces
    # The host can also come from the name, as in Pinecone's examples.
    assert pc.Index("multitenant-grpc").describe_index_stats().total_vector_count == 4
    pc.delete_index("multitenant-grpc")


def test_scheme_from_the_environment(
    server: LiveServer, index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinecone's code untouched: only PINECONE_GRPC_SCHEME=http is set."""
    monkeypatch.setenv("PINECONE_GRPC_SCHEME", "http")
    plain = PineconeGRPC(api_key=API_KEY, host=server.url).Index(host=index.host)
    plain.upsert(vectors=[("env", [1, 0, 0, 0])])
    assert set(plain.fetch(ids=["env"]).vectors) == {"env"}


def test_concurrent_batches(index: Any) -> None:
    vectors = [(f"b{i}", [1, i, 0, 0]) for i in range(50)]
    result = index.upsert(vectors=vectors, batch_size=5)
    assert result.upserted_count == 50
    assert index.describe_index_stats().total_vector_count == 50


def test_upsert_fetch_update(index: Any) -> None:
    index.upsert(
        vectors=[
            {"id": "a", "values": [1, 0, 0, 0], "metadata": {"genre": "drama", "year": 2020}},
            ("b", [0, 1, 0, 0], {"genre": "comedy"}),
            ("c", [0, 0, 1, 0]),
        ]
    )
    fetched = index.fetch(ids=["a", "b", "missing"])
    assert set(fetched.vectors) == {"a", "b"}
    assert fetched.vectors["a"].values == [1.0, 0.0, 0.0, 0.0]
    assert fetched.vectors["a"].metadata == {"genre": "drama", "year": 2020}
    index.update(id="a", set_metadata={"year": 2021, "rating": 4.5})
    assert index.fetch(ids=["a"]).vectors["a"].metadata == {
        "genre": "drama",
        "year": 2021,
        "rating": 4.5,
    }
    index.update(id="a", values=[0, 0, 0, 1])
    assert index.fetch(ids=["a"]).vectors["a"].values == [0.0, 0.0, 0.0, 1.0]
    index.upsert(vectors=[("a", [1, 1, 0, 0])])
    assert index.fetch(ids=["a"]).vectors["a"].metadata in (None, {})


def test_query_exact_scores_and_filters(index: Any) -> None:
    index.upsert(
        vectors=[
            {"id": "x", "values": [1, 0, 0, 0], "metadata": {"k": "a", "n": 1, "tags": ["p"]}},
            {"id": "y", "values": [1, 1, 0, 0], "metadata": {"k": "b", "n": 2, "tags": ["q"]}},
            {"id": "z", "values": [0, 1, 0, 0], "metadata": {"k": "a", "n": 3}},
        ],
        namespace="ns",
    )
    result = index.query(vector=[1, 0, 0, 0], top_k=3, namespace="ns", include_metadata=True)
    assert [m.id for m in result.matches] == ["x", "y", "z"]
    assert [round(m.score, 5) for m in result.matches] == [1.0, round(2**-0.5, 5), 0.0]
    assert result.matches[0].metadata == {"k": "a", "n": 1, "tags": ["p"]}
    assert result.usage.read_units >= 1

    def ids(flt: dict[str, Any]) -> list[str]:
        res = index.query(vector=[1, 0, 0, 0], top_k=10, namespace="ns", filter=flt)
        return [m.id for m in res.matches]

    assert ids({"k": "a"}) == ["x", "z"]
    assert ids({"n": {"$gte": 2}}) == ["y", "z"]
    assert ids({"tags": {"$in": ["q"]}}) == ["y"]
    assert ids({"$or": [{"k": "b"}, {"n": 3}]}) == ["y", "z"]
    assert ids({"tags": {"$exists": False}}) == ["z"]
    assert ids({"k": {"$ne": "a"}, "n": {"$lt": 5}}) == ["y"]
    by_id = index.query(id="z", top_k=1, namespace="ns")
    assert [m.id for m in by_id.matches] == ["z"]


def test_delete_by_ids_filter_and_all(index: Any) -> None:
    index.upsert(
        vectors=[
            {"id": f"doc1#chunk{i}", "values": [1, i, 0, 0], "metadata": {"document_id": "doc1"}}
            for i in range(5)
        ]
        + [
            {"id": f"doc2#chunk{i}", "values": [0, 1, i, 0], "metadata": {"document_id": "doc2"}}
            for i in range(3)
        ],
        namespace="docs",
    )
    index.delete(filter={"document_id": {"$eq": "doc1"}}, namespace="docs")
    remaining = sorted(v.id for page in index.list(namespace="docs") for v in page.vectors)
    assert remaining == ["doc2#chunk0", "doc2#chunk1", "doc2#chunk2"]
    for page in index.list(prefix="doc2#", namespace="docs"):
        index.delete(ids=[v.id for v in page.vectors], namespace="docs")
    assert index.describe_index_stats().namespaces.get("docs") is None or (
        index.describe_index_stats().namespaces["docs"].vector_count == 0
    )
    index.upsert(vectors=[("k", [1, 2, 3, 4])], namespace="wipe")
    index.delete(delete_all=True, namespace="wipe")
    assert index.fetch(ids=["k"], namespace="wipe").vectors == {}


def test_list_pagination(index: Any) -> None:
    ids = [f"item-{i:03d}" for i in range(25)] + ["other-1"]
    index.upsert(vectors=[(i, [1, 0, 0, 0]) for i in ids], namespace="pages")
    first = index.list_paginated(prefix="item-", limit=10, namespace="pages")
    assert [v.id for v in first.vectors] == ids[:10]
    assert first.pagination is not None and first.pagination.next
    second = index.list_paginated(
        prefix="item-", limit=10, namespace="pages", pagination_token=first.pagination.next
    )
    assert [v.id for v in second.vectors] == ids[10:20]
    every = [v.id for page in index.list(prefix="item-", namespace="pages") for v in page.vectors]
    assert every == ids[:25]


def test_default_namespace_aliases(index: Any) -> None:
    index.upsert(vectors=[("d", [1, 0, 0, 0])])
    assert set(index.fetch(ids=["d"], namespace="").vectors) == {"d"}
    assert set(index.fetch(ids=["d"], namespace="__default__").vectors) == {"d"}
    stats = index.describe_index_stats()
    assert stats.namespaces["__default__"].vector_count == 1
    assert stats.dimension == 4


def test_namespaces_api(index: Any) -> None:
    index.upsert(vectors=[("a", [1, 0, 0, 0])], namespace="alpha")
    index.upsert(vectors=[("a", [1, 0, 0, 0]), ("b", [0, 1, 0, 0])], namespace="beta")
    names = {ns.name: ns.record_count for page in index.list_namespaces() for ns in page.namespaces}
    assert names == {"alpha": 1, "beta": 2}
    described = index.describe_namespace(namespace="beta")
    assert (described.name, described.record_count) == ("beta", 2)
    created = index.create_namespace(name="gamma")
    assert (created.name, created.record_count) == ("gamma", 0)
    first = index.list_namespaces_paginated(limit=2)
    assert [ns.name for ns in first.namespaces] == ["alpha", "beta"]
    assert first.total_count == 3 and first.pagination is not None
    rest = index.list_namespaces_paginated(limit=2, pagination_token=first.pagination.next)
    assert [ns.name for ns in rest.namespaces] == ["gamma"] and rest.pagination is None
    index.delete_namespace(namespace="alpha")
    index.delete_namespace(namespace="gamma")
    assert [ns.name for p in index.list_namespaces() for ns in p.namespaces] == ["beta"]


def test_sparse_and_hybrid_values_round_trip(pc: PineconeGRPC) -> None:
    name = unique("grpc-hybrid")
    index = make_index(pc, name, dimension=2, metric="dotproduct")
    try:
        index.upsert(
            vectors=[
                {
                    "id": "h1",
                    "values": [1, 0],
                    "sparse_values": {"indices": [7, 3], "values": [0.5, 2.0]},
                },
                {"id": "h2", "values": [0, 1]},
            ]
        )
        got = index.fetch(ids=["h1"]).vectors["h1"]
        assert got.sparse_values is not None
        assert (got.sparse_values.indices, got.sparse_values.values) == ([3, 7], [2.0, 0.5])
        result = index.query(
            vector=[1, 0],
            sparse_vector={"indices": [3], "values": [1.0]},
            top_k=2,
            include_values=True,
        )
        assert [m.id for m in result.matches] == ["h1", "h2"]
        assert result.matches[0].score == pytest.approx(3.0)
        assert result.matches[0].sparse_values is not None
    finally:
        pc.delete_index(name)


def test_errors_are_the_sdk_classes_rest_gives(server: LiveServer, index: Any) -> None:
    with pytest.raises(ApiError) as bad:
        index.query(vector=[1, 0], top_k=3)
    assert bad.value.status_code == 400
    assert "dimension 2 does not match the dimension of the index 4" in bad.value.message
    with pytest.raises(NotFoundError):
        index.describe_namespace(namespace="nope")
    with pytest.raises(NotFoundError):
        index.update(id="ghost", values=[1, 0, 0, 0])
    stranger = grpc_client(server, api_key="not-a-key").Index(host=index.host)
    with pytest.raises(UnauthorizedError):
        stranger.fetch(ids=["a"])


def test_one_host_serves_rest_and_grpc(server: LiveServer, index: Any) -> None:
    """The host describe_index returns works unchanged for both clients, and the
    main port's path-prefix host keeps working for REST."""
    rest_pc = client(server)
    rest = rest_pc.Index(host=index.host)
    rest.upsert(vectors=[("r", [0, 0, 1, 0], {"via": "rest"})], namespace="both")
    index.upsert(vectors=[("g", [0, 0, 0, 1], {"via": "grpc"})], namespace="both")
    assert set(rest.fetch(ids=["r", "g"], namespace="both").vectors) == {"r", "g"}
    assert set(index.fetch(ids=["r", "g"], namespace="both").vectors) == {"r", "g"}
    path = index.host.split("/", 3)[3]
    main_port = rest_pc.Index(host=f"{server.url}/{path}")
    assert main_port.describe_index_stats().namespaces["both"].vector_count == 2


def test_sparse_index(pc: PineconeGRPC) -> None:
    name = unique("grpc-sparse")
    pc.create_index(
        name=name,
        metric="dotproduct",
        vector_type="sparse",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    index = pc.Index(host=pc.describe_index(name).host)
    try:
        index.upsert(
            vectors=[
                {"id": "s1", "sparse_values": {"indices": [1, 9], "values": [1.0, 2.0]}},
                {"id": "s2", "sparse_values": {"indices": [9], "values": [0.5]}},
            ]
        )
        result = index.query(sparse_vector={"indices": [9], "values": [2.0]}, top_k=2)
        assert [(m.id, m.score) for m in result.matches] == [("s1", 4.0), ("s2", 1.0)]
        got = index.fetch(ids=["s2"]).vectors["s2"]
        assert got.values == [] and got.sparse_values is not None
        assert (got.sparse_values.indices, got.sparse_values.values) == ([9], [0.5])
        stats = index.describe_index_stats()
        assert (stats.dimension, stats.total_vector_count) == (None, 2)
    finally:
        pc.delete_index(name)
