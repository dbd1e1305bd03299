"""Integrated embedding and inference through the official SDK, against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import Pinecone
from pinecone.errors import ApiError, NotFoundError

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.embeddings.reference import SENTENCES, reference_embeddings

CATEGORIES = {
    "eiffel": "travel",
    "photosynthesis": "science",
    "inflation": "finance",
    "volcano": "science",
    "python": "tech",
    "marathon": "sport",
    "coffee": "food",
    "whales": "science",
}


@pytest.fixture(scope="module")
def pc(server: LiveServer) -> Pinecone:
    return client(server)


@pytest.fixture(scope="module")
def books(pc: Pinecone) -> Any:
    """A dense integrated index holding the real sentences in namespace "facts"."""
    name = unique("books")
    pc.create_index_for_model(
        name=name,
        cloud="aws",
        region="us-east-1",
        embed={"model": "all-MiniLM-L6-v2", "field_map": {"text": "chunk_text"}},
    )
    index = pc.Index(host=pc.describe_index(name).host)
    index.upsert_records(
        namespace="facts",
        records=[
            {"_id": key, "chunk_text": text, "category": CATEGORIES[key], "n": i}
            for i, (key, text) in enumerate(SENTENCES.items())
        ],
    )
    index.name = name
    return index


def test_create_for_model_describes_a_semantic_text_field(pc: Pinecone, books: Any) -> None:
    desc = pc.describe_index(books.name)
    assert desc.status.ready
    assert desc.to_dict()["schema"]["fields"] == {
        "chunk_text": {
            "type": "semantic_text",
            "model": "all-MiniLM-L6-v2",
            "metric": "cosine",
            "description": None,
            "read_parameters": {"input_type": "query", "truncate": "END", "dimension": 384},
            "write_parameters": {"input_type": "passage", "truncate": "END", "dimension": 384},
        },
        "_values": {
            "type": "dense_vector",
            "dimension": 384,
            "metric": "cosine",
            "description": None,
        },
    }
    # SDK 10 reads these from the schema's one vector field.
    assert (desc.dimension, desc.metric, desc.vector_type) == (384, "cosine", "dense")
    embed = desc.embed
    assert (embed.model, embed.metric, embed.field_map) == (
        "all-MiniLM-L6-v2",
        "cosine",
        {"text": "chunk_text"},
    )
    assert books.name in pc.list_indexes().names()


def test_2025_clients_read_a_top_level_embed(server: LiveServer, books: Any) -> None:
    body = httpx.get(
        f"{server.url}/indexes/{books.name}",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2025-10"},
    ).json()
    assert (body["dimension"], body["metric"], body["vector_type"]) == (384, "cosine", "dense")
    assert body["embed"] == {
        "model": "all-MiniLM-L6-v2",
        "metric": "cosine",
        "dimension": 384,
        "vector_type": "dense",
        "field_map": {"text": "chunk_text"},
        "read_parameters": {"input_type": "query", "truncate": "END", "dimension": 384},
        "write_parameters": {"input_type": "passage", "truncate": "END", "dimension": 384},
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("How do plants make food from light?", "photosynthesis"),
        ("Which animal is the biggest on Earth?", "whales"),
        ("a famous landmark in the French capital", "eiffel"),
        ("why do interest rates go up", "inflation"),
    ],
)
def test_text_search_finds_the_right_record(books: Any, query: str, expected: str) -> None:
    res = books.search(namespace="facts", top_k=3, inputs={"text": query})
    hits = res.result.hits
    assert len(hits) == 3 and hits[0].id == expected
    assert hits[0].fields == {
        "chunk_text": SENTENCES[expected],
        "category": CATEGORIES[expected],
        "n": list(SENTENCES).index(expected),
    }
    assert hits[0].score > hits[1].score >= hits[2].score
    assert res.usage.read_units >= 1 and res.usage.embed_total_tokens > 0
    assert res.usage.rerank_units is None


def test_stored_vectors_are_the_models_passage_embeddings(books: Any) -> None:
    fetched = books.fetch(ids=["coffee"], namespace="facts").vectors["coffee"]
    assert np.allclose(fetched.values, reference_embeddings([SENTENCES["coffee"]])[0], atol=1e-5)
    assert fetched.metadata["chunk_text"] == SENTENCES["coffee"]


def test_search_with_filter_and_fields(books: Any) -> None:
    res = books.search(
        namespace="facts",
        top_k=8,
        inputs={"text": "nature and living things"},
        filter={"category": {"$eq": "science"}},
        fields=["category"],
    )
    assert sorted(h.id for h in res.result.hits) == ["photosynthesis", "volcano", "whales"]
    assert all(h.fields == {"category": "science"} for h in res.result.hits)


def test_search_with_rerank(books: Any) -> None:
    res = books.search(
        namespace="facts",
        top_k=5,
        inputs={"text": "a long running race"},
        rerank={"model": "all-MiniLM-L6-v2-cosine", "rank_fields": ["chunk_text"], "top_n": 2},
        fields=["chunk_text"],
    )
    hits = res.result.hits
    assert len(hits) == 2 and hits[0].id == "marathon"
    ref = reference_embeddings(["a long running race", SENTENCES["marathon"]])
    assert hits[0].score == pytest.approx((1 + float(ref[0] @ ref[1])) / 2, abs=1e-5)
    assert res.usage.rerank_units == 1
    # rerank.query overrides the search text
    res = books.search(
        namespace="facts",
        top_k=8,
        inputs={"text": "science"},
        rerank={
            "model": "all-MiniLM-L6-v2-cosine",
            "rank_fields": ["chunk_text"],
            "query": "brewing a hot drink",
            "top_n": 1,
        },
    )
    assert [h.id for h in res.result.hits] == ["coffee"]


def test_search_by_vector_and_by_id(books: Any) -> None:
    vector = reference_embeddings(["Blue whales are huge"])[0].tolist()
    res = books.search(namespace="facts", top_k=1, vector=vector)
    assert [h.id for h in res.result.hits] == ["whales"]
    res = books.search(namespace="facts", top_k=2, id="volcano", fields=["category"])
    assert res.result.hits[0].id == "volcano"
    assert res.result.hits[0].score == pytest.approx(1.0, abs=1e-5)


def test_upsert_records_replaces_and_uses_the_default_namespace(books: Any) -> None:
    books.upsert_records(
        namespace="__default__",
        records=[{"id": "t1", "chunk_text": "Tea is brewed from leaves."}],
    )
    books.upsert_records(
        namespace="__default__",
        records=[{"_id": "t1", "chunk_text": "Chess is a board game for two players."}],
    )
    res = books.search(namespace="__default__", top_k=1, inputs={"text": "board games"})
    assert [(h.id, h.fields) for h in res.result.hits] == [
        ("t1", {"chunk_text": "Chess is a board game for two players."})
    ]
    assert books.describe_index_stats().namespaces["__default__"].vector_count == 1


def test_record_errors(pc: Pinecone, books: Any) -> None:
    with pytest.raises(ApiError, match="must have a string field 'chunk_text'"):
        books.upsert_records(namespace="facts", records=[{"_id": "x", "text": "wrong field"}])
    with pytest.raises(ApiError, match="must be a string, number, boolean or list of strings"):
        books.upsert_records(namespace="facts", records=[{"_id": "x", "chunk_text": "a", "o": {}}])
    too_many = [{"_id": str(i), "chunk_text": "a"} for i in range(97)]
    with pytest.raises(ApiError, match="the maximum per request for an index with integrated"):
        books.upsert_records(namespace="facts", records=too_many)
    with pytest.raises(
        ApiError, match="match_terms is supported only for sparse indexes with integrated"
    ):
        books.search(
            namespace="facts",
            top_k=1,
            inputs={"text": "x"},
            match_terms={"strategy": "all", "terms": ["x"]},
        )
    with pytest.raises(NotFoundError, match="Available reranking models"):
        books.search(
            namespace="facts",
            top_k=1,
            inputs={"text": "x"},
            rerank={"model": "bge-reranker-v2-m3", "rank_fields": ["chunk_text"]},
        )
    plain = make_index(pc, unique("plain"), dimension=4)
    with pytest.raises(ApiError, match="has no integrated embedding"):
        plain.upsert_records(namespace="ns", records=[{"_id": "a", "chunk_text": "hello"}])
    with pytest.raises(ApiError, match="has no integrated embedding"):
        plain.search(namespace="ns", top_k=1, inputs={"text": "hello"})


def test_create_for_model_refusals(pc: Pinecone) -> None:
    with pytest.raises(ApiError) as err:
        pc.create_index_for_model(
            name=unique("e5"),
            cloud="aws",
            region="us-east-1",
            embed={"model": "multilingual-e5-large", "field_map": {"text": "t"}},
        )
    assert err.value.status_code == 400
    assert "Available embedding models: all-MiniLM-L6-v2 (dense, 384-d)" in err.value.message
    with pytest.raises(ApiError, match="produces 384-dimensional vectors; got dimension 1024"):
        pc.create_index_for_model(
            name=unique("dim"),
            cloud="aws",
            region="us-east-1",
            embed={"model": "all-MiniLM-L6-v2", "field_map": {"text": "t"}, "dimension": 1024},
        )
    with pytest.raises(ApiError, match="supports the metrics dotproduct; got 'cosine'"):
        pc.create_index_for_model(
            name=unique("sp"),
            cloud="aws",
            region="us-east-1",
            embed={"model": "spruce-bm25-v0", "field_map": {"text": "t"}, "metric": "cosine"},
        )


def test_configure_semantic_text_parameters(pc: Pinecone, books: Any) -> None:
    desc = pc.indexes.configure(
        books.name,
        schema={
            "fields": {
                "chunk_text": {"type": "semantic_text", "read_parameters": {"truncate": "NONE"}}
            }
        },
    )
    assert desc.embed.read_parameters == {
        "input_type": "query",
        "truncate": "NONE",
        "dimension": 384,
    }
    with pytest.raises(ApiError, match="has 602 tokens, more than the 256"):
        books.search(namespace="facts", top_k=1, inputs={"text": "word " * 600})
    pc.indexes.configure(
        books.name,
        schema={"fields": {"chunk_text": {"type": "semantic_text", "read_parameters": {}}}},
    )
    assert pc.describe_index(books.name).embed.read_parameters["truncate"] == "END"
    with pytest.raises(ApiError, match="cannot be changed"):
        pc.indexes.configure(
            books.name,
            schema={"fields": {"chunk_text": {"type": "semantic_text", "model": "spruce-bm25-v0"}}},
        )
    with pytest.raises(ApiError, match="fields cannot be added or removed"):
        pc.indexes.configure(
            books.name,
            schema={"fields": {"other": {"type": "semantic_text", "model": "all-MiniLM-L6-v2"}}},
        )
    # The described schema (text field and vector field) can be sent back unchanged.
    described = pc.describe_index(books.name)
    again = pc.indexes.configure(books.name, schema=described.schema)
    assert again.to_dict()["schema"] == described.to_dict()["schema"]
    with pytest.raises(ApiError, match="fields cannot be added or removed"):
        pc.indexes.configure(
            books.name,
            schema={
                "fields": {
                    "chunk_text": {"type": "semantic_text"},
                    "_values": {"type": "dense_vector", "dimension": 8, "metric": "cosine"},
                }
            },
        )


def test_configure_embed_turns_a_fitting_index_integrated(server: LiveServer, pc: Pinecone) -> None:
    name = unique("convert")
    index = make_index(pc, name, dimension=384)
    url, headers = f"{server.url}/indexes/{name}", {"Api-Key": API_KEY}
    bad = httpx.patch(
        url,
        headers=headers,
        json={"embed": {"model": "spruce-bm25-v0", "field_map": {"text": "body"}}},
    )
    assert bad.status_code == 400 and "do not fit index" in bad.json()["error"]["message"]
    ok = httpx.patch(
        url,
        headers=headers,
        json={"embed": {"model": "all-MiniLM-L6-v2", "field_map": {"text": "body"}}},
    )
    assert ok.status_code == 200, ok.text
    # As in Pinecone's "Add a hosted embedding model" guide, the parameters show the dimension.
    assert ok.json()["embed"]["read_parameters"] == {
        "input_type": "query",
        "truncate": "END",
        "dimension": 384,
    }
    assert ok.json()["embed"]["write_parameters"] == {
        "input_type": "passage",
        "truncate": "END",
        "dimension": 384,
    }
    assert pc.describe_index(name).embed.field_map == {"text": "body"}
    index.upsert_records(namespace="n", records=[{"_id": "whales", "body": SENTENCES["whales"]}])
    hits = index.search(namespace="n", top_k=1, inputs={"text": "largest animal"}).result.hits
    assert [h.id for h in hits] == ["whales"]


def test_sparse_integrated_index(pc: Pinecone) -> None:
    name = unique("sparse-books")
    desc = pc.create_index_for_model(
        name=name,
        cloud="aws",
        region="us-east-1",
        embed={"model": "spruce-bm25-v0", "field_map": {"text": "body"}},
    )
    assert desc.to_dict()["schema"]["fields"]["body"]["metric"] == "dotproduct"
    assert "dimension" not in desc.to_dict()["schema"]["fields"]["body"]["read_parameters"]
    described = pc.describe_index(name)
    assert (described.dimension, described.metric, described.vector_type) == (
        None,
        "dotproduct",
        "sparse",
    )
    index = pc.Index(host=desc.host)
    index.upsert_records(
        namespace="s",
        records=[{"_id": k, "body": v, "category": CATEGORIES[k]} for k, v in SENTENCES.items()],
    )
    res = index.search(namespace="s", top_k=2, inputs={"text": "roasted coffee beans"})
    assert res.result.hits[0].id == "coffee"
    res = index.search(
        namespace="s",
        top_k=3,
        inputs={"text": "volcanoes and whales"},
        filter={"category": "science"},
        rerank={"model": "all-MiniLM-L6-v2-cosine", "rank_fields": ["body"]},
    )
    assert sorted(h.id for h in res.result.hits) == ["volcano", "whales"]
    assert index.search(namespace="s", top_k=2, inputs={"text": "the of and"}).result.hits == []
    with pytest.raises(ApiError, match="has no terms that spruce-bm25-v0 indexes"):
        index.upsert_records(namespace="s", records=[{"_id": "z", "body": "it is what it is"}])


DUCKS = {
    "d1": "Donald F. Duck is a funny animal character",
    "d2": "A duck is a funny animal",
    "d3": "The animal character Donald Duck was first drawn for a cartoon in 1934",
    "d4": "Mickey Mouse is an animal character",
}


def test_match_terms_on_a_sparse_integrated_index(pc: Pinecone) -> None:
    """Pinecone's example: terms ["animal", "CHARACTER", "donald Duck"] (strategy all)
    match "Donald F. Duck is a funny animal character", not "A duck is a funny animal"."""
    name = unique("ducks")
    desc = pc.create_index_for_model(
        name=name,
        cloud="aws",
        region="us-east-1",
        embed={"model": "spruce-bm25-v0", "field_map": {"text": "body"}},
    )
    index = pc.Index(host=desc.host)
    index.upsert_records(
        namespace="s",
        records=[
            {"_id": k, "body": v, "kind": "long" if k == "d3" else "short"}
            for k, v in DUCKS.items()
        ],
    )
    terms = {"strategy": "all", "terms": ["animal", "CHARACTER", "donald Duck"]}
    plain = index.search(namespace="s", top_k=10, inputs={"text": "funny duck animal"})
    assert sorted(h.id for h in plain.result.hits) == ["d1", "d2", "d3", "d4"]
    matched = index.search(
        namespace="s", top_k=10, inputs={"text": "funny duck animal"}, match_terms=terms
    )
    assert [h.id for h in matched.result.hits] == ["d1", "d3"]
    assert [h.score for h in matched.result.hits] == [
        h.score for h in plain.result.hits if h.id in ("d1", "d3")
    ]
    top1 = index.search(namespace="s", top_k=1, inputs={"text": "mouse animal"}, match_terms=terms)
    assert [h.id for h in top1.result.hits] == ["d1"]  # d4 ranks first without the terms
    with_filter = index.search(
        namespace="s",
        top_k=10,
        inputs={"text": "funny duck animal"},
        filter={"kind": "long"},
        match_terms=terms,
    )
    assert [h.id for h in with_filter.result.hits] == ["d3"]
    none = index.search(
        namespace="s",
        top_k=10,
        inputs={"text": "funny duck animal"},
        match_terms={"strategy": "all", "terms": ["ducks"]},  # whole tokens, not stems
    )
    assert none.result.hits == []
    with pytest.raises(ApiError, match="Unsupported match_terms strategy 'any'"):
        index.search(
            namespace="s",
            top_k=1,
            inputs={"text": "duck"},
            match_terms={"strategy": "any", "terms": ["duck"]},
        )
    pc.delete_index(name)


def test_inference_embed_matches_the_model(pc: Pinecone) -> None:
    texts = [SENTENCES["python"], SENTENCES["volcano"]]
    out = pc.inference.embed(
        model="all-MiniLM-L6-v2", inputs=texts, parameters={"input_type": "passage"}
    )
    assert (out.model, out.vector_type, len(out)) == ("all-MiniLM-L6-v2", "dense", 2)
    assert np.allclose([e.values for e in out], reference_embeddings(texts), atol=1e-5)
    assert out.usage.total_tokens > 10
    query = pc.inference.embed(
        model="all-MiniLM-L6-v2",
        inputs=texts[0],
        parameters={"input_type": "query", "truncate": "END"},
    )
    assert np.allclose(query[0].values, out[0].values, atol=1e-6)
    sparse = pc.inference.embed(
        model="spruce-bm25-v0",
        inputs=["Fast databases"],
        parameters={"input_type": "query", "return_tokens": True},
    )
    assert sparse.vector_type == "sparse"
    assert (sparse[0].sparse_indices, sparse[0].sparse_values, sparse[0].sparse_tokens) == (
        [13793848, 3212279116],
        [1.0, 1.0],
        ["fast", "database"],
    )
    with pytest.raises(NotFoundError, match="is hosted by Pinecone and cannot run"):
        pc.inference.embed(model="llama-text-embed-v2", inputs=["x"])
    with pytest.raises(ApiError, match="Unsupported parameters"):
        pc.inference.embed(model="all-MiniLM-L6-v2", inputs=["x"], parameters={"foo": 1})


def test_inference_rerank(pc: Pinecone) -> None:
    docs = [
        "Berlin is the capital of Germany.",
        "Paris is the capital and largest city of France.",
        "Bananas are rich in potassium.",
        "France borders Spain, Italy and Germany.",
    ]
    res = pc.inference.rerank(
        model="all-MiniLM-L6-v2-cosine", query="What is the capital of France?", documents=docs
    )
    assert res.model == "all-MiniLM-L6-v2-cosine" and res.usage.rerank_units == 1
    order = [r.index for r in res.data]
    assert order[0] == 1 and order[-1] == 2  # the Paris sentence first, bananas last
    ref = reference_embeddings(["What is the capital of France?", *docs])
    expected = (1 + ref[1:] @ ref[0]) / 2
    assert order == sorted(range(4), key=lambda i: -expected[i])
    assert np.allclose([r.score for r in res.data], expected[order], atol=1e-5)
    assert [r.document for r in res.data] == [{"text": docs[i]} for i in order]
    res = pc.inference.rerank(
        model="all-MiniLM-L6-v2-cosine",
        query="fruit nutrition",
        documents=[{"id": f"d{i}", "body": d} for i, d in enumerate(docs)],
        rank_fields=["body"],
        top_n=1,
        return_documents=False,
    )
    assert [(r.index, r.document) for r in res.data] == [(2, None)]
    with pytest.raises(ApiError, match="Document 0 has no field 'text' to rank on"):
        pc.inference.rerank(model="all-MiniLM-L6-v2-cosine", query="q", documents=[{"body": "x"}])
    with pytest.raises(NotFoundError, match="Available reranking models: all-MiniLM-L6-v2-cosine"):
        pc.inference.rerank(model="bge-reranker-v2-m3", query="q", documents=["x"])


def test_list_and_describe_models(pc: Pinecone) -> None:
    assert pc.inference.list_models().names() == [
        "all-MiniLM-L6-v2",
        "spruce-bm25-v0",
        "all-MiniLM-L6-v2-cosine",
    ]
    assert pc.inference.list_models(type="embed", vector_type="sparse").names() == [
        "spruce-bm25-v0"
    ]
    assert pc.inference.list_models(type="rerank").names() == ["all-MiniLM-L6-v2-cosine"]
    info = pc.inference.get_model(model="all-MiniLM-L6-v2")
    assert (info.type, info.vector_type, info.default_dimension, info.max_sequence_length) == (
        "embed",
        "dense",
        384,
        256,
    )
    assert {p.parameter: p.allowed_values for p in info.supported_parameters} == {
        "input_type": ["query", "passage"],
        "truncate": ["END", "NONE"],
        "dimension": [384],
    }
    with pytest.raises(NotFoundError):
        pc.inference.get_model(model="multilingual-e5-large")


@pytest.fixture
def aliased(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setenv("SPRUCE_MODEL_ALIASES", "pinecone-sparse-english-v0=spruce-bm25-v0")
    live = LiveServer(tmp_path / "data")
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()


def test_model_aliases_keep_pinecone_names_and_report_the_local_model(
    aliased: LiveServer,
) -> None:
    pc = client(aliased)
    names = pc.inference.list_models(type="embed", vector_type="sparse").names()
    assert names == ["spruce-bm25-v0", "pinecone-sparse-english-v0"]
    out = pc.inference.embed(
        model="pinecone-sparse-english-v0", inputs=["fast"], parameters={"input_type": "query"}
    )
    assert out.model == "spruce-bm25-v0" and out[0].sparse_indices == [13793848]
    desc = pc.create_index_for_model(
        name="aliased",
        cloud="aws",
        region="us-east-1",
        embed={"model": "pinecone-sparse-english-v0", "field_map": {"text": "t"}},
    )
    assert desc.embed.model == "spruce-bm25-v0"


def test_an_integrated_index_survives_a_restart(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    pc.create_index_for_model(
        name="kept",
        cloud="aws",
        region="us-east-1",
        embed={
            "model": "spruce-bm25-v0",
            "field_map": {"text": "body"},
            "read_parameters": {"truncate": "NONE"},
        },
    )
    index = pc.Index(host=pc.describe_index("kept").host)
    index.upsert_records(
        namespace="s", records=[{"_id": k, "body": v} for k, v in SENTENCES.items()]
    )
    fresh_server.restart()
    desc = pc.describe_index("kept")
    assert desc.embed.read_parameters == {"input_type": "query", "truncate": "NONE"}
    index = pc.Index(host=desc.host)
    hits = index.search(namespace="s", top_k=1, inputs={"text": "blue whales"}).result.hits
    assert [h.id for h in hits] == ["whales"]
