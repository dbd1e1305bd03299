"""``index.documents.search``: ``score_by`` clauses, ``filter``, ``include_fields``, ``top_k``.

A vector clause (``dense_vector``, ``sparse_vector``, ``embed``, ``sparse_embed``) stands
alone and is one namespace query: the dense slot scored by the index's metric, the
sparse slot by dot product (only documents sharing a term with the query match).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from spruce.catalog import IndexRow
from spruce.engine.read.filters import Filter
from spruce.errors import InvalidArgument
from spruce.service.data_plane import DataPlane
from spruce.service.documents.data import document_filter, include_list, schema_of
from spruce.service.documents.fulltext import Texts, analyzers_of
from spruce.service.documents.fulltext import top_k as top_k_text
from spruce.service.documents.query_string import Node, parse, text_query
from spruce.service.documents.records import document_json
from spruce.service.documents.schema import DocumentSchema
from spruce.service.inference import Inference
from spruce.service.limits import MAX_TOP_K
from spruce.service.records import check_dense, check_sparse
from spruce.types import Record, SparseVector, Vector

__all__ = ["DocumentSearch", "SearchResult"]

_MAX_CLAUSES = 100
_VECTOR_CLAUSES = ("dense_vector", "sparse_vector", "embed", "sparse_embed")
_TEXT_CLAUSES = ("text", "query_string")


@dataclass
class SearchResult:
    #: (document as returned, score), best first.
    matches: list[tuple[dict[str, Any], float]]
    read_units: int
    embed_tokens: int | None
    lsn: int


@dataclass
class _Query:
    dense: Vector | None = None
    sparse: SparseVector | None = None
    tokens: int | None = None


class DocumentSearch:
    def __init__(self, data: DataPlane, inference: Inference | None) -> None:
        self._data = data
        self._inference = inference
        self._texts = Texts()

    def search(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> SearchResult:
        schema = schema_of(index)
        top_k = body.get("top_k")
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise InvalidArgument("top_k must be an integer")
        if not 1 <= top_k <= MAX_TOP_K:
            raise InvalidArgument(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
        clauses = body.get("score_by")
        if not isinstance(clauses, list) or not clauses:
            raise InvalidArgument("score_by must be a non-empty list of scoring clauses")
        if len(clauses) > _MAX_CLAUSES:
            raise InvalidArgument(f"score_by takes at most {_MAX_CLAUSES} clauses")
        include = include_list(schema, body.get("include_fields"), default_all=False)
        parsed = document_filter(schema, body.get("filter"), "search")
        kinds = [c.get("type") if isinstance(c, Mapping) else None for c in clauses]
        for i, kind in enumerate(kinds):
            if kind not in _VECTOR_CLAUSES and kind not in _TEXT_CLAUSES:
                raise InvalidArgument(
                    f"score_by[{i}].type must be one of "
                    f"{', '.join(_TEXT_CLAUSES + _VECTOR_CLAUSES)}, got {kind!r}"
                )
        if any(k in _VECTOR_CLAUSES for k in kinds) and len(clauses) > 1:
            raise InvalidArgument(
                "A dense_vector, sparse_vector, embed or sparse_embed clause must stand alone "
                "in score_by"
            )
        if kinds[0] in _TEXT_CLAUSES:
            return self._text_search(index, namespace, schema, clauses, parsed, top_k, include)
        query = self._vector_query(index, schema, clauses[0])
        ns = self._data.store(index).get(namespace, create=False)
        if ns is None:
            return SearchResult([], 1, query.tokens, 0)
        sparse_only = query.dense is None
        if sparse_only and (query.sparse is None or len(query.sparse.indices) == 0):
            # No term (e.g. none in the model's vocabulary): nothing can match.
            return SearchResult([], 1, query.tokens, ns.lsn)
        wants_vectors = sparse_only or include is None
        wants_vectors = wants_vectors or bool(
            set(include or ()) & {schema.dense_field, schema.sparse_field}
        )
        found = ns.query(
            query.dense,
            top_k=top_k,
            filter=parsed,
            sparse=query.sparse,
            include_values=wants_vectors,
            include_metadata=include != [],
        )
        if sparse_only:
            # A sparse query matches the documents that share a term with it.
            found = [m for m in found if m.score != 0 or _shares_term(m.sparse, query.sparse)]
        matches = [
            (document_json(schema, Record(m.id, m.values, m.sparse, m.metadata), include), m.score)
            for m in found
        ]
        return SearchResult(matches, max(1, len(matches) // 10), query.tokens, ns.lsn)

    def _text_search(
        self,
        index: IndexRow,
        namespace: str,
        schema: DocumentSchema,
        clauses: list[Any],
        parsed: Filter | None,
        top_k: int,
        include: list[str] | None,
    ) -> SearchResult:
        text_fields = schema.text_fields()
        nodes = [_text_node(schema, text_fields, c, i) for i, c in enumerate(clauses)]
        ns = self._data.store(index).get(namespace, create=False)
        if ns is None:
            return SearchResult([], 1, None, 0)
        view = ns.read_view()
        ranked = top_k_text(view, self._texts, schema, nodes, parsed, top_k)
        records = ns.fetch([i for i, _ in ranked]) if include != [] else {}
        matches = [
            (
                document_json(schema, records[i], include) if i in records else {"_id": i},
                s,
            )
            for i, s in ranked
        ]
        return SearchResult(matches, max(1, view.count() // 1000), None, view.lsn)

    def _vector_query(
        self, index: IndexRow, schema: DocumentSchema, clause: Mapping[str, Any]
    ) -> _Query:
        kind = clause["type"]
        name = clause.get("field")
        fields = clause.get("fields")
        if name is None and isinstance(fields, list) and len(fields) == 1:
            name = fields[0]
        declared = schema.fields.get(name) if isinstance(name, str) else None
        if not isinstance(name, str) or declared is None:
            raise InvalidArgument(f"{kind} scoring needs the name of one field of the schema")
        if kind == "dense_vector":
            _expect(declared["type"] == "dense_vector", name, kind)
            values = check_dense(clause.get("values"), index.dimension, what="Query vector")
            return _Query(dense=values)
        if kind == "sparse_vector":
            _expect(declared["type"] == "sparse_vector", name, kind)
            return _Query(sparse=check_sparse(clause.get("sparse_values"), field="sparse_values"))
        config: Mapping[str, Any] | None = declared.get(kind)
        if config is None:
            _refuse(name, kind)
        text = clause.get("query")
        if not isinstance(text, str) or not text:
            raise InvalidArgument(f"{kind} scoring needs a non-empty query")
        if self._inference is None:
            raise InvalidArgument("Integrated embedding is not enabled on this server")
        out = self._inference.embed_texts(config["model"], [text], config["read_parameters"])
        if out.dense is not None:
            return _Query(dense=out.dense[0], tokens=out.tokens)
        assert out.sparse is not None
        return _Query(sparse=out.sparse[0], tokens=out.tokens)


def _text_node(
    schema: DocumentSchema, text_fields: list[str], clause: Mapping[str, Any], at: int
) -> Node:
    query = clause.get("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidArgument(f"score_by[{at}].query must be a non-empty string")
    if not text_fields:
        raise InvalidArgument("The schema has no full-text search field to score by text")
    if clause["type"] == "query_string":
        if clause.get("field") is not None or clause.get("fields") is not None:
            raise InvalidArgument(
                f"score_by[{at}]: a query_string clause names its fields inside the query "
                "(field:value), not in field or fields"
            )
        return parse(query, text_fields, analyzers_of(schema, text_fields))
    names = clause.get("fields")
    if names is None and isinstance(clause.get("field"), str):
        names = [clause["field"]]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidArgument(f"score_by[{at}]: text scoring needs fields, a list of field names")
    for name in names:
        if name not in text_fields:
            raise InvalidArgument(
                f"score_by[{at}]: field {name!r} is not a full-text search field "
                f"({', '.join(text_fields)})"
            )
    unique = list(dict.fromkeys(names))
    return text_query(query, unique, analyzers_of(schema, unique))


def _expect(ok: bool, name: str, kind: str) -> None:
    if not ok:
        _refuse(name, kind)


def _refuse(name: str, kind: str) -> NoReturn:
    what = {
        "dense_vector": "a dense_vector field",
        "sparse_vector": "a sparse_vector field",
        "embed": "a string field with embed",
        "sparse_embed": "a string field with sparse_embed",
    }[kind]
    raise InvalidArgument(f"Field {name!r} cannot be scored by {kind}: it is not {what}")


def _shares_term(stored: SparseVector | None, query: SparseVector | None) -> bool:
    if stored is None or query is None:
        return False
    return bool(set(stored.indices.tolist()) & set(query.indices.tolist()))
