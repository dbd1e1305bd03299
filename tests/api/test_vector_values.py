"""Vector values the data plane refuses, scores that stay finite, and float32 values
written back in JSON as the shortest decimal, through both SDK clients and raw HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import ApiError

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

H = {"Api-Key": API_KEY, "Content-Type": "application/json"}
ZERO_VECTOR = "Dense vectors must contain at least one non-zero value"
TOO_LARGE = "values are too large"
BIG = 3e18  # four of them: a sum of squares of 3.6e37, under the limit of 2^125
HUGE = 1e20  # four of them: 4e40, past float32's 3.4e38


@pytest.fixture(params=["rest", "grpc"])
def pc(server: LiveServer, request: pytest.FixtureRequest) -> Any:
    return client(server) if request.param == "rest" else grpc_client(server)


def _index(pc: Any, metric: str, dimension: int = 4) -> Any:
    name = unique(f"val-{metric[:3]}")
    return name, make_index(pc, name, dimension=dimension, metric=metric)


def _assert_400(exc: pytest.ExceptionInfo[ApiError], fragment: str) -> None:
    assert exc.value.status_code == 400
    assert fragment in str(exc.value.message), exc.value.message


# Per metric: the query [BIG] * 4 against each record, best first, and the exact score
# (as float32 arithmetic gives it; float(np.float32(x)) is what either client reads).
_F = np.float32
EXPECTED = {
    "cosine": [("big", 1.0), ("unit", 0.5), ("neg", -1.0)],
    "dotproduct": [
        ("big", float(_F(4) * _F(BIG) * _F(BIG))),
        ("unit", float(_F(BIG))),
        ("neg", float(-_F(4) * _F(BIG) * _F(BIG))),
    ],
    "euclidean": [
        ("big", 0.0),
        ("unit", float((_F(BIG) - _F(1)) ** 2 + _F(3) * _F(BIG) * _F(BIG))),
        ("neg", float(_F(4) * (_F(2) * _F(BIG)) ** 2)),
    ],
}


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_scores_stay_finite(pc: Any, metric: str) -> None:
    name, index = _index(pc, metric)
    try:
        # A sum of squares past float32 would score inf or NaN: refused, the batch whole.
        with pytest.raises(ApiError) as exc:
            index.upsert(vectors=[("unit", [1, 0, 0, 0]), ("huge", [HUGE] * 4)])
        _assert_400(exc, f"Vector {TOO_LARGE} (vectors[1].values)")
        with pytest.raises(ApiError) as exc:
            index.upsert(vectors=[("huge", [2 * BIG] * 4)])  # 1.44e38: over 2^125
        _assert_400(exc, TOO_LARGE)
        assert index.describe_index_stats().total_vector_count == 0
        index.upsert(vectors=[("big", [BIG] * 4), ("unit", [1, 0, 0, 0]), ("neg", [-BIG] * 4)])
        with pytest.raises(ApiError) as exc:
            index.query(vector=[HUGE] * 4, top_k=3)
        _assert_400(exc, f"Query vector {TOO_LARGE} (vector)")
        with pytest.raises(ApiError) as exc:
            index.update(id="unit", values=[HUGE, 0, 0, 0])
        _assert_400(exc, TOO_LARGE)
        for query in ([BIG] * 4, [1, 1, 1, 1], [-BIG] * 4, [1e-30] * 4):
            scores = [m.score for m in index.query(vector=query, top_k=3).matches]
            assert len(scores) == 3 and all(math.isfinite(s) for s in scores), (query, scores)
        result = index.query(vector=[BIG] * 4, top_k=3)
        got = [(m.id, float(np.float32(m.score))) for m in result.matches]
        assert got == EXPECTED[metric]
    finally:
        pc.delete_index(name)


def test_zero_vectors(pc: Any) -> None:
    name, index = _index(pc, "cosine")
    try:
        with pytest.raises(ApiError) as exc:
            index.upsert(vectors=[("a", [1, 0, 0, 0]), ("zero", [0, 0, 0, 0])])
        _assert_400(exc, ZERO_VECTOR)
        assert index.describe_index_stats().total_vector_count == 0
        index.upsert(vectors=[("a", [1, 0, 0, 0]), ("b", [0, 1, 0, 0])])
        with pytest.raises(ApiError) as exc:
            index.update(id="a", values=[0, 0, 0, 0])
        _assert_400(exc, ZERO_VECTOR)
        assert list(index.fetch(ids=["a"]).vectors["a"].values) == [1.0, 0.0, 0.0, 0.0]
        # A zero query vector (llama-index's get_nodes sends one) still answers.
        result = index.query(vector=[0.0] * 4, top_k=2)
        assert [(m.id, m.score) for m in result.matches] == [("a", 0.0), ("b", 0.0)]
    finally:
        pc.delete_index(name)
    for metric in ("euclidean", "dotproduct"):
        name, index = _index(pc, metric)
        try:
            index.upsert(vectors=[("zero", [0, 0, 0, 0])])
            assert list(index.fetch(ids=["zero"]).vectors["zero"].values) == [0.0] * 4
        finally:
            pc.delete_index(name)


@pytest.fixture
def hybrid(server: LiveServer) -> Iterator[str]:
    pc = client(server)
    name, index = _index(pc, "dotproduct", dimension=2)
    index.upsert(
        vectors=[
            {"id": "keep", "values": [0.5, 0.4], "sparse_values": {"indices": [3], "values": [1]}}
        ]
    )
    yield str(index.host)
    pc.delete_index(name)


def _post(host: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{host}{path}", headers=H, json=body)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/vectors/upsert",
            {
                "vectors": [
                    {"id": "new", "values": [1, 2]},
                    {
                        "id": "x",
                        "values": [1, 2],
                        "sparseValues": {"indices": [1, 2], "values": [0.5, True]},
                    },
                ]
            },
            "vectors[1].sparseValues.values[1]: invalid type: boolean `true`, expected a number",
        ),
        (
            "/vectors/upsert",
            {
                "vectors": [
                    {
                        "id": "new",
                        "values": [1, 2],
                        "sparseValues": {"indices": [1], "values": [HUGE]},
                    }
                ]
            },
            "Sparse vector values are too large (vectors[0].sparseValues.values)",
        ),
        (
            "/vectors/update",
            {"id": "keep", "sparseValues": {"indices": [1], "values": [False]}},
            "sparseValues.values[0]: invalid type: boolean `false`, expected a number",
        ),
        (
            "/query",
            {"topK": 1, "vector": [1, 2], "sparseVector": {"indices": [1], "values": [True]}},
            "sparseVector.values[0]: invalid type: boolean `true`, expected a number",
        ),
        (
            "/query",
            {"topK": 1, "sparseVector": {"indices": [1, 2], "values": [HUGE, 1]}},
            "Sparse query vector values are too large (sparseVector.values)",
        ),
    ],
)
def test_bad_sparse_values(hybrid: str, path: str, body: dict[str, Any], message: str) -> None:
    before = _post(hybrid, "/vectors/fetch_by_metadata", {"filter": {"x": {"$exists": False}}})
    response = _post(hybrid, path, body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert (error["code"], error["details"]) == (3, [])
    assert error["message"].startswith(message), error["message"]
    after = _post(hybrid, "/vectors/fetch_by_metadata", {"filter": {"x": {"$exists": False}}})
    assert after.json()["vectors"] == before.json()["vectors"]


def test_float32_values_come_back_shortest(hybrid: str) -> None:
    """0.4 is stored as the float32 0.4000000059604645; JSON says 0.4, which reads back as
    the same float32 (and is what was sent)."""
    sparse = {"indices": [7, 2], "values": [0.1, 1 / 3]}
    body = {"vectors": [{"id": "a", "values": [0.5, 0.4], "sparseValues": sparse}]}
    assert _post(hybrid, "/vectors/upsert", body).status_code == 200
    fetched = httpx.get(f"{hybrid}/vectors/fetch", headers=H, params={"ids": ["a"]})
    assert '"values":[0.5,0.4]' in fetched.text
    assert fetched.json()["vectors"]["a"]["sparseValues"] == {
        "indices": [2, 7],
        "values": [0.33333334, 0.1],
    }
    by_metadata = _post(hybrid, "/vectors/fetch_by_metadata", {"filter": {"x": {"$ne": 1}}})
    assert by_metadata.json()["vectors"]["a"]["values"] == [0.5, 0.4]
    query = {"vector": [0.1, 0.0], "topK": 1, "includeValues": True}
    match = _post(hybrid, "/query", query).json()["matches"][0]
    # 0.5 * 0.1 in float32 is 0.05000000074505806 as a double; shortest, 0.05.
    assert match == {
        "id": "a",
        "score": 0.05,
        "values": [0.5, 0.4],
        "sparseValues": {"indices": [2, 7], "values": [0.33333334, 0.1]},
    }
    hybrid_query = {**query, "sparseVector": {"indices": [7], "values": [1.0]}}
    assert _post(hybrid, "/query", hybrid_query).json()["matches"][0]["score"] == 0.15


def test_search_scores_come_back_shortest(server: LiveServer) -> None:
    """records/search writes each ``_score`` (a float32) as its shortest decimal."""
    pc = client(server)
    name = unique("val-records")
    desc = pc.create_index_for_model(
        name=name,
        cloud="aws",
        region="us-east-1",
        embed={"model": "spruce-bm25-v0", "field_map": {"text": "body"}},
    )
    try:
        index = pc.Index(host=desc.host)
        texts = ["roasted coffee beans", "coffee with milk", "green tea leaves and coffee"]
        index.upsert_records(
            namespace="s", records=[{"_id": f"r{i}", "body": t} for i, t in enumerate(texts)]
        )
        body = {"query": {"top_k": 3, "inputs": {"text": "coffee beans"}}}
        response = _post(str(desc.host), "/records/namespaces/s/search", body)
        assert response.status_code == 200, response.text
        scores = [hit["_score"] for hit in response.json()["result"]["hits"]]
        assert len(scores) == 3
        assert [repr(s) for s in scores] == [str(np.float32(s)) for s in scores]
    finally:
        pc.delete_index(name)


def test_filter_lists_and_sparse_rules_on_both_protocols(pc: Any) -> None:
    name, index = _index(pc, "cosine")
    try:
        index.upsert(vectors=[("a", [1, 0, 0, 0], {"n": 3})])
        for op, expected in (("$in", ["a"]), ("$nin", [])):
            flt = {"n": {op: [*range(9_999), 3]}}
            result = index.query(vector=[1, 0, 0, 0], top_k=1, filter=flt)
            assert [m.id for m in result.matches] == expected
            with pytest.raises(ApiError) as exc:
                index.query(vector=[1, 0, 0, 0], top_k=1, filter={"n": {op: [*range(10_001)]}})
            _assert_400(exc, f'{op} operator on field "n": 10001 values given, the maximum')
        sparse = {"indices": [1], "values": [0.5]}
        with pytest.raises(ApiError) as exc:
            index.upsert(vectors=[{"id": "b", "values": [0, 1, 0, 0], "sparse_values": sparse}])
        _assert_400(exc, "Index configuration does not support sparse values")
        with pytest.raises(ApiError) as exc:
            index.update(id="a", sparse_values=sparse)
        _assert_400(exc, "Index configuration does not support sparse values")
        assert index.describe_index_stats().total_vector_count == 1
    finally:
        pc.delete_index(name)
