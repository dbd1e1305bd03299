"""The records API: upsert text records and search them, on integrated indexes.

A text record ``{"_id": ..., FIELD: "text", other fields...}`` is stored as a
vector record: the embedding of FIELD (the index's ``field_map.text``) as its
values, every field but ``_id`` (the text included) as its metadata, so
filters and ``fields`` work on them as on any metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spruce.catalog import IndexRow
from spruce.engine.read.terms import TermsAll, words
from spruce.errors import InvalidArgument
from spruce.service.data_plane import DataPlane
from spruce.service.inference import Inference, rank_text
from spruce.service.records import check_id, check_metadata

__all__ = ["Hit", "SearchResult", "TextRecords", "MAX_TEXT_RECORDS"]

#: Records per upsert_records request, as Pinecone allows for integrated indexes.
MAX_TEXT_RECORDS = 96


@dataclass
class Hit:
    id: str
    score: float
    fields: dict[str, Any]


@dataclass
class SearchResult:
    hits: list[Hit]
    read_units: int
    lsn: int
    embed_tokens: int | None = None
    rerank_units: int | None = None


def _embed_config(index: IndexRow) -> dict[str, Any]:
    config: dict[str, Any] | None = index.spec.get("embed")
    if not config:
        raise InvalidArgument(
            f"Index {index.name!r} has no integrated embedding: create it with "
            "create_index_for_model to upsert and search text, or use vectors"
        )
    return config


class TextRecords:
    def __init__(self, data: DataPlane, inference: Inference) -> None:
        self._data = data
        self._inference = inference

    def upsert(self, index: IndexRow, namespace: str, records: object) -> tuple[int, int]:
        """Validate every record, embed the batch, then write it as one upsert."""
        config = _embed_config(index)
        if not isinstance(records, list) or not records:
            raise InvalidArgument("No records provided for upsert")
        if len(records) > MAX_TEXT_RECORDS:
            raise InvalidArgument(
                f"Upsert request has {len(records)} records, the maximum per request for an "
                f"index with integrated embedding is {MAX_TEXT_RECORDS}"
            )
        text_field = config["field_map"]["text"]
        ids, texts, metadata = [], [], []
        for raw in records:
            if not isinstance(raw, Mapping):
                raise InvalidArgument("Each record must be a JSON object with an _id")
            record_id = check_id(raw.get("_id", raw.get("id")))
            text = raw.get(text_field)
            if not isinstance(text, str):
                raise InvalidArgument(
                    f"Record {record_id!r} must have a string field {text_field!r}: the "
                    "index embeds it"
                )
            fields = {k: v for k, v in raw.items() if k not in ("_id", "id")}
            ids.append(record_id)
            texts.append(text)
            metadata.append(check_metadata(fields))
        out = self._inference.embed_texts(config["model"], texts, config["write_parameters"])
        vectors: list[dict[str, Any]] = []
        for i, record_id in enumerate(ids):
            vector: dict[str, Any] = {"id": record_id, "metadata": metadata[i]}
            if out.sparse is not None:
                sparse = out.sparse[i]
                if len(sparse.indices) == 0:
                    raise InvalidArgument(
                        f"Record {record_id!r}: field {text_field!r} has no terms that "
                        f"{config['model']} indexes"
                    )
                vector["values"] = []
                vector["sparseValues"] = {
                    "indices": sparse.indices.tolist(),
                    "values": sparse.values.tolist(),
                }
            else:
                assert out.dense is not None
                vector["values"] = out.dense[i]
            vectors.append(vector)
        return self._data.upsert(index, namespace, vectors)

    def search(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> SearchResult:
        query = body.get("query")
        if not isinstance(query, Mapping):
            raise InvalidArgument("query is required: {'top_k': ..., 'inputs': {'text': ...}}")
        top_k = query.get("top_k", query.get("topK"))
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise InvalidArgument("query.top_k must be a positive integer")
        inputs, vector, record_id = query.get("inputs"), query.get("vector"), query.get("id")
        if sum(x is not None for x in (inputs, vector, record_id)) != 1:
            raise InvalidArgument("Exactly one of query.inputs, query.vector or query.id is needed")
        required = _match_terms(index, query.get("match_terms"))
        dense: list[float] | None = None
        sparse: dict[str, Any] | None = None
        query_text: str | None = None
        tokens: int | None = None
        if inputs is not None:
            config = _embed_config(index)
            query_text = inputs.get("text") if isinstance(inputs, Mapping) else None
            if not isinstance(query_text, str) or not query_text:
                raise InvalidArgument("query.inputs must be {'text': 'non-empty query text'}")
            out = self._inference.embed_texts(
                config["model"], [query_text], config["read_parameters"]
            )
            tokens = out.tokens
            if out.sparse is not None:
                found = out.sparse[0]
                sparse = {"indices": found.indices.tolist(), "values": found.values.tolist()}
            else:
                assert out.dense is not None
                dense = out.dense[0].tolist()
        elif vector is not None:
            dense, sparse = _search_vector(vector)
        if sparse is not None and not sparse["indices"] and dense is None:
            # Only stop words: nothing can match, as an empty BM25 query matches nothing.
            return SearchResult([], 1, 0, tokens)
        result = self._data.query(
            index,
            namespace,
            top_k=top_k,
            vector=dense,
            sparse_vector=sparse,
            id=record_id,
            filter=query.get("filter"),
            include_metadata=True,
            require=required,
        )
        hits = [Hit(m.id, m.score, dict(m.metadata or {})) for m in result.matches]
        units = None
        rerank = body.get("rerank")
        if rerank is not None:
            hits, units = self._rerank(hits, rerank, query_text)
        wanted = body.get("fields")
        if wanted is not None:
            if not isinstance(wanted, list) or not all(isinstance(f, str) for f in wanted):
                raise InvalidArgument("fields must be a list of field names")
            hits = [
                Hit(h.id, h.score, {k: h.fields[k] for k in wanted if k in h.fields}) for h in hits
            ]
        return SearchResult(hits, result.read_units, result.lsn, tokens, units)

    def _rerank(
        self, hits: list[Hit], rerank: object, query_text: str | None
    ) -> tuple[list[Hit], int]:
        if not isinstance(rerank, Mapping):
            raise InvalidArgument("rerank must be an object with model and rank_fields")
        rank_fields = rerank.get("rank_fields")
        if not isinstance(rank_fields, list) or not rank_fields:
            raise InvalidArgument("rerank.rank_fields must be a non-empty list of field names")
        text = rerank.get("query") or query_text
        if not isinstance(text, str) or not text:
            raise InvalidArgument("rerank.query is required when the search is not by text")
        top_n = rerank.get("top_n")
        if top_n is not None and (
            isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1
        ):
            raise InvalidArgument("rerank.top_n must be a positive integer")
        texts = [rank_text(h.fields, rank_fields, f"Record {h.id!r}") for h in hits]
        # Resolve the model even without hits, so a bad name fails the same way.
        _, scores = self._inference.rerank_scores(
            rerank.get("model"), text, texts, rerank.get("parameters")
        )
        order = sorted(range(len(hits)), key=lambda i: (-scores[i], hits[i].id))
        keep = order if top_n is None else order[:top_n]
        return [Hit(hits[i].id, scores[i], hits[i].fields) for i in keep], 1


def _match_terms(index: IndexRow, raw: object) -> TermsAll | None:
    """Pinecone's ``query.match_terms`` (engine/read/terms.py), on the text field it embeds."""
    if raw is None:
        return None
    if index.vector_type != "sparse" or not index.spec.get("embed"):
        raise InvalidArgument(
            "match_terms is supported only for sparse indexes with integrated embedding"
        )
    if not isinstance(raw, Mapping):
        raise InvalidArgument('match_terms must be {"strategy": "all", "terms": [...]}')
    strategy = raw.get("strategy", "all")
    if strategy != "all":
        raise InvalidArgument(f'Unsupported match_terms strategy {strategy!r}: only "all" is')
    terms = raw.get("terms")
    if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
        raise InvalidArgument("match_terms.terms must be a list of strings")
    tokens = tuple(sorted({w for t in terms for w in words(t)}))
    if not tokens:
        raise InvalidArgument("match_terms.terms must contain at least one word")
    return TermsAll(_embed_config(index)["field_map"]["text"], tokens)


def _search_vector(raw: object) -> tuple[list[float] | None, dict[str, Any] | None]:
    """``{"values": [...], "sparse_indices": [...], "sparse_values": [...]}`` (or a list)."""
    if isinstance(raw, list):
        return raw, None
    if not isinstance(raw, Mapping):
        raise InvalidArgument("query.vector must be an object with values and/or sparse values")
    values = raw.get("values")
    indices, weights = raw.get("sparse_indices"), raw.get("sparse_values")
    sparse = None
    if indices is not None or weights is not None:
        sparse = {"indices": indices or [], "values": weights or []}
    if not values and sparse is None:
        raise InvalidArgument("query.vector needs values, sparse values or both")
    return (values or None), sparse
