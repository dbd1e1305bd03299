"""``index.documents``: upsert, fetch, list, update and delete (search: ``search.py``).

Documents are records of the namespace engine (``records.py`` maps them), so every
guarantee of the vector data plane holds for them: a write is in the WAL and visible
to the next read before it is acknowledged, and restarts and crashes keep it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spruce.catalog import IndexRow
from spruce.engine.read.filters import Filter, fields, parse_filter
from spruce.errors import InvalidArgument, NotFound
from spruce.service.data_plane import DataPlane
from spruce.service.documents.control import document_schema
from spruce.service.documents.records import (
    ID,
    REMOVE,
    Draft,
    document_json,
    draft,
    merge,
    to_record,
)
from spruce.service.documents.schema import DocumentSchema
from spruce.service.inference import Inference
from spruce.service.limits import (
    DEFAULT_FETCH_BY_METADATA_LIMIT,
    MAX_DELETE_IDS,
    MAX_FETCH_IDS,
    MAX_UPSERT_BATCH,
)
from spruce.service.text_records import MAX_TEXT_RECORDS
from spruce.types import Record

__all__ = ["Documents", "FetchResult", "ListResult", "WriteResult"]

_LIST_LIMIT = 100
_ALL = "*"


@dataclass
class WriteResult:
    lsn: int
    count: int | None = None
    embed_tokens: int | None = None


@dataclass
class FetchResult:
    documents: list[dict[str, Any]]
    next_token: str | None
    read_units: int
    lsn: int


@dataclass
class ListResult:
    ids: list[str]
    next_token: str | None
    read_units: int
    lsn: int


def schema_of(index: IndexRow) -> DocumentSchema:
    schema = document_schema(index)
    if schema is None:
        raise InvalidArgument(
            f"Index {index.name!r} is not a document index: create it with a typed schema "
            "to use the documents API, or use the vectors API"
        )
    return schema


def include_list(schema: DocumentSchema, raw: object, default_all: bool) -> list[str] | None:
    """``include_fields``: None for every stored field; a field without stored text is
    refused by name (``["*"]`` leaves it out)."""
    if raw is None:
        return None if default_all else []
    if not isinstance(raw, list) or not all(isinstance(f, str) for f in raw):
        raise InvalidArgument("include_fields must be a list of field names")
    if _ALL in raw:
        return None
    if not raw and default_all:
        return None
    for name in raw:
        declared = schema.fields.get(name)
        if declared is not None and declared.get("store_text") is False:
            raise InvalidArgument(
                f"include_fields names {name!r}, whose text is not stored (store_text: false)"
            )
    return list(raw)


def document_filter(schema: DocumentSchema, raw: object, what: str) -> Filter | None:
    """A metadata filter; declared (search) fields take no comparison operators."""
    if raw is None:
        return None
    parsed = parse_filter(raw)
    if parsed is None:
        raise InvalidArgument(f"The {what} filter must not be empty")
    declared = sorted(fields(parsed) & set(schema.fields))
    if declared:
        raise InvalidArgument(
            f"Field {declared[0]!r} is a search field of the schema: comparison operators "
            "apply to metadata fields only (the text-match operators $match_phrase, "
            "$match_all and $match_any are not served yet)"
        )
    return parsed


class Documents:
    def __init__(self, data: DataPlane, inference: Inference | None) -> None:
        self._data = data
        self._inference = inference

    # -- writes ------------------------------------------------------------------

    def upsert(self, index: IndexRow, namespace: str, documents: object) -> WriteResult:
        """Check every document, embed the batch, then write it as one upsert."""
        schema = schema_of(index)
        if not isinstance(documents, list) or not documents:
            raise InvalidArgument("No documents provided for upsert")
        cap = MAX_TEXT_RECORDS if _embeds(schema) else MAX_UPSERT_BATCH
        if len(documents) > cap:
            raise InvalidArgument(
                f"Upsert request has {len(documents)} documents, the maximum per request "
                f"for this index is {cap}"
            )
        drafts = [
            draft(schema, raw, index.dimension, index.metric, f"documents[{i}]")
            for i, raw in enumerate(documents)
        ]
        tokens = self._embed(schema, drafts, [set(d.text) for d in drafts])
        lsn = self._write(index, namespace, [to_record(schema, d) for d in drafts])
        return WriteResult(lsn, len(drafts), tokens)

    def _write(self, index: IndexRow, namespace: str, records: list[Record]) -> int:
        last = {r.id: r for r in records}  # a repeated id: the last one wins
        ns = self._data.store(index).get(namespace, create=True)
        assert ns is not None
        return ns.upsert(list(last.values()))

    def _embed(
        self, schema: DocumentSchema, drafts: list[Draft], wanted: list[set[str]]
    ) -> int | None:
        """Fill each draft's dense/sparse slot from its embed fields named in ``wanted``."""
        tokens: int | None = None
        for name, declared in schema.fields.items():
            for key in ("embed", "sparse_embed"):
                config = declared.get(key)
                if config is None:
                    continue
                chosen = [i for i, d in enumerate(drafts) if name in wanted[i] and name in d.text]
                if not chosen:
                    continue
                if self._inference is None:
                    raise InvalidArgument("Integrated embedding is not enabled on this server")
                texts = [drafts[i].text[name] for i in chosen]
                dense, sparse, used = self._run(config, texts)
                tokens = (tokens or 0) + used
                for j, i in enumerate(chosen):
                    if dense is not None:
                        drafts[i].dense = dense[j]
                    elif sparse is not None:
                        drafts[i].sparse = sparse[j] if len(sparse[j].indices) else None
        return tokens

    def _run(self, config: Mapping[str, Any], texts: list[str]) -> tuple[Any, Any, int]:
        assert self._inference is not None
        card = self._inference.registry.card(config["model"], "embed")
        size = card.max_batch_size
        dense: list[Any] = []
        sparse: list[Any] = []
        used = 0
        for start in range(0, len(texts), size):
            out = self._inference.embed_texts(
                config["model"], texts[start : start + size], config["write_parameters"]
            )
            used += out.tokens
            if out.dense is not None:
                dense.extend(out.dense)
            if out.sparse is not None:
                sparse.extend(out.sparse)
        return (dense or None), (sparse or None), used

    def update(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> WriteResult:
        """A partial update: per-document patches, or one patch for every match of a filter."""
        schema = schema_of(index)
        patches = body.get("documents")
        by_filter = [body.get(k) for k in ("filter", "set_fields", "remove_fields")]
        if patches is not None and any(v is not None for v in by_filter):
            raise InvalidArgument("Update takes documents, or filter with set_fields/remove_fields")
        if patches is not None:
            return self._update_each(index, namespace, schema, patches)
        parsed = document_filter(schema, body.get("filter"), "update")
        if parsed is None:
            raise InvalidArgument("Update needs documents, or a filter and what to change")
        set_fields = body.get("set_fields") or {}
        remove = _names(body.get("remove_fields"), "remove_fields")
        if not isinstance(set_fields, Mapping):
            raise InvalidArgument("set_fields must be an object of field names to values")
        if not set_fields and not remove:
            raise InvalidArgument("An update by filter needs set_fields or remove_fields")
        ns = self._data.store(index).get(namespace, create=False)
        if ns is None:
            return WriteResult(0, 0)
        lsn, matched, after, tokens = ns.lsn, 0, None, None
        # Pages of matches in id order, each written as one upsert: a crash part way
        # leaves the earlier pages patched (each page is atomic, the whole is not).
        while True:
            page = ns.fetch_where(parsed, limit=MAX_TEXT_RECORDS, after=after)
            if not page:
                return WriteResult(lsn, matched, tokens)
            patch = [(r, set_fields, remove) for r in page]
            lsn, used = self._apply(index, namespace, schema, patch)
            if used is not None:
                tokens = (tokens or 0) + used
            matched += len(page)
            after = page[-1].id

    def _update_each(
        self, index: IndexRow, namespace: str, schema: DocumentSchema, patches: object
    ) -> WriteResult:
        if not isinstance(patches, list) or not patches:
            raise InvalidArgument("documents must be a non-empty list of patches")
        cap = MAX_TEXT_RECORDS if _embeds(schema) else MAX_UPSERT_BATCH
        if len(patches) > cap:
            raise InvalidArgument(f"An update takes at most {cap} documents, got {len(patches)}")
        wanted: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
        for i, patch in enumerate(patches):
            if not isinstance(patch, Mapping) or not isinstance(patch.get(ID), str):
                raise InvalidArgument(f"documents[{i}] must be an object with an {ID}")
            remove = _names(patch.get(REMOVE), f"documents[{i}].{REMOVE}")
            wanted[patch[ID]] = (patch, remove)
        ns = self._data.store(index).get(namespace, create=False)
        if ns is None:
            return WriteResult(0)
        # A patch to a document that does not exist changes nothing.
        found = ns.fetch(list(wanted))
        todo = [(found[i], wanted[i][0], wanted[i][1]) for i in wanted if i in found]
        if not todo:
            return WriteResult(ns.lsn)
        lsn, tokens = self._apply(index, namespace, schema, todo)
        return WriteResult(lsn, None, tokens)

    def _apply(
        self,
        index: IndexRow,
        namespace: str,
        schema: DocumentSchema,
        todo: list[tuple[Record, Mapping[str, Any], list[str]]],
    ) -> tuple[int, int | None]:
        drafts, wanted = [], []
        for record, set_fields, remove in todo:
            doc = merge(schema, record, set_fields, remove)
            touched = set(set_fields) | set(remove)
            kept = frozenset(
                n
                for n in _embed_fields(schema, "embed")
                if n not in touched and record.values is not None
            )
            d = draft(schema, doc, index.dimension, index.metric, f"document {record.id!r}", kept)
            # An embed field the patch leaves alone keeps its vector (its text may not be
            # stored, and embedding it again would give the same vector).
            for name in _embed_fields(schema, "embed"):
                if name not in touched:
                    d.dense = record.values
            for name in _embed_fields(schema, "sparse_embed"):
                if name not in touched:
                    d.sparse = record.sparse
            drafts.append(d)
            wanted.append(touched)
        tokens = self._embed(schema, drafts, wanted)
        return self._write(index, namespace, [to_record(schema, d) for d in drafts]), tokens

    def delete(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> WriteResult:
        schema = schema_of(index)
        ids, raw_filter, delete_all = body.get("ids"), body.get("filter"), body.get("delete_all")
        chosen = sum(x is not None and x is not False for x in (ids, raw_filter, delete_all))
        if chosen != 1:
            raise InvalidArgument("Exactly one of ids, filter or delete_all must be given")
        if delete_all is not None and not isinstance(delete_all, bool):
            raise InvalidArgument("delete_all must be a boolean")
        if delete_all:
            try:
                return WriteResult(self._data.delete(index, namespace, delete_all=True))
            except NotFound:
                return WriteResult(0)
        if raw_filter is not None:
            parsed = document_filter(schema, raw_filter, "delete")
            assert parsed is not None
            ns = self._data.store(index).get(namespace, create=False)
            if ns is None:
                return WriteResult(0, 0)
            lsn, matched = ns.delete_where(parsed)
            return WriteResult(lsn, matched)
        checked = _names(ids, "ids")
        if not checked or len(checked) > MAX_DELETE_IDS:
            raise InvalidArgument(f"ids must hold 1 to {MAX_DELETE_IDS} document ids")
        return WriteResult(self._data.delete(index, namespace, ids=checked))

    # -- reads -------------------------------------------------------------------

    def fetch(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> FetchResult:
        schema = schema_of(index)
        ids, raw_filter = body.get("ids"), body.get("filter")
        if (ids is None) == (raw_filter is None):
            raise InvalidArgument("Exactly one of ids and filter must be given")
        include = include_list(schema, body.get("include_fields"), default_all=True)
        if ids is not None:
            if body.get("pagination_token") is not None:
                raise InvalidArgument("pagination_token is valid only with a filter")
            checked = _names(ids, "ids")
            if not checked or len(checked) > MAX_FETCH_IDS:
                raise InvalidArgument(f"ids must hold 1 to {MAX_FETCH_IDS} document ids")
            found, lsn = self._data.fetch(index, namespace, checked)
            docs = [
                document_json(schema, found[i], include)
                for i in dict.fromkeys(checked)
                if i in found
            ]
            return FetchResult(docs, None, 1, lsn)
        parsed = document_filter(schema, raw_filter, "fetch")
        limit = body.get("limit")
        page = self._data.fetch_by_metadata(
            index,
            namespace,
            filter=raw_filter if parsed is not None else None,
            limit=DEFAULT_FETCH_BY_METADATA_LIMIT if limit is None else limit,
            token=body.get("pagination_token"),
        )
        docs = [document_json(schema, r, include) for r in page.records]
        return FetchResult(docs, page.next_token, page.read_units, page.lsn)

    def list(self, index: IndexRow, namespace: str, body: Mapping[str, Any]) -> ListResult:
        schema_of(index)
        prefix = body.get("prefix", "")
        if prefix is None:
            prefix = ""
        if not isinstance(prefix, str):
            raise InvalidArgument("prefix must be a string")
        limit = body.get("limit", _LIST_LIMIT)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidArgument("limit must be an integer")
        token = body.get("pagination_token")
        if token is not None and not isinstance(token, str):
            raise InvalidArgument("pagination_token must be a string")
        page = self._data.list_ids(index, namespace, prefix=prefix, limit=limit, token=token)
        return ListResult(page.ids, page.next_token, 1, page.lsn)


def _embeds(schema: DocumentSchema) -> bool:
    return any("embed" in f or "sparse_embed" in f for f in schema.fields.values())


def _embed_fields(schema: DocumentSchema, key: str) -> Iterable[str]:
    return [n for n, f in schema.fields.items() if key in f]


def _names(raw: object, what: str) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise InvalidArgument(f"{what} must be a list of strings")
    return list(raw)
