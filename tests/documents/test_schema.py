"""Document index control plane through the real SDK: create, describe, list, configure."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pinecone import Pinecone
from pinecone.errors import ApiError
from pinecone.models.indexes.schema import (
    DenseVectorField,
    FieldEmbedConfig,
    FieldSparseEmbedConfig,
    FullTextSearchConfig,
    NgramConfig,
    SparseVectorField,
    StringField,
)
from pinecone.schema_builder import SchemaBuilder

from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"}
MINILM_READ = {"input_type": "query", "truncate": "END", "dimension": 384}
MINILM_WRITE = {"input_type": "passage", "truncate": "END", "dimension": 384}
BM25_READ = {"input_type": "query", "truncate": "END", "return_tokens": False}
BM25_WRITE = {"input_type": "passage", "truncate": "END", "return_tokens": False}
DEFAULT_FTS = {"language": "en", "stemming": False, "stop_words": False}


@pytest.fixture(scope="module")
def pc(server: LiveServer) -> Pinecone:
    return client(server)


def _raw(server: LiveServer, name: str) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/indexes/{name}", headers=H)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_create_describe_and_list_resolve_every_default(pc: Pinecone, server: LiveServer) -> None:
    name = unique("docs")
    schema = {
        "fields": {
            "title": {"type": "string", "full_text_search": {"language": "English"}},
            "body": {
                "type": "string",
                "full_text_search": {"stemming": True, "stop_words": True},
                "embed": {"model": "all-MiniLM-L6-v2"},
                "sparse_embed": {},
            },
            "sku": {
                "type": "string",
                "description": "product code",
                "full_text_search": {"ngram": {"min_gram": 2, "max_gram": 3}},
            },
        }
    }
    created = pc.indexes.create(name=name, schema=schema)
    assert created.status.ready
    fields = _raw(server, name)["schema"]["fields"]
    assert fields == {
        "title": {
            "type": "string",
            "description": None,
            "full_text_search": DEFAULT_FTS,
            "store_text": True,
        },
        "body": {
            "type": "string",
            "description": None,
            "full_text_search": {"language": "en", "stemming": True, "stop_words": True},
            "embed": {
                "model": "all-MiniLM-L6-v2",
                "dimension": 384,
                "metric": "cosine",
                "write_parameters": MINILM_WRITE,
                "read_parameters": MINILM_READ,
            },
            "sparse_embed": {
                "model": "spruce-bm25-v0",
                "write_parameters": BM25_WRITE,
                "read_parameters": BM25_READ,
            },
            "store_text": True,
        },
        "sku": {
            "type": "string",
            "description": "product code",
            "full_text_search": {
                **DEFAULT_FTS,
                "ngram": {"min_gram": 2, "max_gram": 3, "prefix_only": False},
            },
            "store_text": True,
        },
    }
    described = pc.indexes.describe(name)
    body = described.schema.fields["body"]
    assert isinstance(body, StringField)
    assert body.embed == FieldEmbedConfig(
        model="all-MiniLM-L6-v2",
        dimension=384,
        metric="cosine",
        write_parameters=MINILM_WRITE,
        read_parameters=MINILM_READ,
    )
    assert body.sparse_embed == FieldSparseEmbedConfig(
        model="spruce-bm25-v0", write_parameters=BM25_WRITE, read_parameters=BM25_READ
    )
    assert body.full_text_search == FullTextSearchConfig(
        language="en", stemming=True, stop_words=True
    )
    sku = described.schema.fields["sku"]
    assert isinstance(sku, StringField) and sku.full_text_search is not None
    assert sku.full_text_search.ngram == NgramConfig(min_gram=2, max_gram=3, prefix_only=False)
    assert described.dimension == 384 and described.metric == "cosine"
    listed = {i.name: i for i in pc.indexes.list()}
    assert listed[name].schema == described.schema
    pc.indexes.delete(name)


def test_schema_builder_output_is_accepted_as_is(pc: Pinecone, server: LiveServer) -> None:
    name = unique("built")
    schema = (
        SchemaBuilder()
        .add_dense_vector_field("emb", dimension=8, metric="DotProduct")
        .add_sparse_vector_field("kw")
        .add_string_field("title", language="german", stemming=True)
        .add_string_field("summary", embed=False, full_text_search=True)
        .build()
    )
    pc.indexes.create(name=name, schema=schema)
    fields = pc.indexes.describe(name).schema.fields
    assert fields["emb"] == DenseVectorField(dimension=8, metric="dotproduct")
    assert fields["kw"] == SparseVectorField()
    assert fields["title"] == StringField(
        full_text_search=FullTextSearchConfig(language="de", stemming=True, stop_words=False),
        store_text=True,
    )
    assert fields["summary"] == StringField(
        full_text_search=FullTextSearchConfig(language="en", stemming=False, stop_words=False),
        store_text=True,
    )
    assert set(_raw(server, name)["schema"]["fields"]) == {"emb", "kw", "title", "summary"}
    pc.indexes.delete(name)


def test_embed_only_field_without_stored_text_has_no_full_text(pc: Pinecone) -> None:
    name = unique("nostore")
    pc.indexes.create(
        name=name,
        schema={"fields": {"body": {"type": "string", "embed": {}, "store_text": False}}},
    )
    body = pc.indexes.describe(name).schema.fields["body"]
    assert isinstance(body, StringField)
    assert body.full_text_search is None and body.store_text is False
    # No alias of llama-text-embed-v2 on this server: the local dense model is the default.
    assert body.embed is not None and body.embed.model == "all-MiniLM-L6-v2"
    pc.indexes.delete(name)


def test_schema_cannot_change_after_creation(pc: Pinecone, server: LiveServer) -> None:
    name = unique("fixed")
    schema = {"fields": {"title": {"type": "string", "full_text_search": {}}}}
    pc.indexes.create(name=name, schema=schema)
    before = _raw(server, name)["schema"]
    for sent in (schema, before):  # even the schema as described is refused
        with pytest.raises(ApiError) as exc:
            pc.indexes.configure(name, schema=sent)
        assert exc.value.status_code == 400
        assert "cannot be changed" in str(exc.value)
    # Other settings still configure.
    pc.indexes.configure(name, tags={"team": "search"})
    after = _raw(server, name)
    assert after["schema"] == before and after["tags"] == {"team": "search"}
    pc.indexes.delete(name)


def test_document_schema_survives_a_restart(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    name = unique("durable")
    schema = {"fields": {"title": {"type": "string", "full_text_search": {"stemming": True}}}}
    pc.indexes.create(name=name, schema=schema)
    before = _raw(fresh_server, name)["schema"]
    fresh_server.restart()
    assert _raw(fresh_server, name)["schema"] == before
    # The per-index descriptor holds it too, so a lost catalog is rebuilt with it.
    fresh_server.stop()
    (fresh_server.data_dir / "catalog.sqlite3").unlink()
    for leftover in fresh_server.data_dir.glob("catalog.sqlite3-*"):
        leftover.unlink()
    fresh_server.start()
    assert _raw(fresh_server, name)["schema"] == before


def _string(**options: Any) -> dict[str, Any]:
    return {"fields": {"f": {"type": "string", **options}}}


FTS = {"full_text_search": {}}
BAD_SCHEMAS: list[tuple[dict[str, Any], str]] = [
    (
        {
            "fields": {
                "a": {"type": "dense_vector", "dimension": 4, "metric": "cosine"},
                "b": {"type": "dense_vector", "dimension": 4, "metric": "cosine"},
            }
        },
        "one dense vector slot",
    ),
    (
        {
            "fields": {
                "a": {"type": "dense_vector", "dimension": 384, "metric": "cosine"},
                "b": {"type": "string", "embed": {}},
            }
        },
        "one dense vector slot",
    ),
    (
        {
            "fields": {
                "a": {"type": "string", "embed": {}},
                "b": {"type": "string", "embed": {}},
            }
        },
        "one dense vector slot",
    ),
    (
        {"fields": {"a": {"type": "sparse_vector"}, "b": {"type": "sparse_vector"}}},
        "one sparse vector slot",
    ),
    (
        {"fields": {"a": {"type": "sparse_vector"}, "b": {"type": "string", "sparse_embed": {}}}},
        "one sparse vector slot",
    ),
    (
        _string(full_text_search={"ngram": {"min_gram": 2, "max_gram": 3}, "stemming": True}),
        "Field 'f': ngram cannot be combined with stemming or stop_words",
    ),
    (
        _string(
            full_text_search={
                "ngram": {"min_gram": 2, "max_gram": 3},
                "stemming": True,
                "stop_words": True,
            }
        ),
        "Field 'f': ngram cannot be combined with stemming or stop_words",
    ),
    (
        _string(full_text_search={"stop_words": True}),
        "Field 'f': stop_words requires stemming to be enabled",
    ),
    (
        _string(full_text_search={"stop_words": True, "stemming": True, "language": "ta"}),
        "Field 'f': stop_words is not supported for language 'ta'",
    ),
    (_string(full_text_search={"language": "klingon"}), "'klingon' is not supported"),
    (
        _string(full_text_search={"ngram": {"min_gram": 3, "max_gram": 2}}),
        "min_gram <= max_gram",
    ),
    (_string(full_text_search={"ngram": {"min_gram": 0, "max_gram": 2}}), "1 <= min_gram"),
    (_string(full_text_search={"ngram": {"min_gram": 1}}), "ngram.max_gram"),
    (_string(), "declares no search"),
    (_string(filterable=True), "declares no search"),
    (_string(filterable=True, **FTS), "searched or filtered, not both"),
    (_string(filterable=False, embed={}), "searched or filtered, not both"),
    (_string(store_text=False, **FTS), "store_text: false is only allowed"),
    (_string(store_text=False, embed={}, **FTS), "has no full-text search"),
    (_string(embed={"model": "llama-text-embed-v2"}), "hosted by Pinecone"),
    (_string(embed={"model": "spruce-bm25-v0"}), "is a sparse model"),
    (_string(sparse_embed={"model": "all-MiniLM-L6-v2"}), "is a dense model"),
    (_string(embed={"dimension": 512}), "produces 384-dimensional vectors"),
    (_string(embed={"metric": "manhattan"}), "expected one of cosine"),
    (_string(embed={"read_parameters": {"colour": "red"}}), "Unsupported parameters"),
    (_string(full_text_search={"stemming": "yes"}), "stemming: expected a boolean"),
    (_string(full_text_search={"casefold": False}), "unknown field `casefold`"),
    (
        {"fields": {"n": {"type": "float", "filterable": True}}},
        "only accepts fields used for search",
    ),
    ({"fields": {"n": {"type": "boolean"}}}, "only accepts fields used for search"),
    ({"fields": {"n": {"type": "string_list"}}}, "only accepts fields used for search"),
    ({"fields": {"n": {"type": "integer"}}}, "schema.fields.n.type"),
    ({"fields": {"n": {"type": "semantic_text", "model": "x"}}}, "response-only"),
    ({"fields": {"n": {"type": "geo_point"}}}, "expected one of dense_vector"),
    ({"fields": {"n": {"filterable": True}}}, "Missing required field schema.fields.n.type"),
    ({"fields": {"v": {"type": "dense_vector", "dimension": 0}}}, "between 1 and 20000"),
    ({"fields": {"v": {"type": "dense_vector", "dimension": 20001}}}, "between 1 and 20000"),
    ({"fields": {"v": {"type": "dense_vector"}}}, "schema.fields.v.dimension"),
    ({"fields": {"v": {"type": "dense_vector", "dimension": 4, "metric": "l1"}}}, "metric"),
    ({"fields": {"v": {"type": "sparse_vector", "metric": "dotproduct"}}}, "unknown field"),
    ({"fields": {"x" * 65: {"type": "sparse_vector"}}}, "at most 64 bytes"),
    ({"fields": {"_body": {"type": "string", **FTS}}}, "is reserved"),
    (
        {
            "fields": {
                "_values": {"type": "dense_vector", "dimension": 4},
                "t": {"type": "string", **FTS},
            }
        },
        "is reserved",
    ),
    ({"fields": {"s": {"type": "sparse_vector", "description": "d" * 257}}}, "256 bytes"),
    ({"fields": {}}, "at least one field"),
]


@pytest.mark.parametrize(("schema", "message"), BAD_SCHEMAS)
def test_bad_schema_is_a_400_and_nothing_is_created(
    server: LiveServer, schema: dict[str, Any], message: str
) -> None:
    name = unique("bad")
    r = httpx.post(f"{server.url}/indexes", headers=H, json={"name": name, "schema": schema})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"]["code"] == "INVALID_ARGUMENT"
    assert message in body["error"]["message"]
    assert httpx.get(f"{server.url}/indexes/{name}", headers=H).status_code == 404


def test_sdk_surfaces_the_servers_message(pc: Pinecone) -> None:
    with pytest.raises(ApiError) as exc:
        pc.indexes.create(
            name=unique("bad"),
            schema={
                "fields": {
                    "a": {"type": "string", "embed": {}},
                    "b": {"type": "string", "embed": {}},
                }
            },
        )
    assert exc.value.status_code == 400 and "one dense vector slot" in str(exc.value)
