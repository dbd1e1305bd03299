"""Bulk import jobs and storage integrations, in the catalog's SQLite database.

Uses the ``Catalog``'s connection and lock (one connection, not thread-safe). Job
state changes that race with each other (a cancel against the runner starting to
publish) are single conditional UPDATEs, so SQLite decides which one wins.

A job's ``status`` is what Pinecone reports (Pending, InProgress, Completed, Failed,
Cancelled); ``phase`` is the runner's own: "" while loading, "publishing" once the
namespaces are being renamed into place (a cancel then has no effect).
``checkpoint`` is the runner's JSON state for resuming after a restart.

Integration configs (credentials) are stored encrypted (``catalog/secrets.py``); rows
written before encryption are encrypted when the catalog opens, and the pages and WAL
frames that held their plaintext are overwritten.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from spruce.catalog.secrets import SecretBox, is_sealed
from spruce.catalog.store import Catalog
from spruce.errors import AlreadyExists, NotFound

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "IN_PROGRESS",
    "ImportCatalog",
    "ImportJob",
    "PENDING",
    "PUBLISHING",
    "StorageIntegration",
]

PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED = (
    "Pending",
    "InProgress",
    "Completed",
    "Failed",
    "Cancelled",
)
ACTIVE = (PENDING, IN_PROGRESS)
PUBLISHING = "publishing"

_JOB_COLUMNS = (
    "id, project_id, index_uid, uri, integration_id, error_mode, status, phase, created_at,"
    " finished_at, percent_complete, records_imported, error, checkpoint"
)


@dataclass
class ImportJob:
    id: str
    project_id: str
    index_uid: str
    uri: str
    integration_id: str | None
    error_mode: str
    status: str
    phase: str
    created_at: float
    finished_at: float | None = None
    percent_complete: float = 0.0
    records_imported: int = 0
    error: str | None = None
    checkpoint: dict[str, Any] = field(default_factory=dict)


@dataclass
class StorageIntegration:
    """Credentials for one object store, referenced by ``id`` from start_import."""

    id: str
    project_id: str
    name: str
    provider: str
    config: dict[str, str]
    created_at: float


def _job(row: tuple[Any, ...]) -> ImportJob:
    *head, checkpoint = row
    job = ImportJob(*head)
    job.id = str(job.id)
    job.checkpoint = json.loads(checkpoint)
    return job


class ImportCatalog:
    def __init__(self, catalog: Catalog, secrets: SecretBox | None = None) -> None:
        # Same connection and lock as the Catalog: SQLite connections are not
        # thread-safe, and one writer at a time is what SQLite does anyway.
        self._db = catalog._db
        self._lock = catalog._lock
        self._box = secrets or SecretBox.open(catalog.path.parent)
        self._seal_plaintext()

    def _seal_plaintext(self) -> None:
        """Encrypt integration rows stored in plaintext (catalogs from before encryption)."""
        with self._lock:
            # Deleted and rewritten content is zeroed, not left in free pages.
            self._db.execute("PRAGMA secure_delete=ON")
            rows = self._db.execute("SELECT id, config FROM storage_integrations").fetchall()
            plain = [
                (self._box.seal(config, rid), rid) for rid, config in rows if not is_sealed(config)
            ]
            if not plain:
                return
            self._db.execute("BEGIN")
            self._db.executemany("UPDATE storage_integrations SET config=? WHERE id=?", plain)
            self._db.execute("COMMIT")
            # Rewrite the file without the old pages, and empty the WAL that held them.
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _config(self, row_id: str, stored: str) -> dict[str, str]:
        found: dict[str, str] = json.loads(self._box.unseal(stored, row_id))
        return found

    # -- jobs ------------------------------------------------------------------

    def create_job(
        self,
        project_id: str,
        index_uid: str,
        uri: str,
        integration_id: str | None,
        error_mode: str,
    ) -> ImportJob:
        now = time.time()
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO import_jobs (project_id, index_uid, uri, integration_id,"
                " error_mode, status, phase, created_at, percent_complete, records_imported,"
                " checkpoint) VALUES (?, ?, ?, ?, ?, ?, '', ?, 0.0, 0, '{}')",
                (project_id, index_uid, uri, integration_id, error_mode, PENDING, now),
            )
            job_id = cursor.lastrowid
        return ImportJob(
            str(job_id), project_id, index_uid, uri, integration_id, error_mode, PENDING, "", now
        )

    def job(self, job_id: str) -> ImportJob | None:
        if not job_id.isdigit():
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM import_jobs WHERE id=?", (int(job_id),)
            ).fetchone()
        return _job(row) if row else None

    def get_job(self, index_uid: str, job_id: str) -> ImportJob:
        job = self.job(job_id)
        if job is None or job.index_uid != index_uid:
            raise NotFound(f"Import {job_id} not found")
        return job

    def list_jobs(self, index_uid: str, *, after: int, limit: int) -> list[ImportJob]:
        """Jobs of one index in creation order, those with id > ``after``."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM import_jobs WHERE index_uid=? AND id>?"
                " ORDER BY id LIMIT ?",
                (index_uid, after, limit),
            ).fetchall()
        return [_job(r) for r in rows]

    def active_jobs(self) -> list[ImportJob]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_JOB_COLUMNS} FROM import_jobs WHERE status IN (?, ?) ORDER BY id",
                ACTIVE,
            ).fetchall()
        return [_job(r) for r in rows]

    def _update(self, sql: str, args: tuple[Any, ...]) -> bool:
        with self._lock:
            return self._db.execute(sql, args).rowcount == 1

    def start(self, job_id: str) -> bool:
        """Pending -> InProgress; False if the job is no longer pending."""
        return self._update(
            "UPDATE import_jobs SET status=? WHERE id=? AND status=?",
            (IN_PROGRESS, int(job_id), PENDING),
        )

    def progress(
        self,
        job_id: str,
        percent: float,
        records: int,
        checkpoint: dict[str, Any] | None = None,
    ) -> None:
        if checkpoint is None:
            self._update(
                "UPDATE import_jobs SET percent_complete=?, records_imported=? WHERE id=?",
                (percent, records, int(job_id)),
            )
        else:
            self._update(
                "UPDATE import_jobs SET percent_complete=?, records_imported=?, checkpoint=?"
                " WHERE id=?",
                (percent, records, json.dumps(checkpoint), int(job_id)),
            )

    def begin_publish(self, job_id: str) -> bool:
        """Enter the publishing phase unless a cancel got there first."""
        return self._update(
            "UPDATE import_jobs SET phase=? WHERE id=? AND status=?",
            (PUBLISHING, int(job_id), IN_PROGRESS),
        )

    def finish(
        self,
        job_id: str,
        status: str,
        *,
        error: str | None = None,
        records: int | None = None,
    ) -> bool:
        """Move an active job to a final status; False if it had already finished."""
        percent = ", percent_complete=100.0" if status == COMPLETED else ""
        count = ", records_imported=?" if records is not None else ""
        args: tuple[Any, ...] = (status, time.time(), error)
        if records is not None:
            args += (records,)
        return self._update(
            f"UPDATE import_jobs SET status=?, finished_at=?, error=?{percent}{count}"
            " WHERE id=? AND status IN (?, ?)",
            (*args, int(job_id), *ACTIVE),
        )

    def cancel(self, index_uid: str, job_id: str) -> ImportJob:
        """Cancel an unfinished job; no effect once it finished or began publishing."""
        self.get_job(index_uid, job_id)  # NotFound for another index's job
        self._update(
            "UPDATE import_jobs SET status=?, finished_at=? WHERE id=? AND status IN (?, ?)"
            " AND phase!=?",
            (CANCELLED, time.time(), int(job_id), *ACTIVE, PUBLISHING),
        )
        return self.get_job(index_uid, job_id)

    # -- storage integrations ----------------------------------------------------

    def add_integration(
        self, project_id: str, name: str, provider: str, config: dict[str, str]
    ) -> StorageIntegration:
        found = StorageIntegration(
            str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)),
            project_id,
            name,
            provider,
            config,
            time.time(),
        )
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO storage_integrations VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        found.id,
                        project_id,
                        name,
                        provider,
                        self._box.seal(json.dumps(config), found.id),
                        found.created_at,
                    ),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(f"Storage integration {name} already exists") from None
        return found

    def integration(self, project_id: str, integration_id: str) -> StorageIntegration:
        with self._lock:
            row = self._db.execute(
                "SELECT id, project_id, name, provider, config, created_at"
                " FROM storage_integrations WHERE id=? AND project_id=?",
                (integration_id, project_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Storage integration {integration_id} not found")
        return StorageIntegration(
            row[0], row[1], row[2], row[3], self._config(row[0], row[4]), row[5]
        )

    def integrations(self, project_id: str) -> list[StorageIntegration]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, project_id, name, provider, config, created_at"
                " FROM storage_integrations WHERE project_id=? ORDER BY created_at",
                (project_id,),
            ).fetchall()
        return [
            StorageIntegration(r[0], r[1], r[2], r[3], self._config(r[0], r[4]), r[5]) for r in rows
        ]

    def delete_integration(self, project_id: str, integration_id: str) -> None:
        with self._lock:
            deleted = self._db.execute(
                "DELETE FROM storage_integrations WHERE id=? AND project_id=?",
                (integration_id, project_id),
            ).rowcount
        if not deleted:
            raise NotFound(f"Storage integration {integration_id} not found")
