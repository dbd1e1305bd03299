"""API keys: which project a request acts for, and the keys a project has."""

from __future__ import annotations

import secrets

from spruce.catalog import Catalog
from spruce.catalog.keys import KeyCatalog, KeyRow, ProjectRow
from spruce.errors import InvalidArgument, NotFound, Unauthenticated

__all__ = ["Auth", "KEY_ROLES", "KeyRow", "ProjectRow"]

#: Every Spruce key may do everything in its project: Pinecone's ProjectEditor.
KEY_ROLES = ("ProjectEditor",)
_MAX_KEY_NAME = 80


class Auth:
    """Checks ``Api-Key`` values against the catalog; ``dev`` accepts any key."""

    def __init__(self, catalog: Catalog, *, dev: bool) -> None:
        self._catalog = catalog
        self._dev = dev
        self._keys = KeyCatalog(catalog)
        self.default_project = catalog.ensure_project()

    def bootstrap(self, key: str | None) -> str | None:
        """Register ``key``, or make one on first start; returns a key to print, if new."""
        if key:
            self._catalog.add_key(self.default_project, key)
            return None
        if self._catalog.has_keys():
            return None
        fresh = f"sk-spruce-{secrets.token_urlsafe(24)}"
        self._catalog.add_key(self.default_project, fresh)
        return fresh

    def project_for(self, key: str | None) -> str:
        if not key:
            raise Unauthenticated(
                "API key is missing. Pass it in the Api-Key header (the SDK does this for you)."
            )
        if self._dev:
            return self.default_project
        project = self._catalog.project_for_key(key)
        if project is None:
            raise Unauthenticated("Invalid API Key")
        return project

    # -- the admin API: a key manages the keys of its own project ------------------

    def project(self, caller: str, project_id: str) -> ProjectRow:
        found = self._keys.project(project_id) if project_id == caller else None
        if found is None:
            raise NotFound(f"Project {project_id} not found")
        return found

    def list_keys(self, caller: str, project_id: str) -> list[KeyRow]:
        return self._keys.list_keys(self.project(caller, project_id).id)

    def create_key(
        self, caller: str, project_id: str, name: object, roles: object = None
    ) -> tuple[KeyRow, str]:
        """A new key and its secret, which is never stored and never shown again."""
        project = self.project(caller, project_id)
        if not isinstance(name, str) or not name.strip():
            raise InvalidArgument("name must be a non-empty string")
        if len(name) > _MAX_KEY_NAME:
            raise InvalidArgument(f"name must be at most {_MAX_KEY_NAME} characters")
        if roles is not None and (
            not isinstance(roles, list) or not roles or any(r not in KEY_ROLES for r in roles)
        ):
            raise InvalidArgument(
                f"roles must be {list(KEY_ROLES)}: Spruce keys have full access to their project"
            )
        secret = f"sk-spruce-{secrets.token_urlsafe(24)}"
        return self._keys.insert(project.id, secret, name), secret

    def describe_key(self, caller: str, key_id: str) -> KeyRow:
        found = self._keys.find(caller, key_id)
        if found is None:
            raise NotFound(f"API key {key_id} not found")
        return found

    def delete_key(self, caller: str, key_id: str) -> None:
        if not self._keys.delete(caller, key_id):
            raise NotFound(f"API key {key_id} not found")
