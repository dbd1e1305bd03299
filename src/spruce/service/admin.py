"""The admin API's operations: projects, their API keys, and the audit log.

An admin credential (``Caller.project`` None) reaches every project; an API key with
``ProjectEditor`` reaches its own project's keys and nothing else. A project another
caller cannot reach is "not found", never "forbidden", so ids do not leak.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import replace
from typing import Any

from spruce.catalog import Catalog
from spruce.catalog.admin import AuditRow, FullProjectRow
from spruce.catalog.keys import KeyRow
from spruce.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from spruce.service.auth import KEY_ROLES, Auth, Caller

__all__ = ["AdminOps"]

_MAX_KEY_NAME = 80
_MAX_PROJECT_NAME = 512
_MAX_PAGE = 1000


def _name(value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument("name must be a non-empty string")
    if len(value) > limit:
        raise InvalidArgument(f"name must be at most {limit} characters")
    if "\x00" in value:
        raise InvalidArgument("name cannot contain null characters")
    return value


def _roles(value: object) -> tuple[str, ...]:
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(r, str) or r not in KEY_ROLES for r in value)
    ):
        raise InvalidArgument(f"roles must be a non-empty list of {list(KEY_ROLES)}")
    return tuple(dict.fromkeys(value))


class AdminOps:
    def __init__(self, catalog: Catalog, auth: Auth) -> None:
        self._catalog = catalog
        self._rows = auth.admin_catalog
        self._keys = auth.keys

    # -- projects ------------------------------------------------------------------

    def _admin_only(self, caller: Caller) -> None:
        if caller.project is not None:
            raise PermissionDenied("Creating, updating and deleting projects needs an admin token")

    def projects(self, caller: Caller) -> list[FullProjectRow]:
        return [p for p in self._rows.projects() if caller.project in (None, p.id)]

    def project(self, caller: Caller, project_id: str) -> FullProjectRow:
        found = self._rows.project(project_id) if caller.project in (None, project_id) else None
        if found is None:
            raise NotFound(f"Project {project_id} not found")
        return found

    def create_project(self, caller: Caller, body: dict[str, Any]) -> FullProjectRow:
        self._admin_only(caller)
        row = FullProjectRow(
            f"proj-{secrets.token_hex(6)}",
            _name(body.get("name"), _MAX_PROJECT_NAME),
            _pods(body.get("max_pods", 0)),
            _flag(body.get("force_encryption_with_cmek", False)),
            time.time(),
        )
        self._rows.save_project(row, new=True)
        return row

    def update_project(
        self, caller: Caller, project_id: str, body: dict[str, Any]
    ) -> FullProjectRow:
        self._admin_only(caller)
        row = self.project(caller, project_id)
        changes: dict[str, Any] = {}
        if "name" in body:
            changes["name"] = _name(body["name"], _MAX_PROJECT_NAME)
        if "max_pods" in body:
            changes["max_pods"] = _pods(body["max_pods"])
        if "force_encryption_with_cmek" in body:
            changes["force_encryption_with_cmek"] = _flag(body["force_encryption_with_cmek"])
        row = replace(row, **changes)
        self._rows.save_project(row, new=False)
        return row

    def delete_project(self, caller: Caller, project_id: str) -> None:
        self._admin_only(caller)
        row = self.project(caller, project_id)
        held = self._catalog.list_indexes(row.id)
        if held:
            raise FailedPrecondition(
                f"Project {row.id} still has {len(held)} index(es); delete them first"
            )
        self._rows.delete_project(row.id)

    # -- API keys ------------------------------------------------------------------

    def list_keys(self, caller: Caller, project_id: str) -> list[KeyRow]:
        return self._keys.list_keys(self.project(caller, project_id).id)

    def create_key(
        self, caller: Caller, project_id: str, body: dict[str, Any]
    ) -> tuple[KeyRow, str]:
        """A new key and its secret, which is never stored and never shown again."""
        project = self.project(caller, project_id)
        name = _name(body.get("name"), _MAX_KEY_NAME)
        roles = _roles(body["roles"]) if body.get("roles") is not None else ("ProjectEditor",)
        secret = f"sk-spruce-{secrets.token_urlsafe(24)}"
        return self._keys.insert(project.id, secret, name, roles), secret

    def key(self, caller: Caller, key_id: str) -> KeyRow:
        found = self._keys.find(caller.project, key_id)
        if found is None:
            raise NotFound(f"API key {key_id} not found")
        return found

    def update_key(self, caller: Caller, key_id: str, body: dict[str, Any]) -> KeyRow:
        row = self.key(caller, key_id)
        name = _name(body["name"], _MAX_KEY_NAME) if body.get("name") is not None else row.name
        roles = _roles(body["roles"]) if body.get("roles") is not None else row.roles
        return self._keys.update(row, name, roles)

    def delete_key(self, caller: Caller, key_id: str) -> None:
        if not self._keys.delete(caller.project, key_id):
            raise NotFound(f"API key {key_id} not found")

    # -- audit log -----------------------------------------------------------------

    def audit(
        self, caller: Caller, project_id: str | None, after: str | None, limit: str | None
    ) -> tuple[list[AuditRow], str | None]:
        """One page of entries and the token of the next (None: the last page)."""
        if caller.project is not None:
            if project_id not in (None, caller.project):
                raise NotFound(f"Project {project_id} not found")
            project_id = caller.project
        start = _int_param("paginationToken", after or "0", 0, 2**62)
        size = _int_param("limit", limit or "100", 1, _MAX_PAGE)
        rows = self._rows.audit(project_id, start, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        return rows, (str(rows[-1].id) if more else None)


def _pods(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**31:
        raise InvalidArgument("max_pods must be a non-negative integer")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgument("force_encryption_with_cmek must be a boolean")
    return value


def _int_param(name: str, text: str, low: int, high: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidArgument(f"{name} must be an integer from {low} to {high}")
    return value
