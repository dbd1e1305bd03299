"""The catalog: one SQLite database holding projects, API keys and indexes.

SQLite gives atomic, durable control-plane changes for free; the engine's
own files hold the data. Rows are small, so every call opens no cursor state
beyond the call and holds a lock (SQLite connections are not thread-safe).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spruce.errors import AlreadyExists, NotFound, StorageFull

__all__ = ["Catalog", "IndexListener", "IndexRow", "KeyGrant"]

_MIGRATIONS = [
    """
    CREATE TABLE projects (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
    CREATE TABLE api_keys (
        hash TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE indexes (
        project_id TEXT NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL,
        spec TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (project_id, name)
    );
    """,
    # Bulk imports (catalog/imports.py): storage credentials and import jobs.
    """
    CREATE TABLE storage_integrations (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id),
        name TEXT NOT NULL,
        provider TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at REAL NOT NULL,
        UNIQUE (project_id, name)
    );
    CREATE TABLE import_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        project_id TEXT NOT NULL,
        index_uid TEXT NOT NULL,
        uri TEXT NOT NULL,
        integration_id TEXT,
        error_mode TEXT NOT NULL,
        status TEXT NOT NULL,
        phase TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL,
        percent_complete REAL NOT NULL,
        records_imported INTEGER NOT NULL,
        error TEXT,
        checkpoint TEXT NOT NULL
    );
    CREATE INDEX import_jobs_by_index ON import_jobs (index_uid, id);
    """,
    # The admin API (catalog/admin.py): project settings, key roles, admin credentials
    # (service accounts) and the audit log of control-plane changes.
    """
    ALTER TABLE projects ADD COLUMN max_pods INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE projects ADD COLUMN force_encryption_with_cmek INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE projects ADD COLUMN created_at REAL NOT NULL DEFAULT 0;
    ALTER TABLE api_keys ADD COLUMN roles TEXT NOT NULL DEFAULT '["ProjectEditor"]';
    CREATE TABLE admin_credentials (
        client_id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        actor TEXT NOT NULL,
        project_id TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        status INTEGER NOT NULL
    );
    CREATE INDEX audit_log_by_project ON audit_log (project_id, id);
    """,
]


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyGrant:
    """What an API key may reach: its project and its roles (Pinecone's names)."""

    project_id: str
    key_hash: str
    roles: tuple[str, ...]


@dataclass
class IndexRow:
    """An index as the catalog stores it; ``spec`` holds the mutable JSON config."""

    project_id: str
    name: str
    uid: str
    state: str
    created_at: float
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def dimension(self) -> int | None:
        value = self.spec.get("dimension")
        return int(value) if value is not None else None

    @property
    def metric(self) -> str:
        return str(self.spec.get("metric", "cosine"))

    @property
    def vector_type(self) -> str:
        return str(self.spec.get("vector_type", "dense"))


class IndexListener(Protocol):
    """Told of every index row written or deleted (the per-index descriptors)."""

    def saved(self, row: IndexRow, project_name: str) -> None: ...

    def deleted(self, row: IndexRow) -> None: ...


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._lock = threading.Lock()
        # Every data-plane request resolves its key and its index; both are cached here.
        # Only this process writes the catalog, and every write of keys or indexes
        # clears the caches under the lock that fills them, so a hit is never stale.
        # Index rows are cached as the stored tuple: each caller gets its own IndexRow.
        self._key_cache: dict[str, KeyGrant | None] = {}
        self._index_cache: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.index_listener: IndexListener | None = None
        self._migrate()

    def write(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        """One statement that changes keys or indexes (used by KeyCatalog too)."""
        with self._lock:
            try:
                self._db.execute(sql, args)
            except sqlite3.OperationalError as exc:
                # One autocommit statement: SQLite rolled it back, nothing was written.
                if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise StorageFull() from exc
                raise
            self._forget()

    def _forget(self) -> None:
        """Drop cached reads; the caller holds ``_lock``."""
        self._key_cache.clear()
        self._index_cache.clear()

    def _migrate(self) -> None:
        with self._lock:
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
                self._db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- projects and keys ---------------------------------------------------

    def ensure_project(self, name: str = "default") -> str:
        with self._lock:
            row = self._db.execute("SELECT id FROM projects WHERE name=?", (name,)).fetchone()
            if row:
                return str(row[0])
            project_id = f"proj-{secrets.token_hex(6)}"
            self._db.execute(
                "INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)",
                (project_id, name, time.time()),
            )
            return project_id

    def has_keys(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None

    def add_key(self, project_id: str, key: str, name: str = "default") -> None:
        self.write(
            "INSERT OR IGNORE INTO api_keys (hash, project_id, name, created_at)"
            " VALUES (?, ?, ?, ?)",
            (_hash_key(key), project_id, name, time.time()),
        )

    def project_for_key(self, key: str) -> str | None:
        grant = self.grant_for_key(key)
        return grant.project_id if grant else None

    def grant_for_key(self, key: str) -> KeyGrant | None:
        """The key's project, hash and roles (``None``: not a key)."""
        if key in self._key_cache:  # a dict read is atomic; fills happen under the lock
            return self._key_cache.get(key)
        digest = _hash_key(key)
        with self._lock:
            row = self._db.execute(
                "SELECT project_id, roles FROM api_keys WHERE hash=?", (digest,)
            ).fetchone()
            found = KeyGrant(str(row[0]), digest, tuple(json.loads(row[1]))) if row else None
            if len(self._key_cache) >= _CACHE_MAX:  # bounded: callers choose the keys
                self._key_cache.clear()
            self._key_cache[key] = found
        return found

    # -- indexes ---------------------------------------------------------------

    def create_index(self, project_id: str, name: str, spec: dict[str, Any]) -> IndexRow:
        row = IndexRow(project_id, name, secrets.token_hex(8), "Initializing", time.time(), spec)
        try:
            self.write(
                "INSERT INTO indexes VALUES (?, ?, ?, ?, ?, ?)",
                (project_id, name, row.uid, row.state, json.dumps(spec), row.created_at),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists("Resource already exists") from None
        self._saved(row)
        return row

    def _saved(self, row: IndexRow) -> None:
        if self.index_listener is not None:
            self.index_listener.saved(row, self.project_name(row.project_id))

    def project_name(self, project_id: str) -> str:
        with self._lock:
            found = self._db.execute(
                "SELECT name FROM projects WHERE id=?", (project_id,)
            ).fetchone()
        if found is None:
            raise NotFound(f"Project {project_id} not found")
        return str(found[0])

    def restore_index(self, row: IndexRow, project_name: str) -> None:
        """Insert an index row as it was (same uid and project), rebuilding a lost catalog
        from the descriptors kept beside the index data."""
        self.write(
            "INSERT OR IGNORE INTO projects (id, name, created_at) VALUES (?, ?, ?)",
            (row.project_id, project_name, time.time()),
        )
        self.write(
            "INSERT INTO indexes VALUES (?, ?, ?, ?, ?, ?)",
            (row.project_id, row.name, row.uid, row.state, json.dumps(row.spec), row.created_at),
        )

    def get_index(self, project_id: str, name: str) -> IndexRow:
        found = self._index_cache.get((project_id, name))
        if found is None:
            with self._lock:
                found = self._db.execute(
                    "SELECT project_id, name, uid, state, created_at, spec FROM indexes"
                    " WHERE project_id=? AND name=?",
                    (project_id, name),
                ).fetchone()
                if found is not None:
                    if len(self._index_cache) >= _CACHE_MAX:
                        self._index_cache.clear()
                    self._index_cache[(project_id, name)] = found
        if found is None:
            raise NotFound(f"Resource {name} not found")
        return _row(found)

    def list_indexes(self, project_id: str | None = None) -> list[IndexRow]:
        query = "SELECT project_id, name, uid, state, created_at, spec FROM indexes"
        args: tuple[str, ...] = ()
        if project_id is not None:
            query += " WHERE project_id=?"
            args = (project_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_at", args).fetchall()
        return [_row(r) for r in rows]

    def update_index(
        self, row: IndexRow, *, spec: dict[str, Any] | None = None, state: str | None = None
    ) -> IndexRow:
        if spec is not None:
            row.spec = spec
        if state is not None:
            row.state = state
        self.write(
            "UPDATE indexes SET spec=?, state=? WHERE uid=?",
            (json.dumps(row.spec), row.state, row.uid),
        )
        self._saved(row)
        return row

    def delete_index(self, row: IndexRow) -> None:
        if self.index_listener is not None:
            self.index_listener.deleted(row)  # first: a crash must not bring the index back
        self.write("DELETE FROM indexes WHERE uid=?", (row.uid,))


_CACHE_MAX = 4096


def _row(found: tuple[Any, ...]) -> IndexRow:
    project_id, name, uid, state, created_at, spec = found
    return IndexRow(project_id, name, uid, state, created_at, json.loads(spec))
