"""Documents <-> the namespace engine's records.

A document is stored as one record: ``_id`` is the record id, the dense slot's vector
(a ``dense_vector`` field's value, or the embedding of the ``embed`` field's text) is
its dense values, the sparse slot's vector its sparse values, and every other field
(stored text of ``string`` fields and free-form metadata) its metadata, which the
engine indexes for filtering. The 40 KB metadata limit counts the free-form metadata
only: declared text fields are exempt, as Pinecone's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spruce.errors import InvalidArgument
from spruce.service.documents.schema import DocumentSchema
from spruce.service.records import (
    check_dense,
    check_direction,
    check_id,
    check_metadata,
    check_sparse,
)
from spruce.types import Metadata, Record, SparseVector, Vector

__all__ = ["ID", "REMOVE", "SCORE", "Draft", "document_json", "draft", "to_record"]

ID = "_id"
SCORE = "_score"
REMOVE = "_remove_fields"


@dataclass
class Draft:
    """A document checked against the schema, before its text is embedded."""

    id: str
    #: Declared string fields' text, by field name (what is stored and embedded).
    text: dict[str, str] = field(default_factory=dict)
    dense: Vector | None = None
    sparse: SparseVector | None = None
    metadata: Metadata = field(default_factory=dict)


def draft(
    schema: DocumentSchema,
    raw: object,
    dimension: int | None,
    metric: str,
    at: str,
    kept: frozenset[str] = frozenset(),
) -> Draft:
    """One document of an upsert (or a merged update), every field checked.

    ``kept``: ``embed`` fields whose stored vector an update keeps (their text need not
    be given again)."""
    if not isinstance(raw, Mapping):
        raise InvalidArgument(f"{at} must be an object with an {ID}")
    doc_id = check_id(raw.get(ID))
    out = Draft(doc_id)
    metadata: dict[str, Any] = {}
    searchable = False
    for name, value in raw.items():
        if name == ID:
            continue
        if not isinstance(name, str) or not name:
            raise InvalidArgument(f"Document {doc_id!r}: field names must be non-empty strings")
        declared = schema.fields.get(name)
        if declared is None:
            if name.startswith("_"):
                raise InvalidArgument(
                    f"Document {doc_id!r}: field {name!r} is reserved (names starting with '_')"
                )
            metadata[name] = value
            continue
        kind = declared["type"]
        if value is None:
            continue
        searchable = True
        if kind == "dense_vector":
            out.dense = check_dense(value, dimension, field=f"{at}.{name}")
            check_direction(out.dense, metric)
        elif kind == "sparse_vector":
            out.sparse = check_sparse(value, field=f"{at}.{name}")
        else:
            if not isinstance(value, str):
                raise InvalidArgument(
                    f"Document {doc_id!r}: field {name!r} is a string field, got "
                    f"{type(value).__name__}"
                )
            out.text[name] = value
    for name, declared in schema.fields.items():
        required = declared["type"] == "dense_vector" or "embed" in declared
        if required and raw.get(name) is None and name not in kept:
            what = "embeds its text" if "embed" in declared else "is the index's dense vector"
            raise InvalidArgument(
                f"Document {doc_id!r} is missing the required field {name!r}: it {what}"
            )
    if not searchable and not kept:
        raise InvalidArgument(
            f"Document {doc_id!r} has no searchable field: give it one of "
            f"{', '.join(schema.fields)}"
        )
    # Free-form metadata: Pinecone's types and 40 KB; declared text is exempt.
    out.metadata = check_metadata(metadata) or {}
    return out


def to_record(schema: DocumentSchema, doc: Draft) -> Record:
    metadata: Metadata = dict(doc.metadata)
    for name, text in doc.text.items():
        if schema.fields[name].get("store_text", True):
            metadata[name] = text
    return Record(doc.id, doc.dense, doc.sparse, metadata or None)


def stored_fields(schema: DocumentSchema, record: Record) -> dict[str, Any]:
    """Every field a record holds, under the document's names (no ``_id``)."""
    out: dict[str, Any] = dict(record.metadata or {})
    dense, sparse = schema.dense_field, schema.sparse_field
    vector = dense is not None and schema.fields[dense]["type"] == "dense_vector"
    if vector and dense is not None and record.values is not None:
        out[dense] = np.ascontiguousarray(record.values, dtype=np.float32)
    declared = sparse is not None and schema.fields[sparse]["type"] == "sparse_vector"
    if declared and sparse is not None and record.sparse is not None:
        out[sparse] = {
            "indices": np.ascontiguousarray(record.sparse.indices, dtype=np.uint32),
            "values": np.ascontiguousarray(record.sparse.values, dtype=np.float32),
        }
    return out


def document_json(
    schema: DocumentSchema, record: Record, include: list[str] | None
) -> dict[str, Any]:
    """``include``: the fields to return, None for all."""
    fields = stored_fields(schema, record)
    if include is not None:
        fields = {k: fields[k] for k in include if k in fields}
    return {ID: record.id, **fields}


def merge(
    schema: DocumentSchema, record: Record, set_fields: Mapping[str, Any], remove: list[str]
) -> dict[str, Any]:
    """A stored document with a patch applied, as an upsert document (to be checked)."""
    doc: dict[str, Any] = {ID: record.id, **stored_fields(schema, record)}
    for name in remove:
        doc.pop(name, None)
    doc.update({k: v for k, v in set_fields.items() if k not in (ID, REMOVE)})
    return doc
