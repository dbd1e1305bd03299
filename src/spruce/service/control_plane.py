"""Control-plane use cases: create, describe, list, configure and delete indexes."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from spruce.catalog import Catalog, IndexRow
from spruce.errors import InvalidArgument, NotFound, PermissionDenied, SpruceError
from spruce.service.data_plane import DataPlane
from spruce.service.endpoints import Endpoints
from spruce.service.index_body import IndexRequest, check_choice
from spruce.service.limits import MAX_DIMENSION, MAX_INDEX_NAME
from spruce.service.read_capacity.nodes import ReadNodes
from spruce.service.read_capacity.spec import Capacity, parse_capacity

__all__ = ["ControlPlane", "IndexRequest"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_METRICS = ("cosine", "euclidean", "dotproduct")
_PROTECTION = ("enabled", "disabled")
_VECTOR_TYPES = ("dense", "sparse")
_MAX_TAGS = 20


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidArgument("Index name must be a non-empty string")
    if len(name) > MAX_INDEX_NAME or not _NAME.match(name):
        raise InvalidArgument(
            "Name must consist of lower case alphanumeric characters or '-', start and end "
            f"with an alphanumeric character, and be at most {MAX_INDEX_NAME} characters long"
        )
    return name


def check_tags(tags: object, current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge tags as Pinecone's PATCH does: an empty value removes a tag."""
    merged = dict(current or {})
    if tags is None:
        return merged
    if not isinstance(tags, dict):
        raise InvalidArgument("tags must be an object of string keys and values")
    for key, value in tags.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,80}", key):
            raise InvalidArgument(
                f"Invalid tag key {key!r}: keys are 1-80 characters of letters, digits, '_' or '-'"
            )
        if not isinstance(value, str) or len(value) > 120:
            raise InvalidArgument(f"Invalid value for tag {key!r}: a string of at most 120 chars")
        if value:
            merged[key] = value
        else:
            merged.pop(key, None)
    if len(merged) > _MAX_TAGS:
        raise InvalidArgument(f"An index may have at most {_MAX_TAGS} tags")
    return merged


def check_protection(value: object) -> str:
    return check_choice("deletion_protection", value, _PROTECTION)


def _given(value: str | None, default: str) -> str:
    """Absent or null takes the default; an empty string is a value, and refused."""
    return default if value is None else value


