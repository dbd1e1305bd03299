"""The audit log's edge: every control-plane change, whatever its outcome, is one row.

Audited: writes outside the data plane (indexes, projects, keys, storage integrations,
read capacity) and, on the data plane, namespace and bulk-import changes. The row names
the caller (key id or admin client id, set on the request by the route), the route's
handler as the action, its path parameters as the target, and the HTTP status.
Unauthenticated attempts are not recorded: they change nothing and anyone can send them.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spruce.api.rest.common import offload
from spruce.service.auth import Caller

__all__ = ["Audit"]

_NOT_CHANGES = ("/oauth/token", "/embed", "/rerank", "/_test/")
_DATA_PLANE_CHANGES = ("/namespaces", "/bulk/imports")


def _audited(method: str, path: str) -> bool:
    if method in ("GET", "HEAD") or path.startswith(_NOT_CHANGES):
        return False
    if path.startswith("/data/"):
        rest = path.split("/", 4)[-1] if path.count("/") >= 4 else ""
        return ("/" + rest).startswith(_DATA_PLANE_CHANGES)
    return not path.endswith("/describe_index_stats")


class Audit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _audited(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        status = 500

        async def seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, seen)
        finally:
            await _record(scope, status)


async def _record(scope: Scope, status: int) -> None:
    state: dict[str, Any] = scope.get("state") or {}
    caller = state.get("caller")
    endpoint = scope.get("endpoint")
    if not isinstance(caller, Caller) or endpoint is None:
        return
    services = scope["app"].state.services
    action = f"{endpoint.__module__.rsplit('.', 1)[-1]}.{endpoint.__name__}"
    target = "/".join(str(v) for v in scope.get("path_params", {}).values())
    project = state.get("audit_project", caller.project)
    await offload(services.auth.admin_catalog.record, caller.actor, project, action, target, status)
