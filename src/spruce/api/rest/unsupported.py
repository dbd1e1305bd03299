"""Pinecone routes this server does not serve, answered in Pinecone's error shape.

A bare 404 would read as "no such collection" or "no such assistant"; these say
that the feature itself is missing, and what to use instead where Pinecone
recommends something.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.errors import Unimplemented

__all__ = ["routes"]

_COLLECTIONS = (
    "Collections are not supported by this server. Pinecone recommends backups instead "
    "of collections for serverless indexes, and every index here is serverless."
)
_ASSISTANT = "Pinecone Assistant is not supported by this server"


async def collections(request: Request) -> Response:
    raise Unimplemented(_COLLECTIONS)


async def assistant(request: Request) -> Response:
    raise Unimplemented(_ASSISTANT)


# Every method, so that no call on these paths reads as a 404 or 405.
_ALL = ["GET", "POST", "PUT", "PATCH", "DELETE"]
routes = [
    Route("/collections", collections, methods=_ALL),
    Route("/collections/{name}", collections, methods=_ALL),
    Route("/assistant/{path:path}", assistant, methods=_ALL),
]
