"""Helpers every REST route shares: body decoding, auth, thread offload, JSON out."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response

from spruce.errors import InvalidArgument
from spruce.service import Services
from spruce.service.auth import Plane

__all__ = ["access", "json_body", "json_response", "offload", "project", "services"]

T = TypeVar("T")

_limiter: anyio.CapacityLimiter | None = None


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


#: POST routes that only read (by the path's last segment).
_READ_POSTS = frozenset(
    {"query", "search", "fetch", "list", "fetch_by_metadata", "describe_index_stats"}
)


def access(request: Request) -> tuple[Plane, bool]:
    """The plane a request touches and whether it writes: what key roles are checked
    against. Inference (embed, rerank) reads the data plane, as Pinecone counts it."""
    path = request.url.path
    if path in ("/embed", "/rerank"):
        return "data", False
    plane = "data" if path.startswith("/data/") else "control"
    writes = request.method not in ("GET", "HEAD") and (
        request.method != "POST" or path.rsplit("/", 1)[-1] not in _READ_POSTS
    )
    return plane, writes


def project(request: Request) -> str:
    plane, writes = access(request)
    caller = services(request).auth.authorize(request.headers.get("api-key"), plane, writes)
    request.state.caller = caller  # for the audit log (api/rest/audit.py)
    return caller.project or services(request).auth.default_project


async def offload(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking service work (disk, scans) in the worker pool, never on the loop."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(8)
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs), limiter=_limiter)


async def json_body(request: Request, *, required: bool = True) -> dict[str, Any]:
    raw = await request.body()  # at most MAX_REQUEST_BYTES: api/rest/edge.py checks it
    if not raw.strip():
        if required:
            raise InvalidArgument("Request body is empty; expected a JSON object")
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"Malformed JSON in request body: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("Request body must be a JSON object")
    return body


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
