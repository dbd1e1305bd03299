"""Bad input gets Pinecone's status and error shape, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "Content-Type": "application/json"}
ZERO_VECTOR = "Dense vectors must contain at least one non-zero value"
SPARSE_NOT_SUPPORTED = (
    "Index configuration does not support sparse values - only indexes that are sparse "
    "or using dotproduct are supported"
)
SPARSE = {"indices": [1, 2], "values": [0.5, 0.25]}


@pytest.fixture
def host(server: LiveServer) -> Iterator[str]:
    pc = client(server)
    name = unique("bad")
    index = make_index(pc, name, dimension=3)
    index.upsert(vectors=[("keep", [1, 2, 3], {"a": 1})], namespace="ns")
    yield str(index.host)
    pc.delete_index(name)


def _snapshot(host: str) -> Any:
    stats = httpx.post(f"{host}/describe_index_stats", headers=H, json={}).json()
    fetched = httpx.get(
        f"{host}/vectors/fetch", headers=H, params={"ids": ["keep", "new"], "namespace": "ns"}
    ).json()
    return stats, fetched["vectors"]


def _assert_error(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert isinstance(body["code"], int)
    assert fragment in body["message"], body["message"]


def _upsert(vectors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"namespace": "ns", "vectors": vectors}


BAD_UPSERTS = [
    (_upsert([{"id": "new", "values": [1, 2]}]), "does not match the dimension of the index 3"),
    (
        _upsert([{"id": "new", "values": [1, 2, 3]}, {"id": "x", "values": [1]}]),
        "Vector dimension 1",
    ),
    (_upsert([{"id": "new", "values": [1, "a", 3]}]), "list of numbers"),
    (_upsert([{"id": "new", "values": [1, 2, 1e39]}]), "finite"),
    (_upsert([{"id": "", "values": [1, 2, 3]}]), "must not be empty"),
    (_upsert([{"id": "n" * 513, "values": [1, 2, 3]}]), "at most 512"),
    (
        _upsert([{"id": "new", "values": [1, 2, 3], "metadata": {"big": "x" * 41_000}}]),
        "exceeds the limit of 40960 bytes",
    ),
    (_upsert([{"id": "new", "values": [1, 2, 3], "metadata": {"n": None}}]), "got null"),
    (_upsert([{"id": "new", "values": [1, 2, 3], "metadata": {"d": {"x": 1}}}]), "got dict"),
    (_upsert([{"id": f"v{i}", "values": [1, 2, 3]} for i in range(1001)]), "maximum"),
    (_upsert([]), "No vectors"),
    # JSON booleans are not numbers (Python's bool is an int, numpy takes it as 1.0).
    (
        _upsert([{"id": "new", "values": [1, 2, 3]}, {"id": "x", "values": [0.5, True, 3]}]),
        "vectors[1].values[1]: invalid type: boolean `true`, expected a number",
    ),
    (
        _upsert([{"id": "new", "values": [False, 2, 3]}, {"id": "x", "values": [1]}]),
        "vectors[0].values[0]: invalid type: boolean `false`, expected a number",
    ),
    # A norm whose square overflows float32 would score inf or NaN (null in JSON).
    (
        _upsert([{"id": "new", "values": [1, 2, 3]}, {"id": "x", "values": [1e20, 1e20, 1e20]}]),
        "Vector values are too large (vectors[1].values)",
    ),
    (_upsert([{"id": "new", "values": [0, 0, 0]}]), ZERO_VECTOR),
    (_upsert([{"id": "new", "values": [0.0, -0.0, 0]}]), ZERO_VECTOR),
    (
        _upsert([{"id": "new", "values": [1, 2, 3], "sparseValues": SPARSE}]),
        SPARSE_NOT_SUPPORTED,
    ),
]


@pytest.mark.parametrize(("body", "fragment"), BAD_UPSERTS)
def test_bad_upserts_change_nothing(host: str, body: dict[str, Any], fragment: str) -> None:
    before = _snapshot(host)
    _assert_error(httpx.post(f"{host}/vectors/upsert", headers=H, json=body), 400, fragment)
    assert _snapshot(host) == before


def test_malformed_json(host: str) -> None:
    before = _snapshot(host)
    for raw in (b"{not json", b'{"vectors": [{"id": "new", "values": [NaN, 1, 2]}]}', b"[1]"):
        response = httpx.post(f"{host}/vectors/upsert", headers=H, content=raw)
        assert response.status_code == 400
        assert response.json()["code"] == 3
    assert _snapshot(host) == before


def test_body_over_2mb(host: str) -> None:
    vectors = [{"id": f"v{i}", "values": [0.123456789] * 3, "pad": "x" * 3000} for i in range(800)]
    response = httpx.post(f"{host}/vectors/upsert", headers=H, json=_upsert(vectors))
    assert response.status_code == 413
    assert response.json()["message"] == (
        "Request size 3MB exceeds the maximum supported size of 2MB"
    )


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [
        ({"a": {"$gt": "x"}}, "$gt"),
        ({"a": {"$foo": 1}}, "$foo"),
        ({"a": {"$in": 1}}, "$in"),
        ({"$and": []}, "$and"),
        ({"a": None}, "a"),
        ("not a dict", "filter"),
    ],
)
def test_bad_filters(host: str, flt: Any, fragment: str) -> None:
    before = _snapshot(host)
    query = {"namespace": "ns", "vector": [1, 2, 3], "topK": 1, "filter": flt}
    response = httpx.post(f"{host}/query", headers=H, json=query)
    _assert_error(response, 400, "")
    assert fragment.lower() in response.json()["message"].lower()
    delete = {"namespace": "ns", "filter": flt}
    _assert_error(httpx.post(f"{host}/vectors/delete", headers=H, json=delete), 400, "")
    assert _snapshot(host) == before


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"vector": [1, 2, 3], "topK": 0}, "between 1 and 10000"),
        ({"vector": [1, 2, 3], "topK": 10_001}, "between 1 and 10000"),
        ({"vector": [1, 2], "topK": 1}, "dimension"),
        ({"topK": 1}, "Exactly one"),
        ({"vector": [1, 2, 3], "id": "keep", "topK": 1}, "Exactly one"),
        (
            {"vector": [1, True, 3], "topK": 1},
            "vector[1]: invalid type: boolean `true`, expected a number",
        ),
        (
            {"vector": [1e20, 1e20, 1e20], "topK": 1},
            "Query vector values are too large (vector)",
        ),
        ({"vector": [1, 2, 3], "sparseVector": SPARSE, "topK": 1}, SPARSE_NOT_SUPPORTED),
        (
            {"vector": [1, 2, 3], "topK": 1, "filter": {"a": {"$in": list(range(10_001))}}},
            'Invalid value for $in operator on field "a": 10001 values given, the maximum is 10000',
        ),
        (
            {"vector": [1, 2, 3], "topK": 1, "filter": {"a": {"$nin": ["x"] * 10_001}}},
            "$nin operator",
        ),
    ],
)
def test_bad_queries(host: str, body: dict[str, Any], fragment: str) -> None:
    _assert_error(httpx.post(f"{host}/query", headers=H, json=body), 400, fragment)


def test_in_takes_10000_values(host: str) -> None:
    values: list[Any] = [*range(9_999), 1]
    for op, expected in (("$in", ["keep"]), ("$nin", [])):
        body = {"namespace": "ns", "vector": [1, 2, 3], "topK": 5, "filter": {"a": {op: values}}}
        response = httpx.post(f"{host}/query", headers=H, json=body)
        assert response.status_code == 200, response.text
        assert [m["id"] for m in response.json()["matches"]] == expected


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"id": "keep", "values": [1, 2, False]},
            "values[2]: invalid type: boolean `false`, expected a number",
        ),
        ({"id": "keep", "values": [0, 0, 0]}, ZERO_VECTOR),
        ({"id": "keep", "values": [1e20, 1, 1]}, "Vector values are too large (values)"),
        ({"id": "keep", "sparseValues": SPARSE}, SPARSE_NOT_SUPPORTED),
        (
            {"id": "keep", "filter": {"a": {"$in": ["x"] * 10_001}}},
            "the maximum is 10000",
        ),
    ],
)
def test_bad_updates_change_nothing(host: str, body: dict[str, Any], fragment: str) -> None:
    before = _snapshot(host)
    body = {"namespace": "ns", **body}
    if "filter" in body:
        body.pop("id")
        body["setMetadata"] = {"a": 2}
    response = httpx.post(f"{host}/vectors/update", headers=H, json=body)
    _assert_error(response, 400, fragment)
    assert _snapshot(host) == before


def test_top_k_10000_is_allowed(host: str) -> None:
    body = {"namespace": "ns", "vector": [1, 2, 3], "topK": 10_000}
    response = httpx.post(f"{host}/query", headers=H, json=body)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["matches"]] == ["keep"]


def test_unknown_index_and_missing_key(server: LiveServer, host: str) -> None:
    bogus = host.rsplit("/", 1)[0] + "/no-such-index"
    response = httpx.post(f"{bogus}/query", headers=H, json={"vector": [1, 2, 3], "topK": 1})
    _assert_error(response, 404, "no-such-index")
    before = _snapshot(host)
    response = httpx.post(
        f"{host}/vectors/upsert",
        headers={"Content-Type": "application/json"},
        json=_upsert([{"id": "new", "values": [1, 2, 3]}]),
    )
    assert response.status_code == 401
    response = httpx.post(
        f"{host}/vectors/upsert",
        headers={**H, "Api-Key": "not-a-key"},
        json=_upsert([{"id": "new", "values": [1, 2, 3]}]),
    )
    assert response.status_code == 401
    assert _snapshot(host) == before


def test_update_unknown_id_is_404(host: str) -> None:
    body = {"namespace": "ns", "id": "missing", "setMetadata": {"a": 2}}
    _assert_error(httpx.post(f"{host}/vectors/update", headers=H, json=body), 404, "missing")


def test_lsn_headers(host: str) -> None:
    body = _upsert([{"id": "new", "values": [1, 1, 1]}])
    first = httpx.post(f"{host}/vectors/upsert", headers=H, json=body)
    second = httpx.post(f"{host}/vectors/upsert", headers=H, json=body)
    lsn1 = int(first.headers["x-pinecone-request-lsn"])
    lsn2 = int(second.headers["x-pinecone-request-lsn"])
    assert lsn2 > lsn1
    query = httpx.post(
        f"{host}/query", headers=H, json={"namespace": "ns", "vector": [1, 1, 1], "topK": 1}
    )
    assert int(query.headers["x-pinecone-max-indexed-lsn"]) >= lsn2
    assert query.json()["matches"][0]["id"] == "new"
