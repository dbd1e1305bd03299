"""Bulk import use cases: start, list, describe and cancel imports; storage integrations.

Requests are checked here, synchronously (a bad URI, error mode or integration is a
400); everything about the data itself is checked by the job, whose failure and
Pinecone's message then show in ``describe_import``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass

from spruce.catalog import IndexRow
from spruce.catalog.imports import ImportCatalog, ImportJob, StorageIntegration
from spruce.errors import FailedPrecondition, InvalidArgument, NotFound
from spruce.imports import PROVIDERS, ImportRunner, check_integration, check_local, parse_uri

__all__ = ["ImportPage", "Imports"]

MAX_URI = 1500
MAX_INTEGRATION_ID = 1000
MAX_LIST_LIMIT = 100
_ERROR_MODES = ("continue", "abort")


@dataclass
class ImportPage:
    jobs: list[ImportJob]
    next_token: str | None


def _token(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def _after(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix != "after" or not number.isdigit():
            raise ValueError
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidArgument("Invalid pagination token") from None


class Imports:
    def __init__(self, jobs: ImportCatalog, runner: ImportRunner) -> None:
        self._jobs = jobs
        self._runner = runner

    # -- imports -----------------------------------------------------------------

    def start(
        self,
        index: IndexRow,
        *,
        uri: object,
        integration_id: object = None,
        error_mode: object = None,
    ) -> ImportJob:
        if not isinstance(uri, str) or not 1 <= len(uri) <= MAX_URI:
            raise InvalidArgument(f"uri must be a string of 1 to {MAX_URI} characters")
        mode = _error_mode(error_mode)
        source = parse_uri(uri)
        check_local(source, self._runner.config.local_roots)
        if (index.spec.get("read_capacity") or {}).get("mode") == "Dedicated":
            raise FailedPrecondition(
                "Bulk import is not supported for indexes with dedicated read capacity"
            )
        if source.scheme == "s3" and index.spec.get("cloud", "aws") != "aws":
            raise InvalidArgument(
                "You cannot import data from an AWS S3 bucket into an index hosted on "
                f"{str(index.spec.get('cloud')).upper()}"
            )
        if integration_id is not None:
            if not isinstance(integration_id, str) or len(integration_id) > MAX_INTEGRATION_ID:
                raise InvalidArgument(
                    f"integrationId must be a string of at most {MAX_INTEGRATION_ID} characters"
                )
            try:
                found = self._jobs.integration(index.project_id, integration_id)
            except NotFound:
                raise InvalidArgument(f"Storage integration {integration_id} not found") from None
            check_integration(source, found.provider)
        job = self._jobs.create_job(index.project_id, index.uid, uri, integration_id or None, mode)
        self._runner.submit(job.id)
        return job

    def list_imports(
        self, index: IndexRow, *, limit: object = None, token: str | None = None
    ) -> ImportPage:
        if limit is None:
            limit = MAX_LIST_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidArgument("limit must be an integer")
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise InvalidArgument(f"Invalid limit {limit}: must be between 1 and {MAX_LIST_LIMIT}")
        jobs = self._jobs.list_jobs(index.uid, after=_after(token), limit=limit + 1)
        more = len(jobs) > limit
        jobs = jobs[:limit]
        return ImportPage(jobs, _token(jobs[-1].id) if more else None)

    def describe(self, index: IndexRow, import_id: str) -> ImportJob:
        return self._jobs.get_job(index.uid, import_id)

    def cancel(self, index: IndexRow, import_id: str) -> ImportJob:
        """Cancel an unfinished import; a finished one is left as it is."""
        job = self._jobs.cancel(index.uid, import_id)
        if job.status == "Cancelled":
            self._runner.cancel(job.id)
        return job

    # -- storage integrations ------------------------------------------------------

    def add_integration(
        self, project_id: str, *, name: object, provider: object, credentials: object
    ) -> StorageIntegration:
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise InvalidArgument("name must be a string of 1 to 100 characters")
        if not isinstance(provider, str) or provider not in PROVIDERS:
            raise InvalidArgument(
                f"Invalid provider {provider!r}: expected one of {', '.join(PROVIDERS)}"
            )
        allowed = PROVIDERS[str(provider)][1]
        if not isinstance(credentials, Mapping) or not credentials:
            raise InvalidArgument(
                f"credentials must be an object with some of: {', '.join(sorted(allowed))}"
            )
        config: dict[str, str] = {}
        for key, value in credentials.items():
            if key not in allowed:
                raise InvalidArgument(
                    f"Unknown credential {key!r} for provider {provider}: expected some of "
                    f"{', '.join(sorted(allowed))}"
                )
            if not isinstance(value, str):
                raise InvalidArgument(f"Credential {key!r} must be a string")
            config[key] = value
        return self._jobs.add_integration(project_id, name, str(provider), config)

    def integrations(self, project_id: str) -> list[StorageIntegration]:
        return self._jobs.integrations(project_id)

    def integration(self, project_id: str, integration_id: str) -> StorageIntegration:
        return self._jobs.integration(project_id, integration_id)

    def delete_integration(self, project_id: str, integration_id: str) -> None:
        self._jobs.delete_integration(project_id, integration_id)


def _error_mode(raw: object) -> str:
    """``errorMode.onError``: continue or abort (any case); abort when omitted."""
    if raw is None:
        return "abort"
    if not isinstance(raw, Mapping):
        raise InvalidArgument("errorMode must be an object with onError")
    mode = raw.get("onError", raw.get("on_error"))
    if mode is None:
        return "abort"
    if not isinstance(mode, str) or mode.lower() not in _ERROR_MODES:
        raise InvalidArgument(f"Invalid errorMode.onError {mode!r}: use continue or abort")
    return mode.lower()
