"""Sparse indexes and hybrid (dense + sparse) search through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import ApiError, Pinecone, ServerlessSpec

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "Content-Type": "application/json"}
SPEC = ServerlessSpec(cloud="aws", region="us-east-1")
SPARSE_NOT_SUPPORTED = (
    "Index configuration does not support sparse values - only indexes that are sparse "
    "or using dotproduct are supported"
)


def sp(pairs: dict[int, float]) -> dict[str, list[Any]]:
    return {"indices": list(pairs), "values": list(pairs.values())}


def make_sparse(pc: Pinecone, name: str) -> Any:
    pc.create_index(name=name, vector_type="sparse", spec=SPEC)
    return pc.Index(host=pc.describe_index(name).host)


def ranked(result: Any) -> list[tuple[str, float]]:
    return [(m.id, m.score) for m in result.matches]


def assert_400(exc: pytest.ExceptionInfo[ApiError], message: str) -> None:
    assert exc.value.status_code == 400
    body = exc.value.body  # data plane {"code", "message"}; control plane {"error": {...}}
    assert body.get("message", body.get("error", {}).get("message")) == message, body


@pytest.fixture
def pc(server: LiveServer) -> Pinecone:
    return client(server)


@pytest.fixture
def sparse(pc: Pinecone) -> Iterator[tuple[str, Any]]:
    name = unique("sparse")
    index = make_sparse(pc, name)
    yield name, index
    pc.delete_index(name)


DOCS = {
    "a": ({1: 1.0, 5: 0.5}, {"g": "x"}),
    "b": ({5: 2.0, 7: 1.0}, {"g": "y"}),
    "c": ({7: 0.25}, {"g": "x"}),
    "d": ({9: 4.0}, None),
    "e": ({5: 1.0, 7: -1.0}, {"g": "x"}),  # scores 0 for the query below: not a match
}


def test_create_and_describe_sparse_index(pc: Pinecone, sparse: tuple[str, Any]) -> None:
    name, _ = sparse
    desc = pc.describe_index(name)
    assert (desc.vector_type, desc.metric, desc.dimension) == ("sparse", "dotproduct", None)
    assert [(n, type(f).__name__) for n, f in desc.schema.fields.items()] == [
        ("_sparse_values", "SparseVectorField")
    ]
    assert desc.status.ready
    assert name in pc.list_indexes().names()


def test_sparse_upsert_query_fetch_update_stats(sparse: tuple[str, Any]) -> None:
    _, index = sparse
    upserted = index.upsert(
        vectors=[
            {"id": id, "sparse_values": sp(s), **({"metadata": md} if md else {})}
            for id, (s, md) in DOCS.items()
        ],
        namespace="ns",
    )
    assert upserted.upserted_count == 5
    q = sp({5: 1.0, 7: 1.0})
    result = index.query(sparse_vector=q, top_k=10, namespace="ns", include_values=True)
    assert ranked(result) == [("b", 3.0), ("a", 0.5), ("c", 0.25)]
    assert result.matches[0].sparse_values.indices == [5, 7]
    assert result.matches[0].sparse_values.values == [2.0, 1.0]
    assert result.matches[0].values == []
    assert ranked(index.query(sparse_vector=q, top_k=2, namespace="ns")) == [
        ("b", 3.0),
        ("a", 0.5),
    ]
    filtered = index.query(sparse_vector=q, top_k=10, namespace="ns", filter={"g": "x"})
    assert ranked(filtered) == [("a", 0.5), ("c", 0.25)]
    assert ranked(index.query(id="d", top_k=3, namespace="ns")) == [("d", 16.0)]

    fetched = index.fetch(ids=["a", "d", "zz"], namespace="ns").vectors
    assert set(fetched) == {"a", "d"}
    assert fetched["a"].values == []
    assert (fetched["a"].sparse_values.indices, fetched["a"].sparse_values.values) == (
        [1, 5],
        [1.0, 0.5],
    )
    assert fetched["a"].metadata == {"g": "x"}

    # Unsorted indices are accepted; they come back sorted.
    index.update(id="a", sparse_values=sp({8: 3.0, 2: 1.0}), namespace="ns")
    got = index.fetch(ids=["a"], namespace="ns").vectors["a"]
    assert (got.sparse_values.indices, got.sparse_values.values) == ([2, 8], [1.0, 3.0])
    assert got.metadata == {"g": "x"}
    assert ranked(index.query(sparse_vector=q, top_k=10, namespace="ns")) == [
        ("b", 3.0),
        ("c", 0.25),
    ]
    index.update(id="b", set_metadata={"g": "x"}, namespace="ns")
    got = index.fetch(ids=["b"], namespace="ns").vectors["b"]
    assert got.sparse_values.indices == [5, 7] and got.metadata == {"g": "x"}

    stats = index.describe_index_stats()
    assert (stats.vector_type, stats.metric, stats.dimension) == ("sparse", "dotproduct", None)
    assert stats.total_vector_count == 5 and stats.namespaces["ns"].vector_count == 5

    index.delete(ids=["b"], namespace="ns")
    assert ranked(index.query(sparse_vector=q, top_k=10, namespace="ns")) == [("c", 0.25)]


def test_sparse_index_refuses_dense_vectors(sparse: tuple[str, Any]) -> None:
    _, index = sparse
    index.upsert(vectors=[{"id": "a", "sparse_values": sp({1: 1.0})}])
    with pytest.raises(ApiError) as exc:
        index.upsert(vectors=[{"id": "x", "values": [0.5, 0.5]}])
    assert_400(exc, "Upserting dense vectors is not supported for sparse indexes")
    with pytest.raises(ApiError) as exc:
        index.upsert(vectors=[{"id": "x", "values": [0.5], "sparse_values": sp({1: 1.0})}])
    assert_400(exc, "Upserting dense vectors is not supported for sparse indexes")
    with pytest.raises(ApiError) as exc:
        index.update(id="a", values=[0.5, 0.5])
    assert_400(exc, "Upserting dense vectors is not supported for sparse indexes")
    with pytest.raises(ApiError) as exc:
        index.query(vector=[0.5, 0.5], top_k=1)
    assert_400(exc, "Dense vectors are not supported for sparse indexes")
    assert index.describe_index_stats().total_vector_count == 1


BAD_SPARSE = [
    ({"indices": [], "values": []}, "Sparse vector 'x' must have at least one value"),
    ({"indices": [1, 1], "values": [1.0, 2.0]}, "Sparse vector indices must be unique"),
    (sp({-1: 1.0}), "Sparse vector indices must be unsigned 32-bit integers"),
    (sp({2**32: 1.0}), "Sparse vector indices must be unsigned 32-bit integers"),
    (
        sp({i: 1.0 for i in range(2049)}),
        "Sparse vector has 2049 non-zero values, the maximum is 2048",
    ),
]


@pytest.mark.parametrize(("values", "message"), BAD_SPARSE)
def test_bad_sparse_values(sparse: tuple[str, Any], values: Any, message: str) -> None:
    _, index = sparse
    with pytest.raises(ApiError) as exc:
        index.upsert(vectors=[{"id": "x", "sparse_values": values}])
    assert_400(exc, message)
    assert index.describe_index_stats().total_vector_count == 0


def test_max_non_zeros_is_accepted(sparse: tuple[str, Any]) -> None:
    _, index = sparse
    index.upsert(vectors=[{"id": "x", "sparse_values": sp({i: 0.5 for i in range(2048)})}])
    result = index.query(sparse_vector=sp({i: 1.0 for i in range(2048)}), top_k=1)
    assert ranked(result) == [("x", 1024.0)]


def test_shapes_the_sdk_refuses_are_refused_by_the_server(sparse: tuple[str, Any]) -> None:
    """Raw REST: what the SDK catches client-side gets a 400 from the server too."""
    _, index = sparse
    host = index.host
    for vector, message in (
        ({"id": "x"}, "Sparse vector 'x' must have sparse values"),
        ({"id": "x", "values": []}, "Sparse vector 'x' must have sparse values"),
        (
            {"id": "x", "sparseValues": {"indices": [1, 2], "values": [1.0]}},
            "Sparse vector indices and values must have the same length, got 2 indices and "
            "1 values",
        ),
    ):
        response = httpx.post(f"{host}/vectors/upsert", headers=H, json={"vectors": [vector]})
        assert response.status_code == 400
        assert response.json()["message"] == message


@pytest.fixture
def hybrid(pc: Pinecone) -> Iterator[Any]:
    name = unique("hybrid")
    index = make_index(pc, name, dimension=2, metric="dotproduct")
    index.upsert(
        vectors=[
            {"id": "a", "values": [1.0, 0.0], "sparse_values": sp({3: 2.0})},
            {"id": "b", "values": [0.0, 1.0], "sparse_values": sp({3: 0.5, 4: 1.0})},
            {"id": "c", "values": [0.5, 0.5]},
        ]
    )
    yield index
    pc.delete_index(name)


def test_hybrid_scores_are_dense_plus_sparse(hybrid: Any) -> None:
    q = sp({3: 1.0})
    assert ranked(hybrid.query(vector=[1.0, 1.0], sparse_vector=q, top_k=3)) == [
        ("a", 3.0),
        ("b", 1.5),
        ("c", 1.0),
    ]
    # The client scales by alpha; the server just adds the two scores.
    weighted = hybrid.query(vector=[0.25, 0.25], sparse_vector=sp({3: 0.75}), top_k=3)
    assert ranked(weighted) == [("a", 1.75), ("b", 0.625), ("c", 0.25)]
    assert ranked(hybrid.query(vector=[0.0, 1.0], top_k=2)) == [("b", 1.0), ("c", 0.5)]
    assert ranked(hybrid.query(sparse_vector=sp({4: 1.0, 3: 1.0}), top_k=3)) == [
        ("a", 2.0),
        ("b", 1.5),
    ]
    by_id = hybrid.query(id="b", top_k=2, include_values=True)
    assert ranked(by_id) == [("b", 2.25), ("a", 1.0)]
    assert by_id.matches[0].values == [0.0, 1.0]
    assert by_id.matches[0].sparse_values.indices == [3, 4]


def test_hybrid_fetch_update_and_refusals(hybrid: Any) -> None:
    got = hybrid.fetch(ids=["b", "c"]).vectors
    assert got["b"].values == [0.0, 1.0] and got["b"].sparse_values.values == [0.5, 1.0]
    assert got["c"].sparse_values is None
    hybrid.update(id="c", sparse_values=sp({4: 2.0}))
    assert hybrid.fetch(ids=["c"]).vectors["c"].sparse_values.indices == [4]
    assert hybrid.fetch(ids=["c"]).vectors["c"].values == [0.5, 0.5]
    assert ranked(hybrid.query(sparse_vector=sp({4: 1.0}), top_k=3)) == [("c", 2.0), ("b", 1.0)]
    with pytest.raises(ApiError) as exc:
        hybrid.upsert(vectors=[{"id": "s", "sparse_values": sp({1: 1.0})}])
    assert_400(exc, "Vector dimension 0 does not match the dimension of the index 2")
    with pytest.raises(ApiError) as exc:
        hybrid.query(vector=[1.0], sparse_vector=sp({1: 1.0}), top_k=1)
    assert_400(exc, "Query vector dimension 1 does not match the dimension of the index 2")
    stats = hybrid.describe_index_stats()
    assert (stats.vector_type, stats.dimension, stats.total_vector_count) == ("dense", 2, 3)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_sparse_values_need_a_dotproduct_index(pc: Pinecone, metric: str) -> None:
    name = unique("cos")
    index = make_index(pc, name, dimension=2, metric=metric)
    try:
        with pytest.raises(ApiError) as exc:
            index.upsert(
                vectors=[
                    {"id": "b", "values": [0.0, 1.0]},
                    {"id": "a", "values": [1.0, 0.0], "sparse_values": sp({1: 1.0})},
                ]
            )
        assert_400(exc, SPARSE_NOT_SUPPORTED)
        assert index.describe_index_stats().total_vector_count == 0  # the batch is refused
        index.upsert(vectors=[{"id": "a", "values": [1.0, 0.0]}])
        with pytest.raises(ApiError) as exc:
            index.update(id="a", sparse_values=sp({1: 1.0}))
        assert_400(exc, SPARSE_NOT_SUPPORTED)
        assert index.fetch(ids=["a"]).vectors["a"].sparse_values is None
        with pytest.raises(ApiError) as exc:
            index.query(vector=[1.0, 0.0], sparse_vector=sp({1: 1.0}), top_k=1)
        assert_400(exc, SPARSE_NOT_SUPPORTED)
        with pytest.raises(ApiError) as exc:
            index.query(sparse_vector=sp({1: 1.0}), top_k=1)
        assert_400(exc, SPARSE_NOT_SUPPORTED)
        assert ranked(index.query(id="a", top_k=1)) == [
            ("a", 0.0 if metric == "euclidean" else 1.0)
        ]
    finally:
        pc.delete_index(name)


def test_hybrid_schema_declares_both_fields(pc: Pinecone) -> None:
    name = unique("both")
    fields = {
        "_values": {"type": "dense_vector", "dimension": 2, "metric": "dotproduct"},
        "_sparse_values": {"type": "sparse_vector"},
    }
    deployment = {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
    pc.indexes.create(name=name, schema={"fields": fields}, deployment=deployment)
    try:
        desc = pc.describe_index(name)
        assert {n: type(f).__name__ for n, f in desc.schema.fields.items()} == {
            "_values": "DenseVectorField",
            "_sparse_values": "SparseVectorField",
        }
        assert (desc.vector_type, desc.dimension, desc.metric) == ("dense", 2, "dotproduct")
        index = pc.Index(host=desc.host)
        index.upsert(vectors=[{"id": "a", "values": [1.0, 0.0], "sparse_values": sp({1: 1.0})}])
        result = index.query(vector=[1.0, 0.0], sparse_vector=sp({1: 2.0}), top_k=1)
        assert ranked(result) == [("a", 3.0)]
    finally:
        pc.delete_index(name)
    cosine = {**fields, "_values": {**fields["_values"], "metric": "cosine"}}
    with pytest.raises(ApiError) as exc:
        pc.indexes.create(name=name, schema={"fields": cosine}, deployment=deployment)
    assert_400(exc, SPARSE_NOT_SUPPORTED)


def test_sparse_index_create_refusals(server: LiveServer) -> None:
    for body, message in (
        ({"dimension": 4}, "Sparse vector indexes must not have a dimension"),
        ({"metric": "cosine"}, "Sparse vector indexes must use the metric dotproduct"),
    ):
        response = httpx.post(
            f"{server.url}/indexes",
            headers=H | {"X-Pinecone-Api-Version": "2025-10"},
            json={
                "name": unique("bad-sparse"),
                "vector_type": "sparse",
                "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
                **body,
            },
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"] == message


def test_sparse_segments_survive_restart(tmp_path: Path) -> None:
    """Past the memtable: flushed segments with their inverted index, then a restart."""
    live = LiveServer(tmp_path / "data", extra=["--flush-rows", "4"])
    live.data_dir.mkdir(parents=True)
    live.start()
    try:
        pc = client(live)
        index = make_sparse(pc, "seg")
        docs = {f"d{i:02d}": {i % 5: 1.0 + i, 100 + i: 0.5} for i in range(23)}
        items = list(docs.items())
        for lo in range(0, len(items), 5):  # several flushes: several segments
            index.upsert(
                vectors=[{"id": id, "sparse_values": sp(s)} for id, s in items[lo : lo + 5]]
            )
        index.delete(ids=["d22"])
        q = sp({2: 1.0, 104: 2.0})
        want = [("d17", 18.0), ("d12", 13.0), ("d07", 8.0), ("d02", 3.0), ("d04", 1.0)]
        assert ranked(index.query(sparse_vector=q, top_k=5)) == want
        live.restart()
        # Several flushed segments, each with its inverted index on disk.
        assert len(list(live.data_dir.glob("**/segments/*/sparse.idx"))) >= 2
        index = client(live).Index(host=pc.describe_index("seg").host)
        assert ranked(index.query(sparse_vector=q, top_k=5)) == want
        assert index.describe_index_stats().total_vector_count == 22
    finally:
        live.stop()
