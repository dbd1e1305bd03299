"""Catalog migration 3 (docs/FORMAT.md section 13) over a catalog written at version 2."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from spruce.catalog import Catalog
from spruce.catalog.admin import AdminCatalog
from spruce.catalog.store import _MIGRATIONS


def test_version_2_keys_become_project_editors(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(_MIGRATIONS[:2], start=1):
        db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
    db.execute("INSERT INTO projects VALUES ('proj-old', 'default')")
    digest = hashlib.sha256(b"sk-old").hexdigest()
    db.execute("INSERT INTO api_keys VALUES (?, 'proj-old', 'old', 1.5)", (digest,))
    db.close()

    catalog = Catalog(path)
    grant = catalog.grant_for_key("sk-old")
    assert grant is not None
    assert (grant.project_id, grant.roles) == ("proj-old", ("ProjectEditor",))
    project = AdminCatalog(catalog).project("proj-old")
    assert project is not None
    assert (project.max_pods, project.force_encryption_with_cmek, project.created_at) == (
        0,
        False,
        0.0,
    )
    (version,) = catalog._db.execute("PRAGMA user_version").fetchone()
    assert version == len(_MIGRATIONS) == 3
    catalog.close()
