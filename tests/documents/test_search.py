"""``index.documents.search`` with vector clauses, through the real SDK, exact results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import DenseVectorQuery, EmbedQuery, Pinecone, SparseEmbedQuery, SparseVectorQuery
from pinecone.errors import ApiError

from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"}
DIM = 4
SCHEMA = {
    "fields": {
        "emb": {"type": "dense_vector", "dimension": DIM, "metric": "cosine"},
        "kw": {"type": "sparse_vector"},
        "title": {"type": "string", "full_text_search": {}},
    }
}
RNG = np.random.default_rng(7)
VECTORS = RNG.normal(size=(40, DIM)).astype(np.float32)
SPARSE = [
    ({"indices": [i % 5, 10 + i % 3], "values": [1.0 + i / 10, 0.5]} if i % 4 else None)
    for i in range(40)
]
DOCS = [
    {
        "_id": f"d{i:02d}",
        "emb": VECTORS[i].tolist(),
        "title": f"title {i}",
        "n": i,
        "group": "even" if i % 2 == 0 else "odd",
        **({"kw": SPARSE[i]} if SPARSE[i] else {}),
    }
    for i in range(40)
]


@pytest.fixture(scope="module")
def segmented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that flushes every 7 rows: the documents span memtable and segments."""
    live = LiveServer(tmp_path_factory.mktemp("search") / "data", extra=["--flush-rows", "7"])
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()


def _index(pc: Pinecone, schema: dict[str, Any]) -> Any:
    name = unique("search")
    pc.indexes.create(name=name, schema=schema)
    host = pc.indexes.describe(name).host
    index = pc.index(host=host)
    index.test_host = host
    return index


@pytest.fixture(scope="module", params=["memtable", "segments"])
def idx(request: pytest.FixtureRequest, server: LiveServer, segmented: LiveServer) -> Any:
    live = server if request.param == "memtable" else segmented
    index = _index(client(live), SCHEMA)
    for start in range(0, len(DOCS), 5):  # several writes: several segments
        index.documents.upsert(namespace="n", documents=DOCS[start : start + 5])
    return index


def _cosine(q: np.ndarray, rows: np.ndarray) -> np.ndarray:
    q32 = q.astype(np.float32)
    return (rows @ q32) / (np.linalg.norm(rows, axis=1) * np.linalg.norm(q32))


def _ids(response: Any) -> list[str]:
    return [m.id for m in response.matches]


def test_dense_vector_top_k_is_exact(idx: Any) -> None:
    q = RNG.normal(size=DIM).astype(np.float32)
    r = idx.documents.search(
        namespace="n", score_by=[DenseVectorQuery(field="emb", values=q.tolist())], top_k=5
    )
    scores = _cosine(q, VECTORS)
    order = sorted(range(40), key=lambda i: (-scores[i], i))[:5]
    assert _ids(r) == [f"d{i:02d}" for i in order]
    for m, i in zip(r.matches, order, strict=True):
        assert m.score == pytest.approx(float(scores[i]), abs=1e-5)
        assert m.to_dict() == {"_id": f"d{i:02d}", "_score": m.score}  # no fields by default


def test_filter_and_include_fields(idx: Any) -> None:
    q = VECTORS[3]
    r = idx.documents.search(
        namespace="n",
        score_by=[{"type": "dense_vector", "field": "emb", "values": q.tolist()}],
        top_k=3,
        filter={"group": "odd", "n": {"$lt": 20}},
        include_fields=["title", "n"],
    )
    scores = _cosine(q, VECTORS)
    allowed = [i for i in range(40) if i % 2 == 1 and i < 20]
    order = sorted(allowed, key=lambda i: (-scores[i], i))[:3]
    assert order[0] == 3
    assert [m.to_dict() for m in r.matches] == [
        {"_id": f"d{i:02d}", "_score": m.score, "title": f"title {i}", "n": i}
        for m, i in zip(r.matches, order, strict=True)
    ]
    every = idx.documents.search(
        namespace="n",
        score_by=[DenseVectorQuery(field="emb", values=q.tolist())],
        top_k=1,
        include_fields=["*"],
    )
    doc = every.matches[0].to_dict()
    assert doc["_id"] == "d03" and doc["title"] == "title 3" and doc["group"] == "odd"
    assert doc["emb"] == pytest.approx(VECTORS[3].tolist())
    assert doc["kw"] == {"indices": [3, 10], "values": pytest.approx([1.3, 0.5])}


