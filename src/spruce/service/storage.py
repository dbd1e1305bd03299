"""Each index's storage and its namespaces, under the data plane.

``IndexStorage`` owns one ``IndexStore`` per index (opened on first use), the index
directory's lifecycle (create; delete through ``indexes/.trash/``, finished on start by
``ControlPlane.recover``) and the namespace use cases: stats, list, describe, create and
delete. ``DataPlane`` (data_plane.py) adds every read and write of records on top.
"""

from __future__ import annotations

import bisect
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from spruce.catalog import IndexRow
from spruce.engine.disk.fsutil import fsync_dir, remove_tree
from spruce.engine.read.filters import Filter, parse_filter
from spruce.engine.write.namespace import Metric
from spruce.engine.write.store import IndexStore
from spruce.errors import AlreadyExists, InvalidArgument, NotFound
from spruce.service.handle import NamespaceHandle
from spruce.service.limits import MAX_LIST_LIMIT
from spruce.service.schema import check_filter_indexed, check_schema

__all__ = ["TRASH", "IndexStorage", "NamespaceInfo", "NamespacePage", "Stats"]


@dataclass
class NamespaceInfo:
    name: str
    record_count: int
    #: The fields its schema indexes for filtering (sorted); None without a schema.
    filterable: list[str] | None = None


@dataclass
class NamespacePage:
    namespaces: list[NamespaceInfo]
    next_token: str | None
    total: int


@dataclass
class Stats:
    dimension: int | None
    metric: str
    vector_type: str
    namespaces: dict[str, int] = field(default_factory=dict)
    #: Dedicated read nodes only (service/read_capacity/routing.py): the fullest shard, 0 to 1.
    index_fullness: float = 0.0
    memory_fullness: float | None = None
    storage_fullness: float | None = None

    @property
    def total(self) -> int:
        return sum(self.namespaces.values())


#: Where deleted indexes go before their files are removed (docs/FORMAT.md).
TRASH = ".trash"


class IndexStorage:
    """Owns one ``IndexStore`` per index, opened on first use."""

    def __init__(self, data_dir: Path, *, flush_rows: int) -> None:
        self._root = data_dir / "indexes"
        self._flush_rows = flush_rows
        self._stores: dict[str, IndexStore] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------

    def store(self, index: IndexRow) -> IndexStore:
        with self._lock:
            store = self._stores.get(index.uid)
            if store is None:
                store = IndexStore(
                    self._root / index.uid,
                    dimension=index.dimension,
                    metric=cast(Metric, index.metric),
                    flush_rows=self._flush_rows,
                )
                self._stores[index.uid] = store
            return store

    def create_storage(self, index: IndexRow) -> None:
        (self._root / index.uid).mkdir(parents=True, exist_ok=True)

    def trash_storage(self, index: IndexRow) -> None:
        """Move the index's directory into ``indexes/.trash/`` (atomic): the commit point
        of an index delete. ``empty_trash`` removes it; a crash in between is finished
        by ``recover_trash`` at the next start."""
        with self._lock:
            store = self._stores.pop(index.uid, None)
        if store is not None:
            store.close()
        directory = self._root / index.uid
        if not directory.is_dir():
            return
        trash = self._root / TRASH
        trash.mkdir(exist_ok=True)
        target = trash / index.uid
        remove_tree(target)  # a crash left one here before (its delete is finished below)
        os.rename(directory, target)
        fsync_dir(self._root)

    def empty_trash(self) -> None:
        trash = self._root / TRASH
        if trash.is_dir():
            for entry in list(trash.iterdir()):
                shutil.rmtree(entry, ignore_errors=True)

    def trashed(self) -> list[str]:
        """Uids of indexes whose delete passed its commit point."""
        trash = self._root / TRASH
        return sorted(p.name for p in trash.iterdir()) if trash.is_dir() else []

    def drop_storage(self, index: IndexRow) -> None:
        self.trash_storage(index)
        self.empty_trash()

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()

    def _namespace(
        self, index: IndexRow, namespace: str, *, create: bool
    ) -> NamespaceHandle | None:
        return self.store(index).get(namespace, create=create)

    def _first_write(
        self, index: IndexRow, namespace: str, write: Callable[[NamespaceHandle], int]
    ) -> int:
        return self.store(index).create_with(namespace, write)

    def _indexed(self, index: IndexRow, namespace: str, filter: Filter | None) -> None:
        """A filter may only use the fields the namespace's schema indexes (schema.py)."""
        if filter is not None:
            check_filter_indexed(filter, self.store(index).filterable(namespace), namespace)

    # -- namespaces --------------------------------------------------------------

    def stats(self, index: IndexRow, filter: object = None) -> Stats:
        parsed = parse_filter(filter)
        store = self.store(index)
        stats = Stats(index.dimension, index.metric, index.vector_type)
        for name in store.names():
            if parsed is None:
                # Unfiltered: from each namespace's saved count, opening none that is
                # not open already (an index may hold 100,000 namespaces).
                count = store.count(name)
            else:
                # A filter must be evaluated against the records, so every namespace is
                # opened (and stays open) for it.
                ns = store.get(name, create=False)
                if ns is not None:
                    self._indexed(index, name, parsed)
                count = None if ns is None else ns.count(parsed)
            if count is not None:
                stats.namespaces[name] = count
        return stats

    def namespaces(self, index: IndexRow, *, prefix: str = "") -> list[NamespaceInfo]:
        store = self.store(index)
        return self._counted(store, [n for n in store.names() if n.startswith(prefix)])

    @staticmethod
    def _counted(store: IndexStore, names: list[str]) -> list[NamespaceInfo]:
        """``names`` with their record counts, skipping any dropped meanwhile."""
        found = []
        for name in names:
            count = store.count(name)
            if count is not None:
                found.append(NamespaceInfo(name, count, _listed(store.filterable(name))))
        return found

    def namespaces_page(
        self, index: IndexRow, *, prefix: str = "", limit: int = 100, token: str | None = None
    ) -> NamespacePage:
        """One page of namespaces in name order; the token is the last name returned."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"Invalid limit {limit}: must be between 1 and {MAX_LIST_LIMIT}")
        store = self.store(index)
        names = [n for n in store.names() if n.startswith(prefix)]  # sorted by name
        start = bisect.bisect_right(names, token) if token else 0
        # Only the page's namespaces are counted: a page of 100 costs 100 counts, not
        # one per namespace of the index.
        chosen = names[start : start + limit]
        more = start + limit < len(names)
        page = self._counted(store, chosen)
        return NamespacePage(page, chosen[-1] if more else None, len(names))

    def describe_namespace(self, index: IndexRow, namespace: str) -> NamespaceInfo:
        # The store's count opens the namespace only if its saved count is not exact.
        store = self.store(index)
        count = store.count(namespace)
        if count is None:
            raise NotFound(f"Namespace {namespace} not found")
        return NamespaceInfo(namespace, count, _listed(store.filterable(namespace)))

    def create_namespace(
        self, index: IndexRow, namespace: str, schema: object = None
    ) -> NamespaceInfo:
        """An empty namespace; with a ``schema``, only its fields can be filtered on."""
        filterable = check_schema(schema)
        if not self.store(index).create(namespace, filterable=filterable):
            raise AlreadyExists(f"Namespace {namespace} already exists")
        return NamespaceInfo(namespace, 0, filterable)

    def delete_namespace(self, index: IndexRow, namespace: str) -> None:
        if not self.store(index).drop(namespace):
            raise NotFound(f"Namespace {namespace} not found")


def _listed(filterable: frozenset[str] | None) -> list[str] | None:
    return None if filterable is None else sorted(filterable)
