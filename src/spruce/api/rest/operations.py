"""``/metrics`` (Prometheus, needs a key), ``/health`` and ``/ready`` (no key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from spruce.api.rest.common import json_response, offload, services
from spruce.metrics import CONTENT_TYPE, Metrics

__all__ = ["routes"]


def _metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


def _key(request: Request) -> str | None:
    """Pinecone's metrics endpoint takes the key as a bearer token; the SDK's
    ``Api-Key`` header is accepted too."""
    authorization = request.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("api-key")


async def metrics(request: Request) -> Response:
    project = services(request).auth.project_for(_key(request))
    body = await offload(_metrics(request).exposition, project)
    return Response(body, media_type=CONTENT_TYPE)


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def ready(request: Request) -> Response:
    reasons = await offload(_metrics(request).not_ready)
    if reasons:
        return json_response({"status": "not ready", "reasons": reasons}, status=503)
    return json_response({"status": "ready"})


routes: list[BaseRoute] = [
    Route("/metrics", metrics, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
    Route("/ready", ready, methods=["GET"]),
]