def test_sparse_vector_scores_by_dot_product_and_matches_only_shared_terms(idx: Any) -> None:
    query = {"indices": [1, 11], "values": [2.0, 1.0]}
    r = idx.documents.search(
        namespace="n",
        score_by=[SparseVectorQuery(field="kw", sparse_values=query)],
        top_k=40,
    )
    expected: dict[str, float] = {}
    for i, sv in enumerate(SPARSE):
        if sv is None:
            continue
        terms = dict(zip(sv["indices"], sv["values"], strict=True))
        s = 2.0 * terms.get(1, 0.0) + 1.0 * terms.get(11, 0.0)
        if s:
            expected[f"d{i:02d}"] = float(
                np.float32(terms.get(1, 0.0)) * 2 + np.float32(terms.get(11, 0.0))
            )
    order = sorted(expected, key=lambda k: (-expected[k], k))
    assert len(order) > 10 and len(order) < 30  # some documents share no term
    assert _ids(r) == order
    for m in r.matches:
        assert m.score == pytest.approx(expected[m.id], abs=1e-5)


def test_search_of_an_absent_namespace_is_empty(idx: Any) -> None:
    r = idx.documents.search(
        namespace=unique("none"),
        score_by=[DenseVectorQuery(field="emb", values=[1, 0, 0, 0])],
        top_k=3,
    )
    assert r.matches == []


def test_read_your_writes_and_deletes_are_masked(idx: Any) -> None:
    ns = unique("ryw")
    q = [0.0, 0.0, 0.0, 1.0]
    idx.documents.upsert(
        namespace=ns, documents=[{"_id": "x", "emb": q}, {"_id": "y", "emb": [1, 0, 0, 0]}]
    )
    clause = [DenseVectorQuery(field="emb", values=q)]
    assert _ids(idx.documents.search(namespace=ns, score_by=clause, top_k=2)) == ["x", "y"]
    idx.documents.delete(namespace=ns, ids=["x"])
    assert _ids(idx.documents.search(namespace=ns, score_by=clause, top_k=2)) == ["y"]
    idx.documents.update(namespace=ns, documents=[{"_id": "y", "emb": [0, 0, 1, 1]}])
    r = idx.documents.search(namespace=ns, score_by=clause, top_k=1)
    assert r.matches[0].score == pytest.approx(float(np.float32(1 / np.sqrt(2))), abs=1e-6)


def test_embed_and_sparse_embed_clauses(server: LiveServer) -> None:
    pc = client(server)
    schema = {"fields": {"body": {"type": "string", "embed": {}, "sparse_embed": {}}}}
    idx = _index(pc, schema)
    texts = {
        "cat": "the cat sat on the mat",
        "car": "a fast red car on the highway",
        "soup": "tomato soup with basil",
    }
    idx.documents.upsert(namespace="n", documents=[{"_id": k, "body": v} for k, v in texts.items()])
    r = idx.documents.search(
        namespace="n", score_by=[EmbedQuery(field="body", query="kitten on a rug")], top_k=3
    )
    assert _ids(r)[0] == "cat" and len(r.matches) == 3
    assert r.usage is not None and r.usage.embed_total_tokens and r.usage.embed_total_tokens > 0
    # The scores are the model's cosine similarities, computed here independently.
    embedded = pc.inference.embed(
        model="all-MiniLM-L6-v2",
        inputs=[texts[m.id] for m in r.matches] + ["kitten on a rug"],
        parameters={"input_type": "passage"},
    )
    vecs = np.array([e.values for e in embedded.data], dtype=np.float32)
    q = np.array(
        pc.inference.embed(
            model="all-MiniLM-L6-v2", inputs=["kitten on a rug"], parameters={"input_type": "query"}
        )
        .data[0]
        .values,
        dtype=np.float32,
    )
    for m, row in zip(r.matches, vecs[:3], strict=True):
        assert m.score == pytest.approx(float(_cosine(q, row[None, :])[0]), abs=1e-4)
    r = idx.documents.search(
        namespace="n",
        score_by=[SparseEmbedQuery(field="body", query="red car")],
        top_k=3,
        include_fields=["body"],
    )
    assert [m.to_dict()["body"] for m in r.matches] == [texts["car"]]
    nothing = idx.documents.search(
        namespace="n", score_by=[SparseEmbedQuery(field="body", query="zzzqqq")], top_k=3
    )
    assert nothing.matches == []


