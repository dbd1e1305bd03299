"""Admin API: projects, their API keys, admin tokens and the audit log.

Shapes follow Pinecone's Admin API as ``pinecone.Admin`` decodes them
(``/admin/projects``, ``/admin/projects/{id}/api-keys``, ``/admin/api-keys/{id}``).
Callers authenticate with a bearer token from ``POST /oauth/token`` (what
``Admin(host=..., oauth_url=...)`` does), or with an ``Api-Key`` holding
``ProjectEditor``, which sees only its own project (what the console does).
``GET /admin/audit-log`` is Spruce's own: Pinecone shows audit logs in its console only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, services
from spruce.catalog.admin import AuditRow, FullProjectRow
from spruce.errors import InvalidArgument, SpruceError, Unavailable
from spruce.service.admin import AdminOps
from spruce.service.auth import Caller, KeyRow
from spruce.service.tokens import TOKEN_SECONDS

__all__ = ["routes"]

#: Every project is in this one organization (Spruce has no organizations).
ORGANIZATION = "spruce"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _project_json(row: FullProjectRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "max_pods": row.max_pods,
        "force_encryption_with_cmek": row.force_encryption_with_cmek,
        "organization_id": ORGANIZATION,
        "created_at": _iso(row.created_at),
    }


def _key_json(row: KeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "project_id": row.project_id,
        "roles": list(row.roles),
        "created_at": _iso(row.created_at),
    }


def _audit_json(row: AuditRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "time": _iso(row.at),
        "actor": row.actor,
        "project_id": row.project_id,
        "action": row.action,
        "target": row.target,
        "status": row.status,
    }


def _ops(request: Request) -> tuple[AdminOps, Caller]:
    """The admin operations and the caller (kept on the request for the audit log)."""
    svc = services(request)
    if svc.admin is None:
        raise Unavailable("The admin API is not served by this server")
    header = request.headers.get("authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    caller = svc.auth.admin_caller(bearer, request.headers.get("api-key"))
    request.state.caller = caller
    return svc.admin, caller


def _for_project(request: Request, project_id: str) -> str:
    request.state.audit_project = project_id
    return project_id


async def list_projects(request: Request) -> Response:
    ops, caller = _ops(request)
    rows = await offload(ops.projects, caller)
    return json_response({"data": [_project_json(r) for r in rows]})


async def create_project(request: Request) -> Response:
    ops, caller = _ops(request)
    row = await offload(ops.create_project, caller, await json_body(request))
    _for_project(request, row.id)
    return json_response(_project_json(row), status=201)


async def describe_project(request: Request) -> Response:
    ops, caller = _ops(request)
    row = await offload(ops.project, caller, request.path_params["project"])
    return json_response(_project_json(row))


async def update_project(request: Request) -> Response:
    ops, caller = _ops(request)
    target = _for_project(request, request.path_params["project"])
    row = await offload(ops.update_project, caller, target, await json_body(request))
    return json_response(_project_json(row))


async def delete_project(request: Request) -> Response:
    ops, caller = _ops(request)
    target = _for_project(request, request.path_params["project"])
    await offload(ops.delete_project, caller, target)
    return Response(status_code=202)


async def list_keys(request: Request) -> Response:
    ops, caller = _ops(request)
    rows = await offload(ops.list_keys, caller, request.path_params["project"])
    return json_response({"data": [_key_json(r) for r in rows]})


async def create_key(request: Request) -> Response:
    ops, caller = _ops(request)
    target = _for_project(request, request.path_params["project"])
    row, secret = await offload(ops.create_key, caller, target, await json_body(request))
    return json_response({"key": _key_json(row), "value": secret}, status=201)


async def describe_key(request: Request) -> Response:
    ops, caller = _ops(request)
    row = await offload(ops.key, caller, request.path_params["key"])
    return json_response(_key_json(row))


async def update_key(request: Request) -> Response:
    ops, caller = _ops(request)
    body = await json_body(request)
    row = await offload(ops.update_key, caller, request.path_params["key"], body)
    _for_project(request, row.project_id)
    return json_response(_key_json(row))


async def delete_key(request: Request) -> Response:
    ops, caller = _ops(request)
    row = await offload(ops.key, caller, request.path_params["key"])
    _for_project(request, row.project_id)
    await offload(ops.delete_key, caller, row.id)
    return Response(status_code=202)


async def audit_log(request: Request) -> Response:
    ops, caller = _ops(request)
    query = request.query_params
    rows, token = await offload(
        ops.audit, caller, query.get("project_id"), query.get("paginationToken"), query.get("limit")
    )
    body: dict[str, Any] = {"data": [_audit_json(r) for r in rows]}
    if token is not None:
        body["pagination"] = {"next": token}
    return json_response(body)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status=status)


async def token(request: Request) -> Response:
    """OAuth 2 client credentials, as the SDK's ``Admin`` sends them (a JSON body)."""
    try:
        body = await json_body(request)
    except InvalidArgument as exc:
        return _oauth_error(400, "invalid_request", exc.message)
    if body.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    try:
        minted = await offload(
            services(request).auth.exchange, body.get("client_id"), body.get("client_secret")
        )
    except SpruceError as exc:
        return _oauth_error(401, "invalid_client", exc.message)
    return json_response(
        {"access_token": minted, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}
    )


routes = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/admin/projects", list_projects, methods=["GET"]),
    Route("/admin/projects", create_project, methods=["POST"]),
    Route("/admin/projects/{project}", describe_project, methods=["GET"]),
    Route("/admin/projects/{project}", update_project, methods=["PATCH"]),
    Route("/admin/projects/{project}", delete_project, methods=["DELETE"]),
    Route("/admin/projects/{project}/api-keys", list_keys, methods=["GET"]),
    Route("/admin/projects/{project}/api-keys", create_key, methods=["POST"]),
    Route("/admin/api-keys/{key}", describe_key, methods=["GET"]),
    Route("/admin/api-keys/{key}", update_key, methods=["PATCH"]),
    Route("/admin/api-keys/{key}", delete_key, methods=["DELETE"]),
    Route("/admin/audit-log", audit_log, methods=["GET"]),
]
