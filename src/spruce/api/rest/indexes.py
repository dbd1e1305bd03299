"""Control plane: /indexes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.api.rest.wire import index_json
from spruce.errors import Unimplemented
from spruce.service.index_body import decode_configure, decode_create, decode_create_for_model

__all__ = ["routes"]

_NO_INTEGRATED = "Indexes with integrated embedding are not enabled on this server"


async def list_indexes(request: Request) -> Response:
    svc = services(request)
    rows = await offload(svc.control.list, project(request))
    return json_response({"indexes": [index_json(r, svc.public_base) for r in rows]})


async def create_index(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    req = decode_create(await json_body(request))
    if req.documents is not None:
        if svc.documents is None:
            raise Unimplemented("Document indexes are not enabled on this server")
        row = await offload(svc.documents.create, owner, req)
    else:
        row = await offload(svc.control.create, owner, req)
    return json_response(index_json(row, svc.public_base), status=201)


async def create_for_model(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    body = decode_create_for_model(await json_body(request))
    if svc.integrated is None:
        raise Unimplemented(_NO_INTEGRATED)
    row = await offload(svc.integrated.create_for_model, owner, body)
    return json_response(index_json(row, svc.public_base), status=201)


async def describe_index(request: Request) -> Response:
    svc = services(request)
    row = await offload(svc.control.describe, project(request), request.path_params["name"])
    return json_response(index_json(row, svc.public_base))


async def configure_index(request: Request) -> Response:
    svc = services(request)
    owner = project(request)
    body = decode_configure(await json_body(request))
    embed = None
    documents = svc.documents is not None and await offload(
        svc.documents.check_configure, owner, request.path_params["name"], body.schema
    )
    if not documents and (body.embed is not None or body.schema is not None):
        if svc.integrated is None:
            raise Unimplemented(_NO_INTEGRATED)
        embed = await offload(
            svc.integrated.configure,
            owner,
            request.path_params["name"],
            embed=body.embed,
            schema=body.schema,
        )
    row = await offload(
        svc.control.configure,
        owner,
        request.path_params["name"],
        embed=embed,
        deletion_protection=body.deletion_protection,
        tags=body.tags,
        read_capacity=body.read_capacity,
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