class ControlPlane:
    def __init__(
        self,
        catalog: Catalog,
        data: DataPlane,
        endpoints: Endpoints | None = None,
        nodes: ReadNodes | None = None,
    ) -> None:
        self._catalog = catalog
        self._data = data
        self._endpoints = endpoints
        #: Dedicated read nodes (read_capacity/nodes.py); None: read_capacity is stored only.
        self._nodes = nodes
        # Storage creation (``_initialize``, on its own thread) and the data move of a
        # delete take turns: a late ``create_storage`` must not recreate a deleted dir.
        self._storage_lock = threading.Lock()

    def _shown(self, row: IndexRow) -> IndexRow:
        return row if self._nodes is None else self._nodes.decorate(row)

    def create(self, project_id: str, req: IndexRequest) -> IndexRow:
        name = check_name(req.name)
        vector_type = check_choice("vector_type", _given(req.vector_type, "dense"), _VECTOR_TYPES)
        default = "dotproduct" if vector_type == "sparse" else "cosine"
        # Pinecone lowercases the metric when it creates the index.
        metric = check_choice("metric", _given(req.metric, default).lower(), _METRICS)
        dimension = req.dimension
        if vector_type == "sparse":
            if dimension is not None:
                raise InvalidArgument("Sparse vector indexes must not have a dimension")
            if metric != "dotproduct":
                raise InvalidArgument("Sparse vector indexes must use the metric dotproduct")
        else:
            if dimension is None:
                raise InvalidArgument("Dimension is required for dense vector indexes")
            if not 1 <= dimension <= MAX_DIMENSION:
                raise InvalidArgument(
                    f"Dimension must be between 1 and {MAX_DIMENSION}, got {dimension}"
                )
        spec: dict[str, Any] = {
            "dimension": dimension,
            "metric": metric,
            "vector_type": vector_type,
            "deletion_protection": check_protection(_given(req.deletion_protection, "disabled")),
            "tags": check_tags(req.tags),
            "cloud": req.cloud,
            "region": req.region,
            "read_capacity": parse_capacity(req.read_capacity or {"mode": "OnDemand"}).to_json()
            if self._nodes is None
            else self._nodes.validate_create(project_id, req.read_capacity),
            **req.extra,
        }
        row = self._catalog.create_index(project_id, name, spec)
        try:
            row = self._open_endpoint(row)
        except SpruceError:
            self._catalog.delete_index(row)
            raise
        # Storage is made off the request path: the index answers Initializing until then.
        threading.Thread(target=self._initialize, args=(row,), daemon=True).start()
        if self._nodes is not None:
            self._nodes.created(row)
        return self._shown(row)

    def _initialize(self, row: IndexRow) -> None:
        with self._storage_lock:
            try:
                current = self._catalog.get_index(row.project_id, row.name)
            except NotFound:
                return
            if current.uid == row.uid:
                self._data.create_storage(row)
                self._catalog.update_index(current, state="Ready")

    def _open_endpoint(self, row: IndexRow) -> IndexRow:
        """Give the index its own port, kept in its spec (and across restarts while free)."""
        if self._endpoints is None:
            return row
        port = self._endpoints.open(row)
        if row.spec.get("port") != port:
            row = self._catalog.update_index(row, spec={**row.spec, "port": port})
        return row

    def recover(self) -> None:
        """Finish index deletes and initializations cut short by a restart; re-open
        index ports."""
        trashed = set(self._data.trashed())
        for row in self._catalog.list_indexes():
            if row.uid in trashed:
                # Replicas were stopped before the data moved (``delete``).
                log.warning("finishing the interrupted delete of index %r", row.name)
                self._catalog.delete_index(row)
        self._data.empty_trash()
        for row in self._catalog.list_indexes():
            row = self._open_endpoint(row)
            if row.state == "Initializing":
                self._initialize(row)

    def describe(self, project_id: str, name: str) -> IndexRow:
        return self._shown(self._catalog.get_index(project_id, name))

    def list(self, project_id: str) -> list[IndexRow]:
        return [self._shown(r) for r in self._catalog.list_indexes(project_id)]

    def configure(
        self,
        project_id: str,
        name: str,
        *,
        deletion_protection: object = None,
        tags: object = None,
        read_capacity: dict[str, Any] | None = None,
        embed: dict[str, Any] | None = None,
    ) -> IndexRow:
        """``embed`` is an integrated-embedding config already validated by
        ``service.integrated``."""
        row = self._catalog.get_index(project_id, name)
        spec = dict(row.spec)
        if embed is not None:
            spec["embed"] = embed
        if deletion_protection is not None:
            spec["deletion_protection"] = check_protection(deletion_protection)
        if tags is not None:
            spec["tags"] = check_tags(tags, spec.get("tags"))
        if read_capacity is not None and self._nodes is not None:
            row = self._nodes.configure(row, spec, read_capacity, self._catalog.update_index)
            return self._shown(row)
        if read_capacity is not None:
            current = Capacity.from_json(spec.get("read_capacity"))
            spec["read_capacity"] = parse_capacity(read_capacity, current).to_json()
        return self._shown(self._catalog.update_index(row, spec=spec))

    def delete(self, project_id: str, name: str) -> None:
        row = self._catalog.get_index(project_id, name)
        if row.spec.get("deletion_protection") == "enabled":
            raise PermissionDenied(
                "Deletion protection is enabled for this index. Disable deletion protection "
                "before retrying."
            )
        if self._endpoints is not None:
            self._endpoints.close(row)
        if self._nodes is not None:
            self._nodes.dropped(row)  # replicas stop before their files go
        # Resumable: moving the data into the trash is the commit point; a crash after it
        # is finished by ``recover`` (catalog row, then files).
        with self._storage_lock:
            self._data.trash_storage(row)
            self._catalog.delete_index(row)
        self._data.empty_trash()

    def resolve(self, project_id: str, name: str) -> IndexRow:
        """The index a data-plane call addresses (refused while it is paused)."""
        row = self._catalog.get_index(project_id, name)
        if self._nodes is not None:
            self._nodes.check_serving(row)
        return row
