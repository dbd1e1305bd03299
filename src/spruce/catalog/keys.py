"""Projects and API keys as the admin API lists them, in the catalog's SQLite database.

Keys are stored only as SHA-256 hashes (``api_keys.hash``). A key's public id is
derived from that hash (``key-`` + 16 hex digits of SHA-256 over it), so it is
stable across restarts, needs no schema change, and reveals nothing that helps
to recover the key. Uses the ``Catalog``'s connection and lock.
"""

from __future__ import annotations

import hashlib
import json
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
    roles: tuple[str, ...] = ("ProjectEditor",)


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

    def _rows(self, project_id: str | None) -> list[tuple[str, KeyRow]]:
        """The keys of one project, or of all (``None``)."""
        where, args = ("WHERE project_id=?", (project_id,)) if project_id else ("", ())
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, project_id, name, created_at, roles FROM api_keys"
                f" {where} ORDER BY created_at, hash",
                args,
            ).fetchall()
        return [
            (h, KeyRow(key_id(h), str(p), str(n), float(c), tuple(json.loads(r))))
            for h, p, n, c, r in rows
        ]

    def list_keys(self, project_id: str) -> list[KeyRow]:
        return [row for _, row in self._rows(project_id)]

    def find(self, project_id: str | None, wanted: str) -> KeyRow | None:
        for _, row in self._rows(project_id):
            if row.id == wanted:
                return row
        return None

    def find_any(self, wanted: str) -> KeyRow | None:
        """The key with this id in any project (callers check the project)."""
        return self.find(None, wanted)

    def insert(self, project_id: str, key: str, name: str, roles: tuple[str, ...]) -> KeyRow:
        digest = _hash_key(key)
        now = time.time()
        self._catalog.write(
            "INSERT INTO api_keys (hash, project_id, name, created_at, roles)"
            " VALUES (?, ?, ?, ?, ?)",
            (digest, project_id, name, now, json.dumps(list(roles))),
        )
        return KeyRow(key_id(digest), project_id, name, now, roles)

    def update(self, row: KeyRow, name: str, roles: tuple[str, ...]) -> KeyRow:
        for digest, found in self._rows(row.project_id):
            if found.id == row.id:
                self._catalog.write(
                    "UPDATE api_keys SET name=?, roles=? WHERE hash=?",
                    (name, json.dumps(list(roles)), digest),
                )
        return KeyRow(row.id, row.project_id, name, row.created_at, roles)

    def delete(self, project_id: str | None, wanted: str) -> bool:
        for digest, row in self._rows(project_id):
            if row.id == wanted:
                self._catalog.write("DELETE FROM api_keys WHERE hash=?", (digest,))
                return True
        return False
