"""The write operations as they are logged in the WAL (msgpack via msgspec, never pickle).

Each op carries its LSN, so replay can skip what a segment already holds. Ops that a
client phrased with a filter (delete_where, update_where) are logged with the ids the
filter resolved to, so replay never re-evaluates a filter against a different state.
Byte layouts are in docs/FORMAT.md ("WAL payloads").
"""

from __future__ import annotations

import msgspec
import numpy as np

from spruce.errors import Corruption
from spruce.types import MetadataValue, SparseVector

__all__ = [
    "DeleteAllOp",
    "DeleteOp",
    "Op",
    "SparseWire",
    "UpdateOp",
    "UpdateWhereOp",
    "UpsertOp",
    "decode_op",
    "encode_op",
    "sparse_from_wire",
    "sparse_to_wire",
]

WireMetadata = dict[str, MetadataValue]


class SparseWire(msgspec.Struct, array_like=True):
    """A sparse vector: little-endian u32 indices and f32 values, equal lengths."""

    indices: bytes
    values: bytes


class UpsertOp(msgspec.Struct, tag="upsert", tag_field="op"):
    lsn: int
    ids: list[str]
    # Row-major little-endian f32, len(ids) * dimension values; None for sparse-only indexes.
    vectors: bytes | None
    sparse: list[SparseWire | None]
    metadata: list[WireMetadata | None]


class UpdateOp(msgspec.Struct, tag="update", tag_field="op"):
    lsn: int
    id: str
    values: bytes | None
    sparse: SparseWire | None
    set_metadata: WireMetadata | None


class UpdateWhereOp(msgspec.Struct, tag="update_where", tag_field="op"):
    lsn: int
    ids: list[str]
    set_metadata: WireMetadata


class DeleteOp(msgspec.Struct, tag="delete", tag_field="op"):
    lsn: int
    ids: list[str]


class DeleteAllOp(msgspec.Struct, tag="delete_all", tag_field="op"):
    lsn: int


Op = UpsertOp | UpdateOp | UpdateWhereOp | DeleteOp | DeleteAllOp

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Op] = msgspec.msgpack.Decoder(Op)


def encode_op(op: Op) -> bytes:
    return _encoder.encode(op)


def decode_op(payload: bytes) -> Op:
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError as exc:
        # The frame's CRC matched, so this is a bad writer or an unknown format, not a torn write.
        raise Corruption(f"undecodable WAL record: {exc}") from exc


def sparse_to_wire(sparse: SparseVector | None) -> SparseWire | None:
    if sparse is None:
        return None
    return SparseWire(
        indices=np.ascontiguousarray(sparse.indices, dtype="<u4").tobytes(),
        values=np.ascontiguousarray(sparse.values, dtype="<f4").tobytes(),
    )


def sparse_from_wire(wire: SparseWire | None) -> SparseVector | None:
    if wire is None:
        return None
    indices = np.frombuffer(wire.indices, dtype="<u4").astype(np.uint32)
    values = np.frombuffer(wire.values, dtype="<f4").astype(np.float32)
    if len(indices) != len(values):
        raise Corruption("WAL sparse vector has mismatched indices and values")
    return SparseVector(indices=indices, values=values)
