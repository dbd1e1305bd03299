"""The ASGI application: control plane at the root, each index's data plane
under ``/data/{project}/{index}`` (the ``host`` that describe_index returns)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from spruce.api.rest import admin, imports, indexes, inference, read_capacity, records, vectors
from spruce.api.rest.edge import Edge
from spruce.api.rest.errors import error_response
from spruce.errors import InvalidArgument, NotFound, SpruceError
from spruce.service import Services

__all__ = ["build_app"]


def _is_data_plane(request: Request) -> bool:
    return request.url.path.startswith("/data/")


async def _on_error(request: Request, exc: Exception) -> Response:
    return error_response(exc, data_plane=_is_data_plane(request))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    mapped: SpruceError
    if exc.status_code == 404:
        mapped = NotFound(f"Not found: {request.method} {request.url.path}")
    elif exc.status_code == 405:
        mapped = InvalidArgument(f"Method {request.method} not allowed on {request.url.path}")
    else:
        mapped = InvalidArgument(str(exc.detail))
    return error_response(mapped, data_plane=_is_data_plane(request))


class _App(Starlette):
    """Starlette inside ``Edge``: body limits, and 500s that keep the connection."""

    def build_middleware_stack(self) -> ASGIApp:
        return Edge(super().build_middleware_stack())


async def _fail(request: Request) -> Response:
    raise RuntimeError("fault injected by SPRUCE_TEST_FAULTS")


def build_app(
    services: Services, *, extra_routes: Sequence[BaseRoute] = (), test_faults: bool = False
) -> Starlette:
    """``extra_routes``: other edges served on the same port (the console), wired by
    ``spruce.server`` so that this package never imports them. ``test_faults`` adds
    ``POST /_test/fail`` (an unexpected exception), for tests of the 500 path."""
    faults = [Route("/_test/fail", _fail, methods=["POST"])] if test_faults else []
    app = _App(
        routes=[
            *indexes.routes,
            *read_capacity.routes,
            *admin.routes,
            *inference.routes,
            *imports.control_routes,
            Mount(
                "/data/{project}/{index}",
                routes=[*vectors.routes, *records.routes, *imports.routes],
            ),
            *extra_routes,
            *faults,
        ],
        exception_handlers={
            SpruceError: _on_error,
            HTTPException: _on_http,
            Exception: _on_error,
        },
    )
    app.state.services = services
    return app
