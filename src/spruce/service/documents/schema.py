"""A document index's typed schema: decoded, checked by Pinecone's rules, resolved.

``resolve_schema`` takes the ``schema.fields`` of a 2026-07 create body (any field
besides the legacy ``_values``/``_sparse_values`` makes the index a document index)
and returns the schema as describe reports it, every default filled in: a
``string`` field's ``full_text_search`` with ``language``/``stemming``/``stop_words``
resolved, ``embed``/``sparse_embed`` with the local model, its dimension, metric and
parameters, and ``store_text``. The rules are the ones the pinned SDK documents
(``pinecone/models/indexes/schema.py``): only search fields are declared, one dense
slot and one sparse slot, ``ngram`` not with ``stemming``/``stop_words``,
``stop_words`` needs ``stemming`` and a language that has a stop word list.

Over 400 lines on purpose: one decoder per field type, each with Pinecone's messages,
mirroring the SDK's schema.py one to one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from spruce.embeddings import ModelCard
from spruce.embeddings.registry import Registry
from spruce.errors import InvalidArgument, NotFound
from spruce.service.index_body import convert
from spruce.service.limits import MAX_DIMENSION

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "STOP_WORD_LANGUAGES",
    "DocumentSchema",
    "resolve_schema",
]

#: The languages full-text search analyses (the SDK's list), by two-letter code.
LANGUAGES: dict[str, str] = {
    "ar": "arabic",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
}
#: The languages that have a stop word list (tantivy's, from Snowball).
STOP_WORD_LANGUAGES = frozenset(
    ("da", "de", "en", "es", "fi", "fr", "hu", "it", "nl", "no", "pt", "ru", "sv")
)
DEFAULT_LANGUAGE = "en"
#: Pinecone's default models; used when an alias maps them to a local model.
_PINECONE_DENSE = "llama-text-embed-v2"
_PINECONE_SPARSE = "pinecone-sparse-english-v0"
_LOCAL_DENSE = "all-MiniLM-L6-v2"
_LOCAL_SPARSE = "spruce-bm25-v0"
_READ_DEFAULTS = {"input_type": "query"}
_WRITE_DEFAULTS = {"input_type": "passage"}
_METRICS = ("cosine", "euclidean", "dotproduct")
_MAX_NAME_BYTES = 64
_MAX_DESCRIPTION_BYTES = 256
#: A token is at most 40 characters (Pinecone's text processing guide): no longer n-gram.
_MAX_GRAM = 40
_SEARCH_TYPES = ("dense_vector", "sparse_vector", "string")
_METADATA_TYPES = ("string_list", "boolean", "float")


class _Field(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: str
    description: str | None = None


class _Dense(_Field):
    dimension: int
    metric: str | None = None


class _Sparse(_Field):
    pass


class _Ngram(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    min_gram: int
    max_gram: int
    prefix_only: bool = False


class _FullText(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    language: str | None = None
    stemming: bool | None = None
    stop_words: bool | None = None
    ngram: _Ngram | None = None


class _Embed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: str | None = None
    dimension: int | None = None
    metric: str | None = None
    write_parameters: dict[str, Any] | None = None
    read_parameters: dict[str, Any] | None = None


class _SparseEmbed(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    model: str | None = None
    write_parameters: dict[str, Any] | None = None
    read_parameters: dict[str, Any] | None = None


class _String(_Field):
    filterable: bool | None = None
    full_text_search: _FullText | None = None
    embed: _Embed | None = None
    sparse_embed: _SparseEmbed | None = None
    store_text: bool | None = None


@dataclass(frozen=True)
class DocumentSchema:
    """A resolved schema and the vector shape the namespace engine stores for it."""

    #: Field name -> its resolved definition, exactly as describe reports it.
    fields: dict[str, dict[str, Any]]
    #: The dense slot (a ``dense_vector`` field or a ``string`` with ``embed``), if any.
    dense_field: str | None
    sparse_field: str | None
    dimension: int | None
    metric: str

    @property
    def vector_type(self) -> str:
        return "dense" if self.dense_field is not None else "sparse"

    def to_json(self) -> dict[str, Any]:
        return {"fields": self.fields}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DocumentSchema:
        fields: dict[str, dict[str, Any]] = dict(raw["fields"])
        dense = sparse = None
        dimension, metric = None, "dotproduct"
        for name, f in fields.items():
            slot = f.get("embed") if f["type"] == "string" else f
            if f["type"] == "dense_vector" or (f["type"] == "string" and "embed" in f):
                dense, dimension, metric = name, slot["dimension"], slot["metric"]  # type: ignore[index]
            if f["type"] == "sparse_vector" or (f["type"] == "string" and "sparse_embed" in f):
                sparse = name
        return cls(fields, dense, sparse, dimension, metric)

    def text_fields(self) -> list[str]:
        """The fields searchable by ``text`` and ``query_string``."""
        return [n for n, f in self.fields.items() if "full_text_search" in f]


def resolve_schema(fields: Mapping[str, Any], registry: Registry | None) -> DocumentSchema:
    """The schema as describe reports it; InvalidArgument names the first bad field."""
    if not fields:
        raise InvalidArgument("schema.fields must declare at least one field")
    resolved: dict[str, dict[str, Any]] = {}
    dense: list[str] = []
    sparse: list[str] = []
    for name, raw in fields.items():
        _check_name(name)
        at = f"schema.fields.{name}"
        if not isinstance(raw, Mapping):
            raise InvalidArgument(f"Invalid value for {at}: expected an object")
        kind = raw.get("type")
        if kind is None:
            raise InvalidArgument(
                f"Missing required field {at}.type: one of {', '.join(_SEARCH_TYPES)}"
            )
        if kind == "dense_vector":
            resolved[name] = _dense(convert(raw, _Dense, at), at)
            dense.append(name)
        elif kind == "sparse_vector":
            resolved[name] = _described({"type": "sparse_vector"}, convert(raw, _Sparse, at), at)
            sparse.append(name)
        elif kind == "string":
            resolved[name] = _string(name, convert(raw, _String, at), at, registry)
            if "embed" in resolved[name]:
                dense.append(name)
            if "sparse_embed" in resolved[name]:
                sparse.append(name)
        else:
            raise InvalidArgument(_wrong_type(name, kind, at))
    if len(dense) > 1:
        raise InvalidArgument(
            f"A schema has one dense vector slot, taken by a dense_vector field or by one "
            f"string field with embed; got {len(dense)}: {', '.join(dense)}"
        )
    if len(sparse) > 1:
        raise InvalidArgument(
            f"A schema has one sparse vector slot, taken by a sparse_vector field or by one "
            f"string field with sparse_embed; got {len(sparse)}: {', '.join(sparse)}"
        )
    return DocumentSchema.from_json({"fields": resolved})


def _check_name(name: object) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidArgument("Field name must be a non-empty string")
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        raise InvalidArgument(f"Field name {name!r} is too long: at most {_MAX_NAME_BYTES} bytes")
    if name.startswith(("_", "$")):
        raise InvalidArgument(
            f"Field name {name!r} is reserved: names starting with '_' or '$' are the API's"
        )


def _wrong_type(name: str, kind: object, at: str) -> str:
    if kind in _METADATA_TYPES or kind == "integer":
        return (
            f"Invalid value for {at}.type: {kind!r}. The schema only accepts fields used for "
            f"search ({', '.join(_SEARCH_TYPES)}); leave {name!r} out and upsert its values "
            "in the documents, where they are indexed for filtering automatically"
        )
    if kind == "semantic_text":
        return (
            f"Invalid value for {at}.type: 'semantic_text' is response-only (create_for_model "
            "makes it); declare a string field with embed instead"
        )
    return f"Invalid value for {at}.type: {kind!r}; expected one of {', '.join(_SEARCH_TYPES)}"


def _described(out: dict[str, Any], raw: _Field, at: str) -> dict[str, Any]:
    description = raw.description
    if description is not None and len(description.encode("utf-8")) > _MAX_DESCRIPTION_BYTES:
        raise InvalidArgument(
            f"Invalid value for {at}.description: at most {_MAX_DESCRIPTION_BYTES} bytes"
        )
    out["description"] = description
    return out


def _metric(value: str | None, default: str, at: str) -> str:
    metric = default if value is None else value.lower()
    if metric not in _METRICS:
        raise InvalidArgument(
            f"Invalid value for {at}.metric: {value!r}; expected one of {', '.join(_METRICS)}"
        )
    return metric


def _dense(raw: _Dense, at: str) -> dict[str, Any]:
    if not 1 <= raw.dimension <= MAX_DIMENSION:
        raise InvalidArgument(
            f"Invalid value for {at}.dimension: it must be between 1 and {MAX_DIMENSION}, "
            f"got {raw.dimension}"
        )
    metric = _metric(raw.metric, "cosine", at)
    return _described(
        {"type": "dense_vector", "dimension": raw.dimension, "metric": metric}, raw, at
    )


def _string(name: str, raw: _String, at: str, registry: Registry | None) -> dict[str, Any]:
    searched = raw.full_text_search is not None or raw.embed is not None
    searched = searched or raw.sparse_embed is not None
    if not searched:
        raise InvalidArgument(
            f"String field {name!r} declares no search: give it full_text_search, embed or "
            "sparse_embed. Text only filtered on is not declared: upsert it in the documents, "
            "where it is indexed for filtering automatically"
        )
    if raw.filterable is not None:
        raise InvalidArgument(
            f"Invalid value for {at}.filterable: a string field is searched or filtered, not "
            "both; remove filterable from a field with full_text_search, embed or sparse_embed"
        )
    store_text = True if raw.store_text is None else raw.store_text
    if not store_text:
        if raw.embed is None and raw.sparse_embed is None:
            raise InvalidArgument(
                f"Invalid value for {at}.store_text: false is only allowed on a field with "
                "embed or sparse_embed"
            )
        if raw.full_text_search is not None:
            raise InvalidArgument(
                f"Invalid value for {at}.store_text: a field without stored text has no "
                "full-text search; remove full_text_search or store_text"
            )
    out: dict[str, Any] = {"type": "string"}
    if store_text:
        # Stored text is always indexed for full-text search (defaults when not asked).
        out["full_text_search"] = _full_text(raw.full_text_search or _FullText(), name, at)
    if raw.embed is not None:
        out["embed"] = _embed(raw.embed, at + ".embed", registry)
    if raw.sparse_embed is not None:
        out["sparse_embed"] = _sparse_embed(raw.sparse_embed, at + ".sparse_embed", registry)
    out["store_text"] = store_text
    return _described(out, raw, at)


def _language(value: str | None, at: str) -> str:
    if value is None:
        return DEFAULT_LANGUAGE
    lowered = value.lower()
    if lowered in LANGUAGES:
        return lowered
    for code, english in LANGUAGES.items():
        if english == lowered:
            return code
    raise InvalidArgument(
        f"Invalid value for {at}.full_text_search.language: {value!r} is not supported; "
        f"supported: {', '.join(sorted(LANGUAGES))} (or their English names)"
    )


def _full_text(raw: _FullText, name: str, at: str) -> dict[str, Any]:
    # The same order as the server's (and the SDK's SchemaBuilder): ngram first.
    if raw.ngram is not None and (raw.stemming or raw.stop_words):
        raise InvalidArgument(
            f"Field {name!r}: ngram cannot be combined with stemming or stop_words"
        )
    if raw.stop_words and not raw.stemming:
        raise InvalidArgument(f"Field {name!r}: stop_words requires stemming to be enabled")
    language = _language(raw.language, at)
    if raw.stop_words and language not in STOP_WORD_LANGUAGES:
        raise InvalidArgument(
            f"Field {name!r}: stop_words is not supported for language {language!r}; it is "
            f"for {', '.join(sorted(STOP_WORD_LANGUAGES))}"
        )
    out: dict[str, Any] = {
        "language": language,
        "stemming": bool(raw.stemming),
        "stop_words": bool(raw.stop_words),
    }
    if raw.ngram is not None:
        gram = raw.ngram
        if not 1 <= gram.min_gram <= gram.max_gram <= _MAX_GRAM:
            raise InvalidArgument(
                f"Invalid value for {at}.full_text_search.ngram: need 1 <= min_gram <= "
                f"max_gram <= {_MAX_GRAM}, got min_gram {gram.min_gram}, max_gram {gram.max_gram}"
            )
        out["ngram"] = {
            "min_gram": gram.min_gram,
            "max_gram": gram.max_gram,
            "prefix_only": gram.prefix_only,
        }
    return out


def _card(
    registry: Registry | None, model: str | None, defaults: tuple[str, str], at: str
) -> ModelCard:
    if registry is None:
        raise InvalidArgument(f"{at}: integrated embedding is not enabled on this server")
    try:
        if model is None:
            # Pinecone's default model when an operator aliased it, else the local one.
            try:
                return registry.card(defaults[0], "embed")
            except NotFound:
                return registry.card(defaults[1], "embed")
        return registry.card(model, "embed")
    except NotFound as exc:
        raise InvalidArgument(f"Invalid value for {at}.model: {exc.message}") from None


def _parameters(
    card: ModelCard, raw: dict[str, Any] | None, defaults: dict[str, str], at: str
) -> dict[str, Any]:
    given = {k: v for k, v in (raw or {}).items() if v is not None}
    try:
        merged = card.check_parameters({**defaults, **given})
    except InvalidArgument as exc:
        raise InvalidArgument(f"Invalid value for {at}: {exc.message}") from None
    return merged


def _embed(raw: _Embed, at: str, registry: Registry | None) -> dict[str, Any]:
    card = _card(registry, raw.model, (_PINECONE_DENSE, _LOCAL_DENSE), at)
    if card.vector_type != "dense" or card.dimension is None:
        raise InvalidArgument(
            f"Invalid value for {at}.model: {card.name!r} is a sparse model; use sparse_embed"
        )
    if raw.dimension is not None and raw.dimension != card.dimension:
        raise InvalidArgument(
            f"Invalid value for {at}.dimension: model {card.name!r} produces "
            f"{card.dimension}-dimensional vectors, got {raw.dimension}"
        )
    metric = _metric(raw.metric, card.metrics[0], at)
    if metric not in card.metrics:
        raise InvalidArgument(
            f"Invalid value for {at}.metric: model {card.name!r} supports "
            f"{', '.join(card.metrics)}, got {metric!r}"
        )
    return {
        "model": card.alias_of or card.name,
        "dimension": card.dimension,
        "metric": metric,
        "write_parameters": _parameters(card, raw.write_parameters, _WRITE_DEFAULTS, at),
        "read_parameters": _parameters(card, raw.read_parameters, _READ_DEFAULTS, at),
    }


def _sparse_embed(raw: _SparseEmbed, at: str, registry: Registry | None) -> dict[str, Any]:
    card = _card(registry, raw.model, (_PINECONE_SPARSE, _LOCAL_SPARSE), at)
    if card.vector_type != "sparse":
        raise InvalidArgument(
            f"Invalid value for {at}.model: {card.name!r} is a dense model; use embed"
        )
    return {
        "model": card.alias_of or card.name,
        "write_parameters": _parameters(card, raw.write_parameters, _WRITE_DEFAULTS, at),
        "read_parameters": _parameters(card, raw.read_parameters, _READ_DEFAULTS, at),
    }
