"""Document indexes (API 2026-07): typed schemas and ``index.documents`` (docs/DOCUMENTS.md)."""

from __future__ import annotations

from spruce.service.documents.control import DocumentIndexes
from spruce.service.documents.schema import DocumentSchema, resolve_schema

__all__ = ["DocumentIndexes", "DocumentSchema", "resolve_schema"]
