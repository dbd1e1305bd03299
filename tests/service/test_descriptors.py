"""Index descriptors: written with every catalog write of an index, verified on rebuild."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from spruce.catalog import Catalog
from spruce.service.descriptors import DESCRIPTOR, IndexDescriptors


def test_descriptors_follow_the_catalog_and_damage_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    descriptors = IndexDescriptors(tmp_path / "indexes")
    catalog.index_listener = descriptors
    project = catalog.ensure_project()
    kept = catalog.create_index(project, "kept", {"dimension": 3, "metric": "euclidean"})
    catalog.update_index(kept, state="Ready", spec={**kept.spec, "tags": {"a": "b"}})
    damaged = catalog.create_index(project, "damaged", {"dimension": 2, "metric": "cosine"})
    gone = catalog.create_index(project, "gone", {"dimension": 2, "metric": "cosine"})
    catalog.delete_index(gone)
    assert not (tmp_path / "indexes" / gone.uid / DESCRIPTOR).exists()
    path = tmp_path / "indexes" / damaged.uid / DESCRIPTOR
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    catalog.close()

    fresh = Catalog(tmp_path / "other.sqlite3")
    with caplog.at_level(logging.WARNING):
        assert descriptors.rebuild(fresh) == 1
    [row] = fresh.list_indexes()
    assert (row.project_id, row.name, row.uid, row.state) == (project, "kept", kept.uid, "Ready")
    assert row.spec == {"dimension": 3, "metric": "euclidean", "tags": {"a": "b"}}
    assert fresh.project_name(project) == "default"
    assert f"{path} is damaged (CRC-32 or length" in caplog.text
    fresh.close()
