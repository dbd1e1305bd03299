"""The catalog's read cache (keys and indexes) never serves a stale answer."""

from __future__ import annotations

from pathlib import Path

import pytest

from spruce.catalog import Catalog
from spruce.catalog.keys import KeyCatalog
from spruce.errors import NotFound


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path / "catalog.sqlite3")


def test_key_lookups_follow_creates_and_deletes(catalog: Catalog) -> None:
    project = catalog.ensure_project()
    assert catalog.project_for_key("k1") is None  # a miss is cached too...
    catalog.add_key(project, "k1")
    assert catalog.project_for_key("k1") == project  # ...and dropped by the write
    keys = KeyCatalog(catalog)
    row = keys.insert(project, "k2", "second", ("ProjectEditor",))
    assert catalog.project_for_key("k2") == project
    assert catalog.project_for_key("k2") == project  # from the cache
    assert keys.delete(project, row.id)
    assert catalog.project_for_key("k2") is None
    assert catalog.project_for_key("k1") == project


def test_index_rows_follow_updates_and_deletes(catalog: Catalog) -> None:
    project = catalog.ensure_project()
    with pytest.raises(NotFound):
        catalog.get_index(project, "a")
    created = catalog.create_index(project, "a", {"dimension": 3})
    first = catalog.get_index(project, "a")
    assert (first.uid, first.dimension) == (created.uid, 3)
    # Each caller gets its own row: changing one never changes what the cache holds.
    first.spec["dimension"] = 99
    first.state = "Mangled"
    again = catalog.get_index(project, "a")
    assert (again.dimension, again.state) == (3, "Initializing")
    catalog.update_index(again, spec={"dimension": 3, "tags": {"t": "1"}}, state="Ready")
    updated = catalog.get_index(project, "a")
    assert (updated.state, updated.spec["tags"]) == ("Ready", {"t": "1"})
    catalog.delete_index(updated)
    with pytest.raises(NotFound):
        catalog.get_index(project, "a")
    recreated = catalog.create_index(project, "a", {"dimension": 5})
    assert catalog.get_index(project, "a").uid == recreated.uid != created.uid
