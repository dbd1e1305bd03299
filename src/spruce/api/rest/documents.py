"""Documents API on an index's host: ``/namespaces/{ns}/documents/{operation}``
(``index.documents`` of SDK 10, API 2026-07)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, services
from spruce.api.rest.inference import offload_model
from spruce.api.rest.vectors import _index as resolve_index
from spruce.api.rest.wire import score
from spruce.errors import InvalidArgument, Unimplemented
from spruce.service.documents.data import Documents, WriteResult

__all__ = ["routes"]

_LSN = "x-pinecone-request-lsn"
_MAX_LSN = "x-pinecone-max-indexed-lsn"


def _documents(request: Request) -> Documents:
    found = services(request).document_data
    if found is None:
        raise Unimplemented("The documents API is not enabled on this server")
    return found


def _namespace(request: Request) -> str:
    name = request.path_params["namespace"]
    if not name:
        raise InvalidArgument("The namespace of a documents request must not be empty")
    return str(name)


def _written(result: WriteResult, body: dict[str, Any]) -> Response:
    return json_response(body, headers={_LSN: str(result.lsn)})


async def upsert(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request)
    result = await offload_model(
        _documents(request).upsert, index, _namespace(request), body.get("documents")
    )
    out: dict[str, Any] = {"upserted_count": result.count}
    if result.embed_tokens is not None:
        out["usage"] = {"embed_total_tokens": result.embed_tokens}
    return _written(result, out)


async def update(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request)
    result = await offload_model(_documents(request).update, index, _namespace(request), body)
    out: dict[str, Any] = {}
    if result.count is not None:
        out["matched_records"] = result.count
    if result.embed_tokens is not None:
        out["usage"] = {"embed_total_tokens": result.embed_tokens}
    return _written(result, out)


async def delete(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request)
    result = await offload_model(_documents(request).delete, index, _namespace(request), body)
    out = {} if result.count is None else {"matched_records": result.count}
    return _written(result, out)


async def fetch(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request)
    ns = _namespace(request)
    result = await offload_model(_documents(request).fetch, index, ns, body)
    out: dict[str, Any] = {
        "documents": {d["_id"]: d for d in result.documents},
        "namespace": ns,
        "usage": {"read_units": result.read_units},
    }
    if result.next_token is not None:
        out["pagination"] = {"next": result.next_token}
    return json_response(out, headers={_MAX_LSN: str(result.lsn)})


async def list_documents(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request, required=False)
    ns = _namespace(request)
    result = await offload_model(_documents(request).list, index, ns, body)
    out: dict[str, Any] = {
        "documents": [{"_id": i} for i in result.ids],
        "namespace": ns,
        "usage": {"read_units": result.read_units},
    }
    if result.next_token is not None:
        out["pagination"] = {"next": result.next_token}
    return json_response(out, headers={_MAX_LSN: str(result.lsn)})


async def search(request: Request) -> Response:
    index = await resolve_index(request)
    body = await json_body(request)
    ns = _namespace(request)
    found = services(request).document_search
    if found is None:
        raise Unimplemented("The documents API is not enabled on this server")
    result = await offload_model(found.search, index, ns, body)
    usage: dict[str, Any] = {"read_units": result.read_units}
    if result.embed_tokens is not None:
        usage["embed_total_tokens"] = result.embed_tokens
    matches = [{**doc, "_score": score(s)} for doc, s in result.matches]
    return json_response(
        {"matches": matches, "namespace": ns, "usage": usage},
        headers={_MAX_LSN: str(result.lsn)},
    )


_BASE = "/namespaces/{namespace:path}/documents"
routes = [
    Route(f"{_BASE}/search", search, methods=["POST"]),
    Route(f"{_BASE}/upsert", upsert, methods=["POST"]),
    Route(f"{_BASE}/update", update, methods=["POST"]),
    Route(f"{_BASE}/delete", delete, methods=["POST"]),
    Route(f"{_BASE}/fetch", fetch, methods=["POST"]),
    Route(f"{_BASE}/list", list_documents, methods=["POST"]),
]
