"""A namespace's metadata schema: which fields are indexed for filtering.

Pinecone (``POST /namespaces``, 2025-10): "By default, all metadata is indexed; when
``schema`` is present, only fields which are present in the ``fields`` object with a
``filterable: true`` are indexed. Note that ``filterable: false`` is not currently
supported." The schema is fixed when the namespace is created. Records keep every
metadata field (fetch and query return them all); only filtering is restricted.

Pinecone's documentation does not say what a filter on an unindexed field does, only
that such a field "cannot be filtered on". Spruce refuses the filter with a 400 naming
the field, rather than silently matching nothing (or everything, for ``$ne``).
"""

from __future__ import annotations

from collections.abc import Collection

from spruce.engine.read.filters import Filter, fields
from spruce.errors import InvalidArgument

__all__ = ["check_filter_indexed", "check_schema"]


def check_schema(raw: object) -> list[str] | None:
    """The filterable field names of a create-namespace ``schema`` (None: no schema)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InvalidArgument("schema must be an object")
    declared = raw.get("fields")
    if not isinstance(declared, dict):
        raise InvalidArgument("schema.fields must be an object of field names")
    extra = sorted(set(raw) - {"fields"})
    if extra:
        raise InvalidArgument(f'Unknown schema property "{extra[0]}"; only "fields" is supported')
    for name, config in declared.items():
        if not name or name.startswith("$"):
            raise InvalidArgument(f'Invalid metadata field name in schema: "{name}"')
        filterable = config.get("filterable") if isinstance(config, dict) else None
        if filterable is not True:
            raise InvalidArgument(
                f'Schema field "{name}" must be {{"filterable": true}}: filterable: false '
                "is not supported; omit a field to leave it unindexed"
            )
    return sorted(declared)


def check_filter_indexed(
    filter: Filter | None, filterable: Collection[str] | None, namespace: str
) -> None:
    """Refuse a filter on a field the namespace's schema does not index."""
    if filter is None or filterable is None:
        return
    missing = sorted(fields(filter) - set(filterable))
    if missing:
        raise InvalidArgument(
            f'Cannot filter on metadata field "{missing[0]}": it is not indexed, as the '
            f'schema of namespace "{namespace}" does not declare it filterable'
        )
