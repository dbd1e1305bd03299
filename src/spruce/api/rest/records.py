"""Records API (integrated embedding) on an index's host:
``/records/namespaces/{ns}/upsert`` (NDJSON) and ``/records/namespaces/{ns}/search``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, services
from spruce.api.rest.inference import offload_model
from spruce.api.rest.vectors import _vector_index as resolve_index
from spruce.api.rest.wire import score
from spruce.errors import InvalidArgument, Unimplemented
from spruce.service import TextRecords
from spruce.service.records import namespace_name

__all__ = ["parse_ndjson", "routes"]


def _records(request: Request) -> TextRecords:
    found = services(request).text_records
    if found is None:
        raise Unimplemented("The records API is not enabled on this server")
    return found


def parse_ndjson(raw: bytes) -> list[Any]:
    """One JSON object per line (a JSON array is accepted too)."""
    text = raw.strip()
    try:
        if text.startswith(b"["):
            parsed = orjson.loads(text)
            return parsed if isinstance(parsed, list) else [parsed]
        return [orjson.loads(line) for line in text.splitlines() if line.strip()]
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"Malformed NDJSON in request body: {exc}") from None


async def upsert_records(request: Request) -> Response:
    index = await resolve_index(request)
    ns = namespace_name(request.path_params["namespace"])
    records = parse_ndjson(await request.body())
    lsn, _ = await offload_model(_records(request).upsert, index, ns, records)
    return Response(status_code=201, headers={"x-pinecone-request-lsn": str(lsn)})


async def search_records(request: Request) -> Response:
    index = await resolve_index(request)
    ns = namespace_name(request.path_params["namespace"])
    body = await json_body(request)
    result = await offload_model(_records(request).search, index, ns, body)
    usage: dict[str, Any] = {"read_units": result.read_units}
    if result.embed_tokens is not None:
        usage["embed_total_tokens"] = result.embed_tokens
    if result.rerank_units is not None:
        usage["rerank_units"] = result.rerank_units
    hits = [{"_id": h.id, "_score": score(h.score), "fields": h.fields} for h in result.hits]
    return json_response(
        {"result": {"hits": hits}, "usage": usage},
        headers={"x-pinecone-max-indexed-lsn": str(result.lsn)},
    )


routes = [
    Route("/records/namespaces/{namespace:path}/upsert", upsert_records, methods=["POST"]),
    Route("/records/namespaces/{namespace:path}/search", search_records, methods=["POST"]),
]
