"""API keys: which project a request acts for."""

from __future__ import annotations

import secrets

from spruce.catalog import Catalog
from spruce.errors import Unauthenticated

__all__ = ["Auth"]


class Auth:
    """Checks ``Api-Key`` values against the catalog; ``dev`` accepts any key."""

    def __init__(self, catalog: Catalog, *, dev: bool) -> None:
        self._catalog = catalog
        self._dev = dev
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
