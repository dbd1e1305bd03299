"""Bulk import on an index's host (``/bulk/imports``), and storage integrations on the
control plane (``/storage-integrations``, a Spruce API documented in docs/IMPORT.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.catalog import IndexRow
from spruce.catalog.imports import ImportJob, StorageIntegration
from spruce.errors import InvalidArgument, NotFound, Unimplemented
from spruce.service.imports import Imports

__all__ = ["control_routes", "routes"]


def _imports(request: Request) -> Imports:
    found = services(request).imports
    if found is None:
        raise Unimplemented("Bulk import is not enabled on this server")
    return found


async def _index(request: Request) -> IndexRow:
    owner = project(request)
    if request.path_params["project"] != owner:
        raise NotFound(f"Index {request.path_params['index']} not found")
    return await offload(services(request).control.resolve, owner, request.path_params["index"])


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def import_json(job: ImportJob) -> dict[str, Any]:
    """Pinecone's ImportModel, camelCase as the 2025-10 API sends it."""
    out: dict[str, Any] = {
        "id": job.id,
        "uri": job.uri,
        "status": job.status,
        "createdAt": _time(job.created_at),
        "percentComplete": float(job.percent_complete),
        "recordsImported": int(job.records_imported),
    }
    if job.finished_at is not None:
        out["finishedAt"] = _time(job.finished_at)
    if job.error is not None:
        out["error"] = job.error
    return out


async def start_import(request: Request) -> Response:
    index = await _index(request)
    body = await json_body(request)
    job = await offload(
        _imports(request).start,
        index,
        uri=body.get("uri"),
        integration_id=body.get("integrationId", body.get("integration_id")),
        error_mode=body.get("errorMode", body.get("error_mode")),
    )
    return json_response({"id": job.id})


async def list_imports(request: Request) -> Response:
    index = await _index(request)
    raw = request.query_params.get("limit")
    try:
        limit = int(raw) if raw is not None else None
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    page = await offload(
        _imports(request).list_imports,
        index,
        limit=limit,
        token=request.query_params.get("paginationToken"),
    )
    body: dict[str, Any] = {"data": [import_json(j) for j in page.jobs]}
    if page.next_token is not None:
        body["pagination"] = {"next": page.next_token}
    return json_response(body)


async def describe_import(request: Request) -> Response:
    index = await _index(request)
    job = await offload(_imports(request).describe, index, request.path_params["id"])
    return json_response(import_json(job))


async def cancel_import(request: Request) -> Response:
    index = await _index(request)
    await offload(_imports(request).cancel, index, request.path_params["id"])
    return json_response({})


def integration_json(found: StorageIntegration) -> dict[str, Any]:
    """Never the secrets: only which credential keys are set."""
    return {
        "id": found.id,
        "name": found.name,
        "provider": found.provider,
        "credential_keys": sorted(found.config),
        "created_at": _time(found.created_at),
    }


async def create_integration(request: Request) -> Response:
    owner = project(request)
    body = await json_body(request)
    found = await offload(
        _imports(request).add_integration,
        owner,
        name=body.get("name"),
        provider=body.get("provider"),
        credentials=body.get("credentials"),
    )
    return json_response(integration_json(found), status=201)


async def list_integrations(request: Request) -> Response:
    owner = project(request)
    found = await offload(_imports(request).integrations, owner)
    return json_response({"data": [integration_json(i) for i in found]})


async def describe_integration(request: Request) -> Response:
    owner = project(request)
    found = await offload(_imports(request).integration, owner, request.path_params["id"])
    return json_response(integration_json(found))


async def delete_integration(request: Request) -> Response:
    owner = project(request)
    await offload(_imports(request).delete_integration, owner, request.path_params["id"])
    return Response(status_code=202)


#: Mounted under the index host, beside ``vectors.routes``.
routes = [
    Route("/bulk/imports", start_import, methods=["POST"]),
    Route("/bulk/imports", list_imports, methods=["GET"]),
    Route("/bulk/imports/{id}", describe_import, methods=["GET"]),
    Route("/bulk/imports/{id}", cancel_import, methods=["DELETE"]),
]

#: Mounted at the root, beside the control plane's index routes.
control_routes = [
    Route("/storage-integrations", create_integration, methods=["POST"]),
    Route("/storage-integrations", list_integrations, methods=["GET"]),
    Route("/storage-integrations/{id}", describe_integration, methods=["GET"]),
    Route("/storage-integrations/{id}", delete_integration, methods=["DELETE"]),
]
