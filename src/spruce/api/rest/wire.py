"""Service results -> Pinecone's JSON, and Pinecone's create bodies -> IndexRequest.

API 2026-07 (SDK 10) describes an index by ``schema`` and ``deployment``;
2025-xx clients read ``dimension``, ``metric`` and ``spec``. Responses carry
both sets of keys: each client decodes the ones it knows and ignores the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np

from spruce.api.rest.embed_wire import embed_json, semantic_text_fields
from spruce.catalog import IndexRow
from spruce.errors import InvalidArgument
from spruce.service import IndexRequest
from spruce.service.records import SPARSE_NOT_SUPPORTED
from spruce.types import Match, Record

__all__ = ["index_json", "index_request", "match_json", "record_json", "data_host"]

_DENSE_FIELD = "_values"
_SPARSE_FIELD = "_sparse_values"
_HYBRID = "sparse_field"  # spec key: the schema declared both vector fields


def data_host(base: str, row: IndexRow) -> str:
    """Index hosts are path prefixes (the REST SDK keeps the path) on the index's own
    port when it has one: the gRPC client keeps only host:port (docs/GRPC.md)."""
    port = row.spec.get("port")
    if port:
        base = f"{base.rsplit(':', 1)[0]}:{port}"
    return f"{base}/data/{quote(row.project_id, safe='')}/{quote(row.name, safe='')}"


def index_json(row: IndexRow, base: str) -> dict[str, Any]:
    spec = row.spec
    if row.vector_type == "sparse":
        fields: dict[str, Any] = {_SPARSE_FIELD: {"type": "sparse_vector"}}
    else:
        fields = {
            _DENSE_FIELD: {
                "type": "dense_vector",
                "dimension": row.dimension,
                "metric": row.metric,
            }
        }
    if spec.get(_HYBRID):
        fields[_SPARSE_FIELD] = {"type": "sparse_vector"}
    embed = spec.get("embed")
    if embed:
        # An integrated index shows its text field, as Pinecone's 2026-07 describe does.
        fields = semantic_text_fields(embed)
    read_capacity = dict(spec.get("read_capacity") or {"mode": "OnDemand"})
    read_capacity.setdefault("status", {"state": "Ready"})
    ready = row.state != "Initializing"
    return {
        "name": row.name,
        "host": data_host(base, row),
        "status": {"ready": ready, "state": row.state},
        "schema": {"fields": fields},
        "deployment": {
            "deployment_type": "managed",
            "cloud": spec.get("cloud", "aws"),
            "region": spec.get("region", "us-east-1"),
            "environment": "local",
        },
        "deletion_protection": spec.get("deletion_protection", "disabled"),
        "read_capacity": read_capacity,
        "tags": spec.get("tags") or None,
        # 2025-xx fields
        "dimension": row.dimension,
        "metric": row.metric,
        "vector_type": row.vector_type,
        **({"embed": embed_json(embed)} if embed else {}),
        "spec": {
            "serverless": {
                "cloud": spec.get("cloud", "aws"),
                "region": spec.get("region", "us-east-1"),
                "read_capacity": read_capacity,
            }
        },
    }


def index_request(body: dict[str, Any]) -> IndexRequest:
    """Both create shapes: 2026-07 ``schema``/``deployment`` and 2025-xx ``spec``."""
    req = IndexRequest(
        name=body.get("name"),
        deletion_protection=body.get("deletion_protection") or "disabled",
        tags=body.get("tags"),
    )
    if "schema" in body:
        fields = (body.get("schema") or {}).get("fields")
        if not isinstance(fields, dict) or not fields:
            raise InvalidArgument("schema.fields must name at least one vector field")
        dense = fields.get(_DENSE_FIELD)
        sparse = fields.get(_SPARSE_FIELD)
        unknown = sorted(set(fields) - {_DENSE_FIELD, _SPARSE_FIELD})
        if unknown:
            raise InvalidArgument(
                f"Unsupported schema fields {unknown}: this server supports the vector fields "
                f"{_DENSE_FIELD!r} and {_SPARSE_FIELD!r}"
            )
        if sparse is not None and dense is None:
            req.vector_type = "sparse"
            req.metric = "dotproduct"
        else:
            if not isinstance(dense, dict) or dense.get("type") != "dense_vector":
                raise InvalidArgument(f"schema field {_DENSE_FIELD!r} must be a dense_vector")
            req.dimension = dense.get("dimension")
            req.metric = dense.get("metric")
            if sparse is not None:
                # Both reserved fields: a hybrid index, dense + sparse scored by dot product.
                if str(req.metric).lower() != "dotproduct":
                    raise InvalidArgument(SPARSE_NOT_SUPPORTED)
                req.extra[_HYBRID] = True
        deployment = body.get("deployment") or {}
        if deployment.get("deployment_type", "managed") != "managed":
            raise InvalidArgument("Only managed (serverless) deployments are supported")
        req.cloud = deployment.get("cloud") or "aws"
        req.region = deployment.get("region") or "us-east-1"
        req.read_capacity = body.get("read_capacity")
        return req
    req.dimension = body.get("dimension")
    req.metric = body.get("metric")
    req.vector_type = body.get("vector_type") or "dense"
    spec = body.get("spec")
    if not isinstance(spec, dict) or not spec:
        raise InvalidArgument("spec is required: {'serverless': {'cloud': ..., 'region': ...}}")
    if "serverless" not in spec:
        raise InvalidArgument("Only serverless indexes are supported")
    serverless = spec["serverless"] or {}
    req.cloud = serverless.get("cloud") or "aws"
    req.region = serverless.get("region") or "us-east-1"
    req.read_capacity = serverless.get("read_capacity")
    return req


def _sparse_json(record: Record | Match) -> dict[str, Any] | None:
    if record.sparse is None:
        return None
    return {"indices": record.sparse.indices.tolist(), "values": record.sparse.values.tolist()}


def record_json(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record.id}
    out["values"] = record.values.tolist() if record.values is not None else []
    sparse = _sparse_json(record)
    if sparse is not None:
        out["sparseValues"] = sparse
    if record.metadata:
        out["metadata"] = record.metadata
    return out


def match_json(match: Match) -> dict[str, Any]:
    out: dict[str, Any] = {"id": match.id, "score": match.score}
    if match.values is not None:
        # The array itself: orjson writes it without a Python float per value (a
        # 10,000-match result as lists cost 30 bytes of objects per value).
        out["values"] = np.ascontiguousarray(match.values)  # a plain array (not a memmap)
    sparse = _sparse_json(match)
    if sparse is not None:
        out["sparseValues"] = sparse
    if match.metadata:
        out["metadata"] = match.metadata
    return out
