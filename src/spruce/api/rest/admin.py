"""Admin API, the part a self-hosted server needs: the caller's project and its keys.

Shapes follow Pinecone's Admin API (``/admin/projects``, ``/admin/projects/{id}/api-keys``,
``/admin/api-keys/{id}``); authentication is the ``Api-Key`` header of the data and
control planes (Pinecone's admin API takes an OAuth bearer token instead), and a key
sees only its own project.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.service.auth import KEY_ROLES, KeyRow, ProjectRow

__all__ = ["routes"]


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _project_json(row: ProjectRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "max_pods": 0,
        "force_encryption_with_cmek": False,
        "organization_id": "spruce",
    }


def _key_json(row: KeyRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "project_id": row.project_id,
        "roles": list(KEY_ROLES),
        "created_at": _iso(row.created_at),
    }


async def list_projects(request: Request) -> Response:
    caller = project(request)
    row = await offload(services(request).auth.project, caller, caller)
    return json_response({"data": [_project_json(row)]})


async def describe_project(request: Request) -> Response:
    caller = project(request)
    row = await offload(services(request).auth.project, caller, request.path_params["project"])
    return json_response(_project_json(row))


async def list_keys(request: Request) -> Response:
    caller = project(request)
    rows = await offload(services(request).auth.list_keys, caller, request.path_params["project"])
    return json_response({"data": [_key_json(r) for r in rows]})


async def create_key(request: Request) -> Response:
    caller = project(request)
    body = await json_body(request)
    row, secret = await offload(
        services(request).auth.create_key,
        caller,
        request.path_params["project"],
        body.get("name"),
        body.get("roles"),
    )
    return json_response({"key": _key_json(row), "value": secret}, status=201)


async def describe_key(request: Request) -> Response:
    caller = project(request)
    row = await offload(services(request).auth.describe_key, caller, request.path_params["key"])
    return json_response(_key_json(row))


async def delete_key(request: Request) -> Response:
    caller = project(request)
    await offload(services(request).auth.delete_key, caller, request.path_params["key"])
    return Response(status_code=202)


routes = [
    Route("/admin/projects", list_projects, methods=["GET"]),
    Route("/admin/projects/{project}", describe_project, methods=["GET"]),
    Route("/admin/projects/{project}/api-keys", list_keys, methods=["GET"]),
    Route("/admin/projects/{project}/api-keys", create_key, methods=["POST"]),
    Route("/admin/api-keys/{key}", describe_key, methods=["GET"]),
    Route("/admin/api-keys/{key}", delete_key, methods=["DELETE"]),
]
