"""Creating and configuring document indexes (the control plane's part of them).

A document index is an ordinary index row whose spec also holds ``documents``: the
resolved schema (``DocumentSchema.to_json``). Its ``dimension``/``metric``/
``vector_type`` are those of the dense slot, so the namespace engine stores the
slot's vectors as it stores any index's; an index without a dense slot is stored as
a sparse one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from spruce.catalog import IndexRow
from spruce.embeddings.registry import Registry
from spruce.errors import InvalidArgument
from spruce.service.control_plane import ControlPlane
from spruce.service.documents.schema import DocumentSchema, resolve_schema
from spruce.service.index_body import IndexRequest

__all__ = ["DOCUMENTS", "DocumentIndexes", "document_schema", "require_vector_index"]

#: The key of ``IndexRow.spec`` that makes an index a document index.
DOCUMENTS = "documents"


def document_schema(row: IndexRow) -> DocumentSchema | None:
    """The index's document schema, or None for a vector (or integrated) index."""
    raw = row.spec.get(DOCUMENTS)
    return DocumentSchema.from_json(raw) if raw is not None else None


def require_vector_index(row: IndexRow) -> IndexRow:
    """``row``, unless it is a document index: those are read and written through the
    Documents API only. Pinecone refuses requests sent to the wrong API ("An index stays
    on the API it was created with"); its status is not documented, so a 400 naming
    the API to use."""
    if DOCUMENTS in row.spec:
        raise InvalidArgument(
            f"Index {row.name!r} is a document index: read and write it with the Documents "
            "API (API version 2026-07, /namespaces/{namespace}/documents/...), not the "
            "vectors or records API"
        )
    return row


class DocumentIndexes:
    def __init__(self, control: ControlPlane, registry: Registry | None) -> None:
        self._control = control
        #: The local models ``embed``/``sparse_embed`` use; None: integrated embedding off.
        self._registry = registry

    def create(self, project_id: str, req: IndexRequest) -> IndexRow:
        """A create whose schema names document fields (``req.documents``)."""
        assert req.documents is not None
        schema = resolve_schema(req.documents, self._registry)
        engine = replace(
            req,
            dimension=schema.dimension,
            metric=schema.metric,
            vector_type=schema.vector_type,
            extra={**req.extra, DOCUMENTS: schema.to_json()},
            documents=None,
        )
        return self._control.create(project_id, engine)

    def check_configure(self, project_id: str, name: str, schema: dict[str, Any] | None) -> bool:
        """True when ``name`` is a document index (then ``schema`` must be None: a
        document index's schema is fixed at creation, even unchanged fields)."""
        row = self._control.describe(project_id, name)
        if document_schema(row) is None:
            return False
        if schema is not None:
            raise InvalidArgument(
                f"The schema of index {name!r} cannot be changed: a document index's schema "
                "is fixed when the index is created"
            )
        return True