BAD: list[tuple[dict[str, Any], str, int]] = [
    ({"score_by": [], "top_k": 1}, "non-empty list", 400),
    (
        {"score_by": [{"type": "dense_vector", "field": "emb", "values": [1, 0, 0, 0]}]},
        "top_k",
        400,
    ),
    (
        {
            "score_by": [{"type": "dense_vector", "field": "emb", "values": [1, 0, 0, 0]}],
            "top_k": 0,
        },
        "between 1 and 10000",
        400,
    ),
    (
        {"score_by": [{"type": "dense_vector", "field": "emb", "values": [1, 0]}], "top_k": 1},
        "dimension",
        400,
    ),
    (
        {"score_by": [{"type": "dense_vector", "field": "kw", "values": [1, 0, 0, 0]}], "top_k": 1},
        "not a dense_vector field",
        400,
    ),
    (
        {
            "score_by": [
                {
                    "type": "sparse_vector",
                    "field": "emb",
                    "sparse_values": {"indices": [1], "values": [1]},
                }
            ],
            "top_k": 1,
        },
        "not a sparse_vector field",
        400,
    ),
    (
        {"score_by": [{"type": "embed", "field": "title", "query": "x"}], "top_k": 1},
        "not a string field with embed",
        400,
    ),
    (
        {
            "score_by": [{"type": "dense_vector", "field": "nope", "values": [1, 0, 0, 0]}],
            "top_k": 1,
        },
        "one field of the schema",
        400,
    ),
    ({"score_by": [{"type": "bm42"}], "top_k": 1}, "score_by[0].type", 400),
    (
        {
            "score_by": [
                {"type": "dense_vector", "field": "emb", "values": [1, 0, 0, 0]},
                {"type": "text", "fields": ["title"], "query": "x"},
            ],
            "top_k": 1,
        },
        "must stand alone",
        400,
    ),
    (
        {
            "score_by": [{"type": "dense_vector", "field": "emb", "values": [1, 0, 0, 0]}],
            "top_k": 1,
            "filter": {"title": "x"},
        },
        "'title' is a search field",
        400,
    ),
    (
        {"score_by": [{"type": "text", "fields": ["emb"], "query": "x"}], "top_k": 1},
        "not a full-text search field",
        400,
    ),
]


@pytest.mark.parametrize(("body", "message", "status"), BAD)
def test_bad_search_is_refused(idx: Any, body: dict[str, Any], message: str, status: int) -> None:
    r = httpx.post(f"{idx.test_host}/namespaces/n/documents/search", headers=H, json=body)
    assert r.status_code == status, r.text
    assert message in r.json()["message"]


def test_sdk_reports_a_bad_search(idx: Any) -> None:
    with pytest.raises(ApiError) as exc:
        idx.documents.search(
            namespace="n", score_by=[DenseVectorQuery(field="kw", values=[1, 0, 0, 0])], top_k=1
        )
    assert exc.value.status_code == 400


def test_search_after_compaction_and_restart(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra=["--flush-rows", "5"])
    live.data_dir.mkdir(parents=True)
    live.start()
    try:
        pc = client(live)
        idx = _index(pc, SCHEMA)
        for d in DOCS:  # one write per document: many small segments to compact
            idx.documents.upsert(namespace="n", documents=[d])
        q = VECTORS[11]
        clause = [DenseVectorQuery(field="emb", values=q.tolist())]
        before = [
            (m.id, m.score)
            for m in idx.documents.search(namespace="n", score_by=clause, top_k=10).matches
        ]
        live.restart()
        idx = client(live).index(host=idx.test_host)
        after = [
            (m.id, m.score)
            for m in idx.documents.search(namespace="n", score_by=clause, top_k=10).matches
        ]
        assert after == before and before[0][0] == "d11"
    finally:
        live.stop()
