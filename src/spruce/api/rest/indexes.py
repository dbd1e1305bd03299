"""Control plane: /indexes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.api.rest.wire import index_json, index_request
from spruce.errors import Unimplemented

__all__ = ["routes"]


async def list_indexes(request: Request) -> Response:
    svc = services(request)
    rows = await offload(svc.control.list, project(request))
    return json_response({"indexes": [index_json(r, svc.public_base) for r in rows]})


async def create_index(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    req = index_request(await json_body(request))
    row = await offload(svc.control.create, owner, req)
    return json_response(index_json(row, svc.public_base), status=201)


async def create_for_model(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    body = await json_body(request)
    if svc.integrated is None:
        raise Unimplemented("Indexes with integrated embedding are not enabled on this server")
    row = await offload(svc.integrated.create_for_model, owner, body)
    return json_response(index_json(row, svc.public_base), status=201)


async def describe_index(request: Request) -> Response:
    svc = services(request)
    row = await offload(svc.control.describe, project(request), request.path_params["name"])
    return json_response(index_json(row, svc.public_base))


async def configure_index(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    body = await json_body(request)
    embed = None
    if svc.integrated is not None and (body.get("embed") or body.get("schema")) is not None:
        embed = await offload(
            svc.integrated.configure,
            owner,
            request.path_params["name"],
            embed=body.get("embed"),
            schema=body.get("schema"),
        )
    row = await offload(
        svc.control.configure,
        owner,
        request.path_params["name"],
        embed=embed,
        deletion_protection=body.get("deletion_protection"),
        tags=body.get("tags"),
        read_capacity=body.get("read_capacity")
        or ((body.get("spec") or {}).get("serverless") or {}).get("read_capacity"),
    )
    return json_response(index_json(row, svc.public_base))


async def delete_index(request: Request) -> Response:
    svc = services(request)
    await offload(svc.control.delete, project(request), request.path_params["name"])
    return Response(status_code=202)


routes = [
    Route("/indexes", list_indexes, methods=["GET"]),
    Route("/indexes", create_index, methods=["POST"]),
    Route("/indexes/create-for-model", create_for_model, methods=["POST"]),
    Route("/indexes/{name}", describe_index, methods=["GET"]),
    Route("/indexes/{name}", configure_index, methods=["PATCH"]),
    Route("/indexes/{name}", delete_index, methods=["DELETE"]),
]
