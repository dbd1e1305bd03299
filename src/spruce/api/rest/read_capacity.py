"""Read capacity extras: cost estimate and replica list of dedicated read nodes.

``GET /indexes/{name}/read_capacity/cost`` applies Pinecone's formula (node rate x
shards x replicas) to the index's requested read capacity, or to the ``node_type``,
``shards`` and ``replicas`` given as query parameters (a what-if). Rates come from
``SPRUCE_NODE_RATES`` (docs/READ_CAPACITY.md). ``GET /indexes/{name}/read_capacity/
replicas`` lists the index's replica processes (shard, address, pid, applied LSN, reads
served); ``POST`` there with ``{"url": "http://HOST:PORT"}`` adds a replica running
on another host (``python -m spruce.replica --join``). None is a Pinecone endpoint.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.errors import InvalidArgument, Unimplemented

__all__ = ["routes"]


async def cost_estimate(request: Request) -> Response:
    svc = services(request)
    if svc.nodes is None:
        raise Unimplemented("Dedicated read nodes are not enabled on this server")
    row = await offload(svc.control.describe, project(request), request.path_params["name"])
    overrides: dict[str, Any] = {}
    params = request.query_params
    if "node_type" in params:
        overrides["node_type"] = params["node_type"]
    manual = {}
    for key in ("shards", "replicas"):
        if key in params:
            try:
                manual[key] = int(params[key])
            except ValueError:
                raise InvalidArgument(f"{key} must be an integer") from None
    if manual:
        overrides["manual"] = manual
    return json_response(svc.nodes.estimate(row, overrides))


async def list_replicas(request: Request) -> Response:
    svc = services(request)
    if svc.nodes is None:
        raise Unimplemented("Dedicated read nodes are not enabled on this server")
    row = await offload(svc.control.describe, project(request), request.path_params["name"])
    body: dict[str, Any] = {"replicas": await offload(svc.nodes.describe_replicas, row)}
    if svc.nodes.shipper is not None:
        body["source"] = svc.nodes.shipper.url(row.uid)  # for replicas on other hosts
    return json_response(body)


async def register_replica(request: Request) -> Response:
    svc = services(request)
    if svc.nodes is None:
        raise Unimplemented("Dedicated read nodes are not enabled on this server")
    row = await offload(svc.control.describe, project(request), request.path_params["name"])
    url = (await json_body(request)).get("url")
    if not isinstance(url, str):
        raise InvalidArgument("url must be a string: http://HOST:PORT of the replica")
    return json_response(await offload(svc.nodes.register, row, url), status=201)


routes = [
    Route("/indexes/{name}/read_capacity/cost", cost_estimate, methods=["GET"]),
    Route("/indexes/{name}/read_capacity/replicas", list_replicas, methods=["GET"]),
    Route("/indexes/{name}/read_capacity/replicas", register_replica, methods=["POST"]),
]
