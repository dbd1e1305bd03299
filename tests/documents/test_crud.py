"""``index.documents`` CRUD through the real SDK against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pinecone import Pinecone
from pinecone.errors import ApiError

from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"}
SCHEMA = {
    "fields": {
        "emb": {"type": "dense_vector", "dimension": 3, "metric": "cosine"},
        "kw": {"type": "sparse_vector"},
        "title": {"type": "string", "full_text_search": {}},
    }
}


@pytest.fixture(scope="module")
def pc(server: LiveServer) -> Pinecone:
    return client(server)


def _create(pc: Pinecone, schema: dict[str, Any], prefix: str = "docs") -> Any:
    name = unique(prefix)
    pc.indexes.create(name=name, schema=schema)
    host = pc.indexes.describe(name).host
    index = pc.index(host=host)
    index.test_name, index.test_host = name, host
    return index


@pytest.fixture(scope="module")
def idx(pc: Pinecone) -> Iterator[Any]:
    index = _create(pc, SCHEMA)
    yield index
    pc.indexes.delete(index.test_name)


def _docs(response: Any) -> dict[str, dict[str, Any]]:
    return {k: v.to_dict() for k, v in response.documents.items()}


def test_upsert_then_fetch_returns_every_field(idx: Any) -> None:
    ns = unique("ns")
    r = idx.documents.upsert(
        namespace=ns,
        documents=[
            {"_id": "a", "emb": [1, 0, 0], "title": "hello world", "year": 2020, "tags": ["x"]},
            {"_id": "b", "emb": [0, 0.5, 0], "kw": {"indices": [1, 5], "values": [0.5, 0.25]}},
        ],
    )
    assert r.upserted_count == 2 and r.usage is None
    got = idx.documents.fetch(namespace=ns, ids=["b", "a", "missing"])
    assert _docs(got) == {
        "a": {
            "_id": "a",
            "emb": [1.0, 0.0, 0.0],
            "title": "hello world",
            "year": 2020,
            "tags": ["x"],
        },
        "b": {"_id": "b", "emb": [0.0, 0.5, 0.0], "kw": {"indices": [1, 5], "values": [0.5, 0.25]}},
    }
    assert got.namespace == ns
    only = idx.documents.fetch(namespace=ns, ids=["a"], include_fields=["title", "nope"])
    assert _docs(only) == {"a": {"_id": "a", "title": "hello world"}}
    every = idx.documents.fetch(namespace=ns, ids=["a"], include_fields=["*"])
    assert _docs(every) == {k: v for k, v in _docs(got).items() if k == "a"}


def test_upsert_replaces_the_whole_document(idx: Any) -> None:
    ns = unique("ns")
    idx.documents.upsert(namespace=ns, documents=[{"_id": "a", "emb": [1, 0, 0], "x": 1}])
    idx.documents.upsert(namespace=ns, documents=[{"_id": "a", "emb": [0, 1, 0], "y": 2}])
    assert _docs(idx.documents.fetch(namespace=ns, ids=["a"])) == {
        "a": {"_id": "a", "emb": [0.0, 1.0, 0.0], "y": 2}
    }


def test_fetch_by_filter_pages_in_id_order(idx: Any) -> None:
    ns = unique("ns")
    docs = [{"_id": f"d{i}", "emb": [1, i, 0], "n": i, "even": i % 2 == 0} for i in range(7)]
    idx.documents.upsert(namespace=ns, documents=docs)
    seen: list[str] = []
    token = None
    while True:
        page = idx.documents.fetch(
            namespace=ns, filter={"even": True}, limit=2, pagination_token=token
        )
        seen += list(page.documents)
        token = page.pagination.next if page.pagination is not None else None
        if token is None:
            break
    assert seen == ["d0", "d2", "d4", "d6"]
    rng = idx.documents.fetch(namespace=ns, filter={"n": {"$gte": 5}}, include_fields=["n"])
    assert _docs(rng) == {"d5": {"_id": "d5", "n": 5}, "d6": {"_id": "d6", "n": 6}}


def test_list_with_prefix_and_pagination(idx: Any) -> None:
    ns = unique("ns")
    ids = [f"doc-{i:02d}" for i in range(12)] + ["other"]
    idx.documents.upsert(namespace=ns, documents=[{"_id": i, "emb": [1, 0, 0]} for i in ids])
    assert [d.id for d in idx.documents.list(namespace=ns, prefix="doc-", limit=5)] == ids[:12]
    r = httpx.post(f"{idx.test_host}/namespaces/{ns}/documents/list", headers=H, json={"limit": 5})
    body = r.json()
    assert [d["_id"] for d in body["documents"]] == ids[:5]
    assert body["pagination"]["next"] and body["namespace"] == ns
    assert [d.id for d in idx.documents.list(namespace=unique("empty"))] == []


def test_update_is_partial(idx: Any) -> None:
    ns = unique("ns")
    idx.documents.upsert(
        namespace=ns,
        documents=[
            {"_id": "a", "emb": [1, 0, 0], "title": "t", "year": 2020, "tags": ["x"]},
            {"_id": "b", "emb": [0, 1, 0], "year": 1990},
            {"_id": "c", "emb": [0, 0, 1], "year": 1980},
        ],
    )
    r = idx.documents.update(
        namespace=ns,
        documents=[
            {"_id": "a", "year": 2021, "_remove_fields": ["tags"]},
            {"_id": "nobody", "year": 1},
        ],
    )
    assert r.matched_records is None
    r = idx.documents.update(
        namespace=ns,
        filter={"year": {"$lt": 2000}},
        set_fields={"old": True},
        remove_fields=["year"],
    )
    assert r.matched_records == 2
    assert _docs(idx.documents.fetch(namespace=ns, ids=["a", "b", "c", "nobody"])) == {
        "a": {"_id": "a", "emb": [1.0, 0.0, 0.0], "title": "t", "year": 2021},
        "b": {"_id": "b", "emb": [0.0, 1.0, 0.0], "old": True},
        "c": {"_id": "c", "emb": [0.0, 0.0, 1.0], "old": True},
    }
    r = idx.documents.update(namespace=ns, filter={"year": {"$gt": 5000}}, set_fields={"z": 1})
    assert r.matched_records == 0


def test_delete_by_ids_filter_and_all(idx: Any) -> None:
    ns = unique("ns")
    docs = [{"_id": f"d{i}", "emb": [1, 0, i], "n": i} for i in range(6)]
    idx.documents.upsert(namespace=ns, documents=docs)
    assert idx.documents.delete(namespace=ns, ids=["d0", "zz"]).matched_records is None
    assert idx.documents.delete(namespace=ns, filter={"n": {"$in": [1, 2, 9]}}).matched_records == 2
    assert [d.id for d in idx.documents.list(namespace=ns)] == ["d3", "d4", "d5"]
    idx.documents.delete(namespace=ns, delete_all=True)
    assert [d.id for d in idx.documents.list(namespace=ns)] == []
    idx.documents.delete(namespace=ns, delete_all=True)  # an absent namespace: no error


def test_namespaces_are_isolated(idx: Any) -> None:
    one, two = unique("ns"), unique("ns")
    idx.documents.upsert(namespace=one, documents=[{"_id": "a", "emb": [1, 0, 0], "w": 1}])
    idx.documents.upsert(namespace=two, documents=[{"_id": "a", "emb": [0, 1, 0], "w": 2}])
    assert _docs(idx.documents.fetch(namespace=one, ids=["a"]))["a"]["w"] == 1
    assert _docs(idx.documents.fetch(namespace=two, ids=["a"]))["a"]["w"] == 2
    # A namespace with characters that are not path-safe (the SDK percent-encodes them).
    odd = "a/b c%d"
    idx.documents.upsert(namespace=odd, documents=[{"_id": "x", "emb": [1, 1, 0]}])
    assert list(idx.documents.fetch(namespace=odd, ids=["x"]).documents) == ["x"]


def test_embed_fields_are_embedded_and_kept_on_partial_update(pc: Pinecone) -> None:
    schema = {
        "fields": {
            "body": {"type": "string", "embed": {}, "sparse_embed": {}},
            "secret": {"type": "string", "full_text_search": {}},
        }
    }
    idx = _create(pc, schema, "embedded")
    ns = "n"
    r = idx.documents.upsert(
        namespace=ns,
        documents=[{"_id": "a", "body": "the cat sat on the mat", "k": 1}],
    )
    assert r.upserted_count == 1 and r.usage is not None and r.usage.embed_total_tokens > 0
    assert _docs(idx.documents.fetch(namespace=ns, ids=["a"])) == {
        "a": {"_id": "a", "body": "the cat sat on the mat", "k": 1}
    }
    r = idx.documents.update(namespace=ns, documents=[{"_id": "a", "k": 2}])
    assert r.usage is None  # nothing re-embedded
    r = idx.documents.update(namespace=ns, documents=[{"_id": "a", "body": "dogs"}])
    assert r.usage is not None and r.usage.embed_total_tokens > 0
    assert _docs(idx.documents.fetch(namespace=ns, ids=["a"])) == {
        "a": {"_id": "a", "body": "dogs", "k": 2}
    }
    pc.indexes.delete(idx.test_name)


def test_text_that_is_not_stored_is_never_returned(pc: Pinecone) -> None:
    schema = {"fields": {"body": {"type": "string", "embed": {}, "store_text": False}}}
    idx = _create(pc, schema, "nostore")
    idx.documents.upsert(namespace="n", documents=[{"_id": "a", "body": "private", "k": 1}])
    assert _docs(idx.documents.fetch(namespace="n", ids=["a"])) == {"a": {"_id": "a", "k": 1}}
    with pytest.raises(ApiError) as exc:
        idx.documents.fetch(namespace="n", ids=["a"], include_fields=["body"])
    assert exc.value.status_code == 400 and "not stored" in str(exc.value)
    # A partial update keeps the vector of text it cannot re-read.
    idx.documents.update(namespace="n", documents=[{"_id": "a", "k": 2}])
    assert _docs(idx.documents.fetch(namespace="n", ids=["a"])) == {"a": {"_id": "a", "k": 2}}
    pc.indexes.delete(idx.test_name)


def test_full_text_fields_are_exempt_from_the_metadata_limit(idx: Any) -> None:
    ns = unique("ns")
    big = "word " * 20_000  # 100 KB of declared text
    idx.documents.upsert(namespace=ns, documents=[{"_id": "a", "emb": [1, 0, 0], "title": big}])
    assert _docs(idx.documents.fetch(namespace=ns, ids=["a"]))["a"]["title"] == big
    with pytest.raises(ApiError) as exc:
        idx.documents.upsert(
            namespace=ns, documents=[{"_id": "b", "emb": [1, 0, 0], "notes": "x" * 41_000}]
        )
    assert exc.value.status_code == 400 and "exceeds the limit of 40960 bytes" in str(exc.value)


def _post(idx: Any, ns: str, op: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{idx.test_host}/namespaces/{ns}/documents/{op}", headers=H, json=body)


E = [1, 0, 0]
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("upsert", {"documents": []}, "No documents provided"),
    ("upsert", {"documents": [{"_id": f"d{i}", "emb": E} for i in range(1001)]}, "maximum"),
    ("upsert", {"documents": [{"_id": "a", "title": "no vector"}]}, "required field 'emb'"),
    ("upsert", {"documents": [{"_id": "a", "emb": [1, 0]}]}, "dimension"),
    ("upsert", {"documents": [{"_id": "a", "emb": [0, 0, 0]}]}, "non-zero"),
    ("upsert", {"documents": [{"_id": "a", "emb": E, "title": 5}]}, "is a string field"),
    ("upsert", {"documents": [{"_id": "a", "emb": E, "kw": [1]}]}, "Sparse values"),
    ("upsert", {"documents": [{"_id": "a", "emb": E, "_rank": 1}]}, "is reserved"),
    ("upsert", {"documents": [{"_id": "a", "emb": E, "m": {"x": 1}}]}, "Metadata"),
    ("upsert", {"documents": [{"emb": E}]}, "ID must be a string"),
    ("fetch", {}, "Exactly one of ids and filter"),
    ("fetch", {"ids": ["a"], "filter": {"n": 1}}, "Exactly one of ids and filter"),
    ("fetch", {"filter": {"title": {"$eq": "x"}}}, "'title' is a search field"),
    ("fetch", {"filter": {"$and": [{"emb": {"$exists": True}}]}}, "'emb' is a search field"),
    ("fetch", {"ids": ["a"], "pagination_token": "x"}, "only with a filter"),
    ("fetch", {"filter": {}}, "must not be empty"),
    ("delete", {}, "Exactly one of ids, filter or delete_all"),
    ("delete", {"ids": ["a"], "delete_all": True}, "Exactly one of ids, filter or delete_all"),
    ("delete", {"filter": {"kw": {"$eq": 1}}}, "'kw' is a search field"),
    ("update", {}, "needs documents, or a filter"),
    ("update", {"filter": {"n": 1}}, "needs set_fields or remove_fields"),
    ("update", {"documents": [{"_id": "a"}], "filter": {"n": 1}}, "takes documents, or filter"),
    ("list", {"limit": 0}, "between 1 and 100"),
    ("list", {"limit": "5"}, "limit must be an integer"),
]


@pytest.mark.parametrize(("op", "body", "message"), BAD)
def test_bad_documents_requests_are_400s_and_change_nothing(
    idx: Any, op: str, body: dict[str, Any], message: str
) -> None:
    ns = unique("bad")
    idx.documents.upsert(namespace=ns, documents=[{"_id": "keep", "emb": [1, 1, 1], "n": 1}])
    r = _post(idx, ns, op, body)
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]
    assert _docs(idx.documents.fetch(namespace=ns, ids=["keep", "a"])) == {
        "keep": {"_id": "keep", "emb": [1.0, 1.0, 1.0], "n": 1}
    }


def test_a_vector_index_refuses_the_documents_api(pc: Pinecone, server: LiveServer) -> None:
    name = unique("vectors")
    pc.indexes.create(
        name=name, schema={"fields": {"_values": {"type": "dense_vector", "dimension": 2}}}
    )
    index = pc.index(host=pc.indexes.describe(name).host)
    with pytest.raises(ApiError) as exc:
        index.documents.upsert(namespace="n", documents=[{"_id": "a", "x": 1}])
    assert exc.value.status_code == 400 and "not a document index" in str(exc.value)
    pc.indexes.delete(name)


def test_documents_survive_restart_and_kill(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    idx = _create(pc, SCHEMA, "durable")
    name = idx.test_name
    docs = [{"_id": f"d{i}", "emb": [1, i, 0], "title": f"t{i}", "n": i} for i in range(20)]
    idx.documents.upsert(namespace="n", documents=docs)
    idx.documents.update(namespace="n", documents=[{"_id": "d3", "n": 33}])
    idx.documents.delete(namespace="n", ids=["d4"])
    expected = _docs(idx.documents.fetch(namespace="n", ids=[d["_id"] for d in docs]))
    assert len(expected) == 19 and expected["d3"]["n"] == 33
    fresh_server.kill()
    fresh_server.start()
    idx = client(fresh_server).index(host=pc.indexes.describe(name).host)
    assert _docs(idx.documents.fetch(namespace="n", ids=[d["_id"] for d in docs])) == expected
    fresh_server.restart()
    idx = client(fresh_server).index(host=pc.indexes.describe(name).host)
    assert _docs(idx.documents.fetch(namespace="n", ids=[d["_id"] for d in docs])) == expected


def test_batch_upsert_splits_and_writes_everything(idx: Any) -> None:
    ns = unique("batch")
    docs = [{"_id": f"b{i:04d}", "emb": [1, i, 0], "n": i} for i in range(2500)]
    result = idx.documents.batch_upsert(namespace=ns, documents=docs, batch_size=1000)
    assert result.successful_item_count == 2500 and not result.has_errors
    listed = [d.id for d in idx.documents.list(namespace=ns)]
    assert listed == [d["_id"] for d in docs]
    got = _docs(idx.documents.fetch(namespace=ns, ids=["b2499"]))
    assert got == {"b2499": {"_id": "b2499", "emb": [1.0, 2499.0, 0.0], "n": 2499}}
