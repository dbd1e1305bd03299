"""The real SDK's data-plane calls against a live server, with exact expected results,
over REST and over gRPC (PineconeGRPC) alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import grpc
import httpx
import pytest
from pinecone import GrpcIndex, PineconeValueError

from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb
from spruce.api.grpc.proto import db_data_2025_10_pb2_grpc as pb_grpc
from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client


@pytest.fixture(params=["rest", "grpc"])
def pc(server: LiveServer, request: pytest.FixtureRequest) -> Any:
    """Every scenario runs twice: the REST client and PineconeGRPC, same host."""
    return client(server) if request.param == "rest" else grpc_client(server)


@pytest.fixture
def index(pc: Any) -> Iterator[Any]:
    name = unique("data")
    idx = make_index(pc, name, dimension=4)
    yield idx
    pc.delete_index(name)


def test_multitenancy_guide(pc: Any) -> None:
    """Pinecone's multitenancy guide, verbatim but for the host."""
    if pc.has_index("multitenant-app"):
        pc.delete_index("multitenant-app")
    make_index(pc, "multitenant-app", dimension=8)
    index = pc.Index(host=pc.describe_index("multitenant-app").host)
    index.upsert(
        vectors=[
            {"id": k, "values": [v] * 8} for k, v in zip("ABCD", [0.1, 0.2, 0.3, 0.4], strict=False)
        ],
        namespace="tenant1",
    )
    index.upsert(
        vectors=[
            {"id": k, "values": [v] * 8} for k, v in zip("EFGH", [0.5, 0.6, 0.7, 0.8], strict=False)
        ],
        namespace="tenant2",
    )
    stats = index.describe_index_stats()
    assert stats.total_vector_count == 8
    assert stats.namespaces["tenant1"].vector_count == 4
    assert stats.namespaces["tenant2"].vector_count == 4
    result = index.query(
        namespace="tenant2",
        vector=[0.7] * 8,
        top_k=3,
        include_values=True,
    )
    assert result.namespace == "tenant2"
    assert len(result.matches) == 3
    assert {m.id for m in result.matches} <= set("EFGH")
    for match in result.matches:
        assert match.score == pytest.approx(1.0, abs=1e-5)
        assert len(match.values) == 8
    # Isolation: tenant1's records never answer a tenant2 query and vice versa.
    result = index.query(namespace="tenant1", vector=[0.7] * 8, top_k=10)
    assert sorted(m.id for m in result.matches) == list("ABCD")
    index.delete_namespace(namespace="tenant1")
    assert "tenant1" not in index.describe_index_stats().namespaces
    # The host can also come from the name, as in Pinecone's examples.
    assert pc.Index("multitenant-app").describe_index_stats().total_vector_count == 4
    pc.delete_index("multitenant-app")


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
    # An upsert of an existing id replaces the whole record, metadata included.
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
    # Pinecone's "delete all chunks for a document" pattern, by filter ...
    index.delete(filter={"document_id": {"$eq": "doc1"}}, namespace="docs")
    remaining = sorted(v.id for page in index.list(namespace="docs") for v in page.vectors)
    assert remaining == ["doc2#chunk0", "doc2#chunk1", "doc2#chunk2"]
    # ... and by id prefix with list().
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


def test_namespace_counts_survive_restarts(fresh_server: LiveServer) -> None:
    """Counts come from each namespace's saved COUNT after a clean restart (none is
    opened for them) and from the WAL after kill -9; either way they are exact."""
    pc = client(fresh_server)
    index = make_index(pc, "counts", dimension=4)
    expected = {f"tenant-{i}": i + 1 for i in range(5)}
    for name, n in expected.items():
        index.upsert(vectors=[(f"v{j}", [1, j, 0, 0]) for j in range(n)], namespace=name)
    index.delete(ids=["v0"], namespace="tenant-4")
    expected["tenant-4"] -= 1

    def check() -> None:
        stats = index.describe_index_stats()
        assert {k: v.vector_count for k, v in stats.namespaces.items()} == expected
        assert stats.total_vector_count == sum(expected.values())
        listed = {ns.name: ns.record_count for p in index.list_namespaces() for ns in p.namespaces}
        assert listed == expected
        assert index.describe_namespace(namespace="tenant-2").record_count == expected["tenant-2"]

    check()
    fresh_server.restart()  # a clean stop: every namespace leaves its COUNT file
    counts = list((fresh_server.data_dir / "indexes").glob("*/ns-*/COUNT"))
    assert len(counts) == len(expected)
    check()
    index.upsert(vectors=[("late", [0, 0, 1, 0])], namespace="tenant-0")  # only in the WAL
    expected["tenant-0"] += 1
    check()
    fresh_server.kill()
    fresh_server.start()
    check()


