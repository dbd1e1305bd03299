"""Read capacity extras: cost estimate and replica list of dedicated read nodes.

``GET /indexes/{name}/read_capacity/cost`` applies Pinecone's formula (node rate x
shards x replicas) to the index's requested read capacity, or to the ``node_type``,
``shards`` and ``replicas`` given as query parameters (a what-if). Rates come from
``SPRUCE_NODE_RATES`` (docs/READ_CAPACITY.md). ``GET /indexes/{name}/read_capacity/
replicas`` lists the index's replica processes (shard, address, pid, applied LSN, reads
served). Neither is a Pinecone endpoint.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_response, offload, project, services
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
    return json_response({"replicas": await offload(svc.nodes.describe_replicas, row)})


routes = [
    Route("/indexes/{name}/read_capacity/cost", cost_estimate, methods=["GET"]),
    Route("/indexes/{name}/read_capacity/replicas", list_replicas, methods=["GET"]),
]
