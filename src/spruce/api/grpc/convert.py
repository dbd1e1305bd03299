"""Protobuf messages <-> the plain values the service layer takes and returns.

Requests become the same shapes REST's JSON decodes to, so both edges feed the
service identical arguments. proto3 cannot tell an empty field from a missing
one; empty strings and lists become ``None`` (what an absent JSON key gives).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from google.protobuf import struct_pb2

from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb
from spruce.service.storage import NamespaceInfo
from spruce.types import Match, Record, SparseVector

__all__ = [
    "from_struct",
    "namespace_description",
    "record_dict",
    "schema_dict",
    "scored_vector",
    "sparse_dict",
    "to_struct",
    "vector",
]

# Struct numbers are doubles; integral ones go back to int so that a record
# written over gRPC is stored exactly as the same JSON written over REST.
_MAX_EXACT = 2**53


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) < _MAX_EXACT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return from_struct(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    return {key: _value(value) for key, value in struct.fields.items()}


def to_struct(data: dict[str, Any], into: struct_pb2.Struct) -> None:
    into.update(data)


def sparse_dict(sparse: pb.SparseValues) -> dict[str, list[Any]]:
    return {"indices": list(sparse.indices), "values": list(sparse.values)}


def record_dict(vector: pb.Vector) -> dict[str, Any]:
    """One upserted vector, in the JSON shape ``service.records.check_record`` reads."""
    # numpy reads the repeated float field in one go (a list of floats is ~6x slower).
    values: Any = np.array(vector.values, dtype=np.float32) if len(vector.values) else []
    out: dict[str, Any] = {"id": vector.id, "values": values}
    if vector.HasField("sparse_values"):
        out["sparseValues"] = sparse_dict(vector.sparse_values)
    if vector.HasField("metadata"):
        out["metadata"] = from_struct(vector.metadata)
    return out


def _fill_sparse(sparse: SparseVector | None, into: pb.SparseValues) -> None:
    if sparse is not None:
        into.indices.extend(sparse.indices.tolist())
        into.values.extend(sparse.values.tolist())


def vector(record: Record, into: pb.Vector) -> None:
    into.id = record.id
    if record.values is not None:
        into.values.extend(record.values.tolist())
    if record.sparse is not None:
        _fill_sparse(record.sparse, into.sparse_values)
    if record.metadata:
        to_struct(dict(record.metadata), into.metadata)


def scored_vector(match: Match, into: pb.ScoredVector) -> None:
    into.id = match.id
    into.score = match.score
    if match.values is not None:
        into.values.extend(match.values.tolist())
    if match.sparse is not None:
        _fill_sparse(match.sparse, into.sparse_values)
    if match.metadata:
        to_struct(dict(match.metadata), into.metadata)


def schema_dict(schema: pb.MetadataSchema) -> dict[str, Any]:
    """A create-namespace schema as REST's JSON gives it (``filterable`` false if unset)."""
    return {"fields": {k: {"filterable": v.filterable} for k, v in schema.fields.items()}}


def namespace_description(info: NamespaceInfo) -> pb.NamespaceDescription:
    """``schema`` and ``indexed_fields`` only for a namespace created with a schema."""
    out = pb.NamespaceDescription(name=info.name, record_count=info.record_count)
    if info.filterable is not None:
        for name in info.filterable:
            out.schema.fields[name].filterable = True
        out.schema.SetInParent()  # present even when it declares no field
        out.indexed_fields.fields.extend(info.filterable)
    return out