def _refused(index: Any, body: dict[str, Any], fragment: str) -> None:
    """The server itself refuses ``body`` (the SDK checks these before sending), over
    the transport ``index`` uses: 400 with Pinecone's body, or INVALID_ARGUMENT."""
    if not isinstance(index, GrpcIndex):
        response = httpx.post(
            f"{index.host}/vectors/fetch_by_metadata",
            headers={"Api-Key": API_KEY},
            json=body,
        )
        assert response.status_code == 400, response.text
        assert fragment in response.json()["message"]
        return
    req = pb.FetchByMetadataRequest(namespace=body.get("namespace", ""))
    if "filter" in body:
        req.filter.update(body["filter"])
    if "limit" in body:
        req.limit = body["limit"]
    if "paginationToken" in body:
        req.pagination_token = body["paginationToken"]
    with grpc.insecure_channel(urlparse(index.host).netloc) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.FetchByMetadata(req, metadata=(("api-key", API_KEY),))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (err.value.details() or "")


def test_fetch_by_metadata(index: Any) -> None:
    index.upsert(
        vectors=[
            {
                "id": f"doc-{i:02d}",
                "values": [i, 1, 0, 0],
                "metadata": {"parity": "odd" if i % 2 else "even", "n": i},
            }
            for i in range(30)
        ],
        namespace="fbm",
    )
    index.upsert(vectors=[("doc-00", [1, 1, 1, 1], {"parity": "even"})], namespace="other")
    flt = {"parity": {"$eq": "even"}, "n": {"$lt": 26}}
    expected = [f"doc-{i:02d}" for i in range(0, 26, 2)]  # 13 ids
    pages: list[list[str]] = []
    token = None
    while True:
        page = index.fetch_by_metadata(filter=flt, namespace="fbm", limit=4, pagination_token=token)
        assert page.namespace == "fbm"
        assert page.usage is not None and page.usage.read_units >= 1
        pages.append(sorted(page.vectors))
        for vid, vec in page.vectors.items():
            n = int(vid[4:])
            assert vec.id == vid
            assert vec.values == [float(n), 1.0, 0.0, 0.0]
            assert vec.metadata == {"parity": "even", "n": n}
        if page.pagination is None:
            break
        assert page.pagination.next
        token = page.pagination.next
    # Pages follow id order, like list(): 4 + 4 + 4 + 1, each id exactly once.
    assert [len(p) for p in pages] == [4, 4, 4, 1]
    assert [i for p in pages for i in p] == expected
    # Without a limit the server's default page (100) holds them all.
    whole = index.fetch_by_metadata(filter=flt, namespace="fbm")
    assert sorted(whole.vectors) == expected and whole.pagination is None
    assert index.fetch_by_metadata(filter={"n": 99}, namespace="fbm").vectors == {}
    assert index.fetch_by_metadata(filter={"n": 1}, namespace="nowhere").vectors == {}

    # A write is visible to the next read: upsert, update and delete.
    index.upsert(vectors=[("doc-a", [0, 0, 1, 0], {"parity": "even", "n": 1})], namespace="fbm")
    index.update(id="doc-02", set_metadata={"parity": "odd"}, namespace="fbm")
    index.delete(ids=["doc-04"], namespace="fbm")
    now = index.fetch_by_metadata(filter=flt, namespace="fbm", limit=100)
    assert sorted(now.vectors) == sorted(
        [i for i in expected if i not in ("doc-02", "doc-04")] + ["doc-a"]
    )
    assert now.vectors["doc-a"].metadata == {"parity": "even", "n": 1}
    raw = httpx.post(
        f"{index.host}/vectors/fetch_by_metadata",
        headers={"Api-Key": API_KEY},
        json={"filter": {"n": 1}, "namespace": "fbm"},
    )
    assert raw.status_code == 200 and int(raw.headers["x-pinecone-max-indexed-lsn"]) >= 1
    assert set(raw.json()["vectors"]) == {"doc-01", "doc-a"} and "pagination" not in raw.json()

    # The SDK refuses an empty filter or a limit out of range before sending ...
    with pytest.raises(PineconeValueError):
        index.fetch_by_metadata(filter={}, namespace="fbm")
    for limit in (0, 10_001):
        with pytest.raises(PineconeValueError):
            index.fetch_by_metadata(filter=flt, namespace="fbm", limit=limit)
    # ... and so does the server, with Pinecone's messages.
    empty = "Empty filter provided for fetch by metadata request"
    _refused(index, {"filter": {}, "namespace": "fbm"}, empty)
    _refused(index, {"namespace": "fbm"}, empty)
    for limit in (0, 10_001):
        _refused(index, {"filter": flt, "limit": limit}, "must be between 1 and 10000")
    _refused(index, {"filter": flt, "paginationToken": "not-a-token"}, "Invalid pagination token")
