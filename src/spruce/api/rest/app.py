"""The ASGI application: control plane at the root, each index's data plane
under ``/data/{project}/{index}`` (the ``host`` that describe_index returns)."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp

from spruce.api.rest import (
    admin,
    documents,
    imports,
    indexes,
    inference,
    operations,
    read_capacity,
    records,
    unsupported,
    vectors,
)
from spruce.api.rest.audit import Audit
from spruce.api.rest.edge import Edge
from spruce.api.rest.errors import error_response
from spruce.errors import InvalidArgument, MethodNotAllowed, NotFound, SpruceError
from spruce.metrics import Metrics
from spruce.service import Services

__all__ = ["build_app"]


def _is_data_plane(request: Request) -> bool:
    return request.url.path.startswith("/data/")


async def _on_error(request: Request, exc: Exception) -> Response:
    return error_response(exc, data_plane=_is_data_plane(request))


def _allowed(routes: Sequence[BaseRoute], method: str, path: str) -> set[str]:
    """Every method served on ``path``: Starlette's 405 names only the first route's,
    and /indexes is served by one route per method."""
    found: set[str] = set()
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            found |= _allowed_in(route, {**scope, **child})
        elif isinstance(route, Route) and route.methods:
            found |= route.methods
    return found


def _allowed_in(mount: Mount, scope: dict[str, object]) -> set[str]:
    found: set[str] = set()
    for route in mount.routes:
        if isinstance(route, Route) and route.methods and route.matches(scope)[0] is not Match.NONE:
            found |= route.methods
    return found


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    mapped: SpruceError
    headers = None
    if exc.status_code == 404:
        mapped = NotFound(f"Not found: {request.method} {request.url.path}")
    elif exc.status_code == 405:
        allow = ", ".join(sorted(_allowed(request.app.routes, request.method, request.url.path)))
        mapped = MethodNotAllowed(
            f"Method {request.method} is not allowed on {request.url.path}"
            + (f"; allowed: {allow}" if allow else "")
        )
        headers = {"Allow": allow} if allow else None
    else:
        mapped = InvalidArgument(str(exc.detail))
    return error_response(mapped, data_plane=_is_data_plane(request), headers=headers)


class _App(Starlette):
    """Starlette inside ``Edge``: body limits, and 500s that keep the connection."""

    def build_middleware_stack(self) -> ASGIApp:
        return Edge(Audit(super().build_middleware_stack()))


async def _fail(request: Request) -> Response:
    raise RuntimeError("fault injected by SPRUCE_TEST_FAULTS")


def build_app(
    services: Services,
    *,
    extra_routes: Sequence[BaseRoute] = (),
    test_faults: bool = False,
    metrics: Metrics | None = None,
) -> Starlette:
    """``extra_routes``: other edges served on the same port (the console), wired by
    ``spruce.server`` so that this package never imports them. ``test_faults`` adds
    ``POST /_test/fail`` (an unexpected exception), for tests of the 500 path.
    ``metrics``: serve ``/metrics``, ``/health`` and ``/ready`` (docs/OPERATIONS.md)."""
    faults = [Route("/_test/fail", _fail, methods=["POST"])] if test_faults else []
    app = _App(
        routes=[
            *indexes.routes,
            *read_capacity.routes,
            *admin.routes,
            *inference.routes,
            *imports.control_routes,
            *unsupported.routes,
            *(operations.routes if metrics is not None else []),
            Mount(
                "/data/{project}/{index}",
                routes=[*documents.routes, *vectors.routes, *records.routes, *imports.routes],
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
    app.state.metrics = metrics
    return app
