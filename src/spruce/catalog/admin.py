"""Projects, admin credentials and the audit log, in the catalog's SQLite database.

Admin credentials are Pinecone's service accounts: a ``client_id`` and a secret
kept only as its SHA-256 (the secret is 32 random bytes, so a plain hash is as
good as a slow one). The audit log is append-only: one row per control-plane
change, whatever its outcome. Uses the ``Catalog``'s connection and lock.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass

from spruce.catalog.store import Catalog, _hash_key
from spruce.errors import AlreadyExists

__all__ = ["AdminCatalog", "AuditRow", "CredentialRow", "FullProjectRow"]


@dataclass(frozen=True)
class FullProjectRow:
    id: str
    name: str
    max_pods: int
    force_encryption_with_cmek: bool
    created_at: float


@dataclass(frozen=True)
class CredentialRow:
    client_id: str
    name: str
    created_at: float


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    actor: str
    project_id: str | None
    action: str
    target: str
    status: int


_PROJECT = "SELECT id, name, max_pods, force_encryption_with_cmek, created_at FROM projects"


def _project(row: tuple[object, ...]) -> FullProjectRow:
    pid, name, pods, cmek, created = row
    return FullProjectRow(str(pid), str(name), int(str(pods)), bool(cmek), float(str(created)))


class AdminCatalog:
    def __init__(self, catalog: Catalog) -> None:
        self._db = catalog._db
        self._lock = catalog._lock
        self._catalog = catalog

    # -- projects ------------------------------------------------------------------

    def projects(self) -> list[FullProjectRow]:
        with self._lock:
            rows = self._db.execute(_PROJECT + " ORDER BY created_at, id").fetchall()
        return [_project(r) for r in rows]

    def project(self, project_id: str) -> FullProjectRow | None:
        with self._lock:
            row = self._db.execute(_PROJECT + " WHERE id=?", (project_id,)).fetchone()
        return _project(row) if row else None

    def save_project(self, row: FullProjectRow, *, new: bool) -> None:
        sql = (
            "INSERT INTO projects (name, max_pods, force_encryption_with_cmek, created_at, id)"
            " VALUES (?, ?, ?, ?, ?)"
            if new
            else "UPDATE projects SET name=?, max_pods=?, force_encryption_with_cmek=?,"
            " created_at=? WHERE id=?"
        )
        args = (row.name, row.max_pods, int(row.force_encryption_with_cmek), row.created_at, row.id)
        try:
            self._catalog.write(sql, args)
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"A project named {row.name!r} already exists") from None

    def delete_project(self, project_id: str) -> None:
        """The project and its keys, in one transaction (its indexes are gone already)."""
        with self._lock:
            self._db.executescript("BEGIN")
            try:
                self._db.execute("DELETE FROM api_keys WHERE project_id=?", (project_id,))
                self._db.execute(
                    "DELETE FROM storage_integrations WHERE project_id=?", (project_id,)
                )
                self._db.execute("DELETE FROM projects WHERE id=?", (project_id,))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._catalog._forget()

    # -- admin credentials ---------------------------------------------------------

    def create_credential(self, name: str) -> tuple[CredentialRow, str]:
        """A new credential and its secret, which is never stored and never shown again."""
        row = CredentialRow(f"spruce-client-{secrets.token_hex(8)}", name, time.time())
        secret = f"spruce-secret-{secrets.token_urlsafe(32)}"
        self._catalog.write(
            "INSERT INTO admin_credentials VALUES (?, ?, ?, ?)",
            (row.client_id, _hash_key(secret), row.name, row.created_at),
        )
        return row, secret

    def credential(self, client_id: str, secret: str | None = None) -> CredentialRow | None:
        """The credential, if it exists (and, given ``secret``, if that is its secret)."""
        with self._lock:
            row = self._db.execute(
                "SELECT client_id, name, created_at, secret_hash FROM admin_credentials"
                " WHERE client_id=?",
                (client_id,),
            ).fetchone()
        if row is None:
            return None
        if secret is not None and not secrets.compare_digest(str(row[3]), _hash_key(secret)):
            return None
        return CredentialRow(str(row[0]), str(row[1]), float(row[2]))

    # -- audit log -----------------------------------------------------------------

    def record(
        self, actor: str, project_id: str | None, action: str, target: str, status: int
    ) -> None:
        self._catalog.write(
            "INSERT INTO audit_log (at, actor, project_id, action, target, status)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), actor, project_id, action, target, status),
        )

    def audit(self, project_id: str | None, after: int, limit: int) -> list[AuditRow]:
        """Entries with ``id > after``, oldest first; one project's, or all."""
        where = "id > ?" + (" AND project_id=?" if project_id is not None else "")
        args: tuple[object, ...] = (after,) if project_id is None else (after, project_id)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, at, actor, project_id, action, target, status FROM audit_log"
                f" WHERE {where} ORDER BY id LIMIT ?",
                (*args, limit),
            ).fetchall()
        return [AuditRow(*r) for r in rows]
