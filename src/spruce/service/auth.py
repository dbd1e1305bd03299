"""Who a request acts for: API keys (data and control planes) and admin bearer tokens.

A key belongs to one project and holds Pinecone's roles; ``authorize`` checks them
against the plane a request touches and whether it writes. Admin tokens come from
``POST /oauth/token`` (service/tokens.py) and are accepted on the admin API only.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from spruce.catalog import Catalog
from spruce.catalog.admin import AdminCatalog
from spruce.catalog.keys import KeyCatalog, KeyRow, ProjectRow, key_id
from spruce.errors import PermissionDenied, Unauthenticated
from spruce.service.tokens import TokenSigner

__all__ = ["KEY_ROLES", "Auth", "Caller", "KeyRow", "Plane", "ProjectRow", "allowed"]

#: Pinecone's API key roles, as ``pinecone.APIKeyRole`` names them.
KEY_ROLES = (
    "ProjectEditor",
    "ProjectViewer",
    "ControlPlaneEditor",
    "ControlPlaneViewer",
    "DataPlaneEditor",
    "DataPlaneViewer",
)
Plane = str  # "control" or "data"
#: (plane, writes) -> the roles that allow it.
_GRANTS: dict[tuple[Plane, bool], frozenset[str]] = {
    ("control", True): frozenset({"ProjectEditor", "ControlPlaneEditor"}),
    ("control", False): frozenset(
        {"ProjectEditor", "ProjectViewer", "ControlPlaneEditor", "ControlPlaneViewer"}
    ),
    ("data", True): frozenset({"ProjectEditor", "DataPlaneEditor"}),
    ("data", False): frozenset(
        {"ProjectEditor", "ProjectViewer", "DataPlaneEditor", "DataPlaneViewer"}
    ),
}


def allowed(roles: tuple[str, ...], plane: Plane, write: bool) -> bool:
    return not _GRANTS[(plane, write)].isdisjoint(roles)


@dataclass(frozen=True)
class Caller:
    """An authenticated principal. ``project`` is None for an admin credential, which
    reaches every project; ``actor`` (a key id or client id) is what the audit log names."""

    actor: str
    project: str | None


class Auth:
    """Checks ``Api-Key`` values against the catalog; ``dev`` accepts any key."""

    def __init__(self, catalog: Catalog, *, dev: bool) -> None:
        self._catalog = catalog
        self._dev = dev
        self.keys = KeyCatalog(catalog)
        self.admin_catalog = AdminCatalog(catalog)
        self.tokens = TokenSigner(catalog.path.parent)
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
        """The key's project, for a request any role may make."""
        return self.authorize(key, None, False).project or self.default_project

    def authorize(self, key: str | None, plane: Plane | None, write: bool) -> Caller:
        """The caller behind ``key``, if its roles allow ``plane`` (None: any role will do)."""
        if not key:
            raise Unauthenticated(
                "API key is missing. Pass it in the Api-Key header (the SDK does this for you)."
            )
        if self._dev:
            return Caller("dev", self.default_project)
        grant = self._catalog.grant_for_key(key)
        if grant is None:
            raise Unauthenticated("Invalid API Key")
        if plane is not None and not allowed(grant.roles, plane, write):
            raise PermissionDenied(
                f"The API key's roles ({', '.join(grant.roles)}) do not allow "
                f"{'writes to' if write else 'reads of'} the {plane} plane"
            )
        return Caller(key_id(grant.key_hash), grant.project_id)

    def admin_caller(self, bearer: str | None, key: str | None) -> Caller:
        """The admin API's caller: a bearer token from ``/oauth/token``, or a key with
        ``ProjectEditor``, which manages its own project's keys (what the console does)."""
        if bearer is not None:
            client_id = self.tokens.subject(bearer)
            # The credential must still exist: deleting it ends its tokens at once.
            if client_id is None or self.admin_catalog.credential(client_id) is None:
                raise Unauthenticated("Invalid or expired bearer token")
            return Caller(client_id, None)
        caller = self.authorize(key, None, False)
        grant = self._catalog.grant_for_key(key or "")
        if grant is not None and "ProjectEditor" not in grant.roles:
            raise PermissionDenied("Managing API keys needs the ProjectEditor role")
        return caller

    def exchange(self, client_id: object, client_secret: object) -> str:
        """A bearer token for a credential (``POST /oauth/token``)."""
        if (
            not isinstance(client_id, str)
            or not isinstance(client_secret, str)
            or self.admin_catalog.credential(client_id, client_secret) is None
        ):
            raise Unauthenticated("Unknown client_id or wrong client_secret")
        return self.tokens.mint(client_id)
