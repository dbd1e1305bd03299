"""Data at rest on a live server: integration secrets never in the catalog's bytes
(new rows, and plaintext rows of older catalogs once migrated), and every file and
directory private to the server's user."""

from __future__ import annotations

import json
import sqlite3
import stat
import time
from pathlib import Path

import httpx
import numpy as np

from spruce.catalog import Catalog
from spruce.catalog.imports import ImportCatalog
from spruce.catalog.secrets import SecretBox
from tests.api.helpers import client, make_index
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}
SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"
ACCESS = "AKIAIOSFODNN7EXAMPLE"


def _catalog_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("catalog.sqlite3*")))


def _add(server: LiveServer, name: str) -> dict[str, object]:
    body = {
        "name": name,
        "provider": "aws",
        "credentials": {"access_key_id": ACCESS, "secret_access_key": SECRET},
    }
    response = httpx.post(f"{server.url}/storage-integrations", headers=H, json=body)
    assert response.status_code == 201
    found: dict[str, object] = response.json()
    return found


def _config(data_dir: Path, integration_id: str) -> dict[str, str]:
    """The credentials as the server reads them back (the catalog, opened in-process)."""
    catalog = Catalog(data_dir / "catalog.sqlite3")
    try:
        ((project,),) = catalog._db.execute(
            "SELECT project_id FROM storage_integrations WHERE id=?", (integration_id,)
        ).fetchall()
        return (
            ImportCatalog(catalog, SecretBox.open(data_dir))
            .integration(project, integration_id)
            .config
        )
    finally:
        catalog.close()


def test_secrets_encrypted_at_rest(fresh_server: LiveServer) -> None:
    found = _add(fresh_server, "prod")
    assert found["credential_keys"] == ["access_key_id", "secret_access_key"]
    data = _catalog_bytes(fresh_server.data_dir)
    assert SECRET.encode() not in data
    assert ACCESS.encode() not in data
    fresh_server.stop()
    assert SECRET.encode() not in _catalog_bytes(fresh_server.data_dir)
    key = fresh_server.data_dir / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert _config(fresh_server.data_dir, str(found["id"])) == {
        "access_key_id": ACCESS,
        "secret_access_key": SECRET,
    }


def test_plaintext_rows_of_older_catalogs_are_encrypted(fresh_server: LiveServer) -> None:
    found = _add(fresh_server, "old")
    fresh_server.stop()
    # What a catalog written before encryption holds: the config as plain JSON.
    db = sqlite3.connect(fresh_server.data_dir / "catalog.sqlite3", isolation_level=None)
    plain = json.dumps({"access_key_id": ACCESS, "secret_access_key": SECRET})
    db.execute("UPDATE storage_integrations SET config=? WHERE id=?", (plain, found["id"]))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert SECRET.encode() in _catalog_bytes(fresh_server.data_dir)
    fresh_server.start()
    assert SECRET.encode() not in _catalog_bytes(fresh_server.data_dir)
    response = httpx.get(f"{fresh_server.url}/storage-integrations/{found['id']}", headers=H)
    assert response.json()["credential_keys"] == ["access_key_id", "secret_access_key"]
    fresh_server.stop()
    assert SECRET.encode() not in _catalog_bytes(fresh_server.data_dir)
    assert _config(fresh_server.data_dir, str(found["id"]))["secret_access_key"] == SECRET


def test_files_and_directories_are_private(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra=["--flush-rows", "50"])
    # An existing data directory, as an older version (or mkdir) left it.
    live.data_dir.mkdir(mode=0o755)
    live.data_dir.chmod(0o755)
    live.start()
    try:
        pc = client(live)
        index = make_index(pc, "modes", dimension=4)
        rng = np.random.default_rng(3)
        for start in range(0, 400, 100):
            index.upsert(
                vectors=[
                    (f"v{i}", (rng.random(4) + 0.1).tolist(), {"n": i})
                    for i in range(start, start + 100)
                ],
                namespace="ns",
            )
        _add(live, "modes")
        time.sleep(1)  # background flushes write segments
        index.delete(ids=["v1"], namespace="ns")
        assert index.describe_index_stats().total_vector_count == 399
    finally:
        live.stop()
    paths = [live.data_dir, *live.data_dir.rglob("*")]
    files = [p for p in paths if p.is_file()]
    assert any(p.suffix == ".npy" for p in files)  # segments were written
    loose = {
        str(p.relative_to(live.data_dir.parent)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in paths
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert loose == {}
