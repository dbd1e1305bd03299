"""Service results -> Pinecone's JSON (bodies are decoded by ``service.index_body``).

API 2026-07 (SDK 10) describes an index by ``schema`` and ``deployment``;
2025-xx clients read ``dimension``, ``metric`` and ``spec``. Responses carry
both sets of keys: each client decodes the ones it knows and ignores the rest.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from spruce.api.rest.embed_wire import embed_json, semantic_text_fields
from spruce.catalog import IndexRow
from spruce.service.documents.control import DOCUMENTS as _DOCUMENTS
from spruce.service.index_body import DENSE_FIELD as _DENSE_FIELD
from spruce.service.index_body import HYBRID as _HYBRID
from spruce.service.index_body import SPARSE_FIELD as _SPARSE_FIELD
from spruce.types import Match, Record

__all__ = ["data_host", "floats", "index_json", "match_json", "record_json", "score"]


def data_host(base: str, row: IndexRow) -> str:
    """Index hosts are path prefixes (the REST SDK keeps the path) on the index's own
    port when it has one: the gRPC client keeps only host:port (docs/GRPC.md)."""
    port = row.spec.get("port")
    if port:
        base = f"{base.rsplit(':', 1)[0]}:{port}"
    return f"{base}/data/{quote(row.project_id, safe='')}/{quote(row.name, safe='')}"


def index_json(row: IndexRow, base: str) -> dict[str, Any]:
    spec = row.spec
    documents = spec.get(_DOCUMENTS)
    if documents is not None:
        fields: dict[str, Any] = dict(documents["fields"])
    elif row.vector_type == "sparse":
        fields = {_SPARSE_FIELD: {"type": "sparse_vector"}}
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
        # An integrated index shows its text field, as Pinecone's 2026-07 describe does,
        # beside the vector field the text is embedded into: SDK 10 reads dimension and
        # metric from the index's one vector field.
        fields = {**semantic_text_fields(embed), **fields}
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


def floats(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Stored float32 values, for ``json_response`` to write each as the shortest decimal
    that reads back as the same float32 (0.4, not 0.4000000059604645), in one pass.
    orjson takes only plain C-contiguous arrays (not memory-mapped segment views)."""
    return np.ascontiguousarray(values, dtype=np.float32)


def score(value: float) -> np.float32:
    """Scores are float32, as in Pinecone's API: written shortest too."""
    return np.float32(value)


def _sparse_json(record: Record | Match) -> dict[str, Any] | None:
    if record.sparse is None:
        return None
    return {
        "indices": np.ascontiguousarray(record.sparse.indices, dtype=np.uint32),
        "values": floats(record.sparse.values),
    }


def record_json(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {"id": record.id}
    out["values"] = floats(record.values) if record.values is not None else []
    sparse = _sparse_json(record)
    if sparse is not None:
        out["sparseValues"] = sparse
    if record.metadata:
        out["metadata"] = record.metadata
    return out


def match_json(match: Match) -> dict[str, Any]:
    out: dict[str, Any] = {"id": match.id, "score": score(match.score)}
    if match.values is not None:
        out["values"] = floats(match.values)
    sparse = _sparse_json(match)
    if sparse is not None:
        out["sparseValues"] = sparse
    if match.metadata:
        out["metadata"] = match.metadata
    return out
