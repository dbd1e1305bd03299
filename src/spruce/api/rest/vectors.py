"""Data plane: one index's records, under the host ``/data/{project}/{index}``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, offload, project, services
from spruce.api.rest.wire import match_json, record_json
from spruce.catalog import IndexRow
from spruce.errors import InvalidArgument, NotFound
from spruce.service.documents.control import require_vector_index
from spruce.service.records import namespace_name
from spruce.service.storage import NamespaceInfo

__all__ = ["routes"]

_LSN = "x-pinecone-request-lsn"
_MAX_LSN = "x-pinecone-max-indexed-lsn"


async def _index(request: Request) -> IndexRow:
    owner = project(request)
    if request.path_params["project"] != owner:
        raise NotFound(f"Index {request.path_params['index']} not found")
    # The catalog caches resolved indexes, so this is a dict read on the loop, not a
    # thread hop (a miss is one SQLite point read).
    return services(request).control.resolve(owner, request.path_params["index"])


async def _vector_index(request: Request) -> IndexRow:
    """The index of a vectors (or records) route: never a document index."""
    return require_vector_index(await _index(request))


def _flag(body: dict[str, Any], camel: str, snake: str) -> bool:
    value = body.get(camel, body.get(snake, False))
    if not isinstance(value, bool):
        raise InvalidArgument(f"{camel} must be a boolean")
    return value


async def upsert(request: Request) -> Response:
    index = await _vector_index(request)
    body = await json_body(request)
    ns = namespace_name(body.get("namespace"))
    lsn, count = await offload(services(request).data.upsert, index, ns, body.get("vectors"))
    return json_response({"upsertedCount": count}, headers={_LSN: str(lsn)})


async def query(request: Request) -> Response:
    index = await _vector_index(request)
    body = await json_body(request)
    ns = namespace_name(body.get("namespace"))
    result = await offload(
        services(request).data.query,
        index,
        ns,
        top_k=body.get("topK", body.get("top_k")),
        vector=body.get("vector"),
        sparse_vector=body.get("sparseVector", body.get("sparse_vector")),
        id=body.get("id"),
        filter=body.get("filter"),
        include_values=_flag(body, "includeValues", "include_values"),
        include_metadata=_flag(body, "includeMetadata", "include_metadata"),
    )
    return json_response(
        {
            "matches": [match_json(m) for m in result.matches],
            "namespace": result.namespace,
            "usage": {"readUnits": result.read_units},
        },
        headers={_MAX_LSN: str(result.lsn)},
    )


async def fetch(request: Request) -> Response:
    index = await _vector_index(request)
    ns = namespace_name(request.query_params.get("namespace"))
    ids = request.query_params.getlist("ids")
    records, lsn = await offload(services(request).data.fetch, index, ns, ids)
    return json_response(
        {
            "vectors": {rid: record_json(r) for rid, r in records.items()},
            "namespace": ns,
            "usage": {"readUnits": max(1, (len(ids) + 9) // 10)},
        },
        headers={_MAX_LSN: str(lsn)},
    )


async def fetch_by_metadata(request: Request) -> Response:
    index = await _vector_index(request)
    body = await json_body(request)
    ns = namespace_name(body.get("namespace"))
    page = await offload(
        services(request).data.fetch_by_metadata,
        index,
        ns,
        filter=body.get("filter"),
        limit=body.get("limit"),
        token=body.get("paginationToken", body.get("pagination_token")),
    )
    out: dict[str, Any] = {
        "vectors": {r.id: record_json(r) for r in page.records},
        "namespace": page.namespace,
        "usage": {"readUnits": page.read_units},
    }
    if page.next_token:
        out["pagination"] = {"next": page.next_token}
    return json_response(out, headers={_MAX_LSN: str(page.lsn)})


async def update(request: Request) -> Response:
    index = await _vector_index(request)
    body = await json_body(request)
    ns = namespace_name(body.get("namespace"))
    lsn, matched = await offload(
        services(request).data.update,
        index,
        ns,
        id=body.get("id"),
        values=body.get("values"),
        sparse_values=body.get("sparseValues", body.get("sparse_values")),
        set_metadata=body.get("setMetadata", body.get("set_metadata")),
        filter=body.get("filter"),
        dry_run=_flag(body, "dryRun", "dry_run"),
    )
    out = {"matchedRecords": matched} if body.get("filter") is not None else {}
    return json_response(out, headers={_LSN: str(lsn)})


async def delete(request: Request) -> Response:
    index = await _vector_index(request)
    body = await json_body(request)
    ns = namespace_name(body.get("namespace"))
    lsn = await offload(
        services(request).data.delete,
        index,
        ns,
        ids=body.get("ids"),
        delete_all=_flag(body, "deleteAll", "delete_all"),
        filter=body.get("filter"),
    )
    return json_response({}, headers={_LSN: str(lsn)})


async def list_vectors(request: Request) -> Response:
    index = await _vector_index(request)
    params = request.query_params
    ns = namespace_name(params.get("namespace"))
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    page = await offload(
        services(request).data.list_ids,
        index,
        ns,
        prefix=params.get("prefix", ""),
        limit=limit,
        token=params.get("paginationToken"),
    )
    body: dict[str, Any] = {
        "vectors": [{"id": i} for i in page.ids],
        "namespace": page.namespace,
        "usage": {"readUnits": 1},
    }
    if page.next_token:
        body["pagination"] = {"next": page.next_token}
    return json_response(body, headers={_MAX_LSN: str(page.lsn)})


async def describe_index_stats(request: Request) -> Response:
    index = await _index(request)
    body = await json_body(request, required=False)
    stats = await offload(services(request).data.stats, index, body.get("filter"))
    out: dict[str, Any] = {
        "namespaces": {name: {"vectorCount": n} for name, n in stats.namespaces.items()},
        "indexFullness": stats.index_fullness,
        "totalVectorCount": stats.total,
        "metric": stats.metric,
        "vectorType": stats.vector_type,
    }
    if stats.dimension is not None:
        out["dimension"] = stats.dimension
    if stats.storage_fullness is not None:  # dedicated read nodes (docs/READ_CAPACITY.md)
        # Pinecone's 2025-10 spec and guide name these in snake case (unlike every other
        # field here); the Python SDK decodes camel case. Both spellings are sent.
        for key in ("memory_fullness", "memoryFullness"):
            out[key] = stats.memory_fullness
        for key in ("storage_fullness", "storageFullness"):
            out[key] = stats.storage_fullness
    return json_response(out)


async def list_namespaces(request: Request) -> Response:
    index = await _index(request)
    params = request.query_params
    try:
        limit = int(params.get("limit", "100"))
    except ValueError:
        raise InvalidArgument("limit must be an integer") from None
    page = await offload(
        services(request).data.namespaces_page,
        index,
        prefix=params.get("prefix", ""),
        limit=limit,
        token=params.get("paginationToken"),
    )
    body: dict[str, Any] = {
        "namespaces": [_namespace_json(ns) for ns in page.namespaces],
        "total_count": page.total,
    }
    if page.next_token:
        body["pagination"] = {"next": page.next_token}
    return json_response(body)


async def create_namespace(request: Request) -> Response:
    index = await _index(request)
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidArgument("Namespace name must be a non-empty string")
    info = await offload(services(request).data.create_namespace, index, name, body.get("schema"))
    return json_response(_namespace_json(info), status=201)


async def describe_namespace(request: Request) -> Response:
    index = await _index(request)
    ns = namespace_name(request.path_params["namespace"])
    info = await offload(services(request).data.describe_namespace, index, ns)
    return json_response(_namespace_json(info))


def _namespace_json(info: NamespaceInfo) -> dict[str, Any]:
    """Pinecone's NamespaceDescription; ``schema`` and ``indexed_fields`` only with a schema."""
    out: dict[str, Any] = {"name": info.name, "record_count": info.record_count}
    if info.filterable is not None:
        out["schema"] = {"fields": {f: {"filterable": True} for f in info.filterable}}
        out["indexed_fields"] = {"fields": info.filterable}
    return out


async def delete_namespace(request: Request) -> Response:
    index = await _index(request)
    ns = namespace_name(request.path_params["namespace"])
    await offload(services(request).data.delete_namespace, index, ns)
    # Pinecone's spec answers 200 with a DeleteResponse, ``{}``; SDKs parse the body.
    return json_response({})


routes = [
    Route("/vectors/upsert", upsert, methods=["POST"]),
    Route("/query", query, methods=["POST"]),
    Route("/vectors/fetch", fetch, methods=["GET"]),
    Route("/vectors/fetch_by_metadata", fetch_by_metadata, methods=["POST"]),
    Route("/vectors/update", update, methods=["POST"]),
    Route("/vectors/delete", delete, methods=["POST"]),
    Route("/vectors/list", list_vectors, methods=["GET"]),
    Route("/describe_index_stats", describe_index_stats, methods=["GET", "POST"]),
    Route("/namespaces", list_namespaces, methods=["GET"]),
    Route("/namespaces", create_namespace, methods=["POST"]),
    Route("/namespaces/{namespace:path}", describe_namespace, methods=["GET"]),
    Route("/namespaces/{namespace:path}", delete_namespace, methods=["DELETE"]),
]
