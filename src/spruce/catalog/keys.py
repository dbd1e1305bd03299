"""Projects and API keys as the admin API lists them, in the catalog's SQLite database.

Keys are stored only as SHA-256 hashes (``api_keys.hash``). A key's public id is
derived from that hash (``key-`` + 16 hex digits of SHA-256 over it), so it is
stable across restarts, needs no schema change, and reveals nothing that helps
to recover the key. Uses the ``Catalog``'s connection and lock.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from spruce.catalog.store import Catalog, _hash_key

__all__ = ["KeyCatalog", "KeyRow", "ProjectRow"]


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str


@dataclass(frozen=True)
class KeyRow:
    id: str
    project_id: str
    name: str
    created_at: float


def key_id(key_hash: str) -> str:
    return "key-" + hashlib.sha256(f"spruce-key-id:{key_hash}".encode()).hexdigest()[:16]


class KeyCatalog:
    def __init__(self, catalog: Catalog) -> None:
        # SQLite connections are not thread-safe: share the Catalog's and its lock.
        self._db = catalog._db
        self._lock = catalog._lock
        self._catalog = catalog

    def project(self, project_id: str) -> ProjectRow | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, name FROM projects WHERE id=?", (project_id,)
            ).fetchone()
        return ProjectRow(str(row[0]), str(row[1])) if row else None

    def _rows(self, project_id: str) -> list[tuple[str, KeyRow]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, project_id, name, created_at FROM api_keys WHERE project_id=?"
                " ORDER BY created_at, hash",
                (project_id,),
            ).fetchall()
        return [(h, KeyRow(key_id(h), str(p), str(n), float(c))) for h, p, n, c in rows]

    def list_keys(self, project_id: str) -> list[KeyRow]:
        return [row for _, row in self._rows(project_id)]

    def find(self, project_id: str, wanted: str) -> KeyRow | None:
        for _, row in self._rows(project_id):
            if row.id == wanted:
                return row
        return None

    def insert(self, project_id: str, key: str, name: str) -> KeyRow:
        digest = _hash_key(key)
        now = time.time()
        self._catalog.write(
            "INSERT INTO api_keys (hash, project_id, name, created_at) VALUES (?, ?, ?, ?)",
            (digest, project_id, name, now),
        )
        return KeyRow(key_id(digest), project_id, name, now)

    def delete(self, project_id: str, wanted: str) -> bool:
        for digest, row in self._rows(project_id):
            if row.id == wanted:
                self._catalog.write("DELETE FROM api_keys WHERE hash=?", (digest,))
                return True
        return False
