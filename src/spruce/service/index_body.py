"""Pinecone's control-plane request bodies, decoded with the type of every field checked.

Create (the 2025-xx ``spec`` shape and the 2026-07 ``schema``/``deployment`` shape),
configure and create-for-model bodies pass through here before any rule of the
control plane runs. msgspec structs state each field's type; a body that does not
fit is refused as ``InvalidArgument`` naming the field (``spec.serverless.cloud``),
so no malformed value reaches the catalog or becomes a 500. ``check_choice`` checks
the enumerated ones (metric, cloud, ...). Unknown keys are ignored (clients of other API
versions send keys this server has no use for), but keys of features this server
does not have (pod and BYOC indexes, collections, backups, customer-managed keys) are
refused rather than silently dropped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec

from spruce.errors import InvalidArgument
from spruce.service.records import SPARSE_NOT_SUPPORTED

__all__ = [
    "CLOUDS",
    "ConfigureRequest",
    "EmbedBody",
    "IndexRequest",
    "ModelIndexBody",
    "check_choice",
    "convert",
    "decode_configure",
    "decode_create",
    "decode_create_for_model",
    "decode_embed",
]

CLOUDS = ("aws", "gcp", "azure")
DENSE_FIELD = "_values"
SPARSE_FIELD = "_sparse_values"
HYBRID = "sparse_field"  # spec key: the schema declared both vector fields

_POD = (
    "Pod-based indexes are not supported by this server: create a serverless index "
    "(spec.serverless, or deployment.deployment_type 'managed')"
)
_BYOC = "BYOC indexes are not supported by this server: create a serverless index"
_COLLECTIONS = (
    "Collections are not supported by this server; Pinecone recommends backups instead "
    "of collections for serverless indexes"
)

T = TypeVar("T")


@dataclass
class IndexRequest:
    """A create request, whichever API version's body it arrived in; types checked."""

    name: str | None
    dimension: int | None = None
    metric: str | None = None
    vector_type: str | None = None
    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    cloud: str = "aws"
    region: str = "us-east-1"
    read_capacity: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: A document index's ``schema.fields`` as sent (``service.documents`` checks them).
    documents: dict[str, Any] | None = None


@dataclass
class ConfigureRequest:
    """A PATCH /indexes/{name} body; None: leave that setting as it is."""

    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    read_capacity: dict[str, Any] | None = None
    embed: EmbedBody | None = None
    schema: dict[str, Any] | None = None


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(
            f"Invalid value for {name}: {value!r}; expected one of {', '.join(choices)}"
        )
    return value


_JSON_TYPES = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "object": "an object",
    "array": "an array",
    "null": "null",
}
_EXPECTED = re.compile(r"Expected `([^`]*)`, got `([^`]*)`")


def _json_type(names: str) -> str:
    """msgspec's ``str | null`` as "a string": null stands for an absent field."""
    kinds = [_JSON_TYPES.get(n, n) for n in names.split(" | ") if n != "null"]
    return " or ".join(kinds) or "null"


def _message(text: str, at: str) -> str:
    """msgspec's "Expected `str`, got `int` - at `$.spec.cloud`" in terms of the body."""
    detail, _, where = text.partition(" - at `$")
    path = (at + where.rstrip("`")).lstrip(".")
    if detail.startswith("Object missing required field "):
        missing = detail.removeprefix("Object missing required field ").strip("`")
        return f"Missing required field {f'{path}.' if path else ''}{missing}"
    expected = _EXPECTED.fullmatch(detail)
    if expected:
        detail = f"expected {_json_type(expected[1])}, got {_json_type(expected[2])}"
    else:
        detail = detail[0].lower() + detail[1:]
    return f"Invalid value for {path}: {detail}" if path else f"Invalid request body: {detail}"


def convert(raw: object, cls: type[T], at: str = "") -> T:
    """``raw`` as ``cls``; InvalidArgument names the field (``at`` + its path) if it
    does not fit."""
    try:
        return msgspec.convert(raw, type=cls)
    except msgspec.ValidationError as exc:
        raise InvalidArgument(_message(str(exc), at)) from None


_convert = convert


class _Struct(msgspec.Struct, kw_only=True):
    pass


class MetadataField(_Struct):
    filterable: bool | None = None
    description: str | None = None


class MetadataSchema(_Struct):
    """Filterable metadata fields: every metadata field is indexed here, so this is
    checked and needs no action."""

    fields: dict[str, MetadataField]


class _Serverless(_Struct):
    cloud: str | None = None
    region: str | None = None
    read_capacity: dict[str, Any] | None = None
    source_collection: str | None = None
    schema: MetadataSchema | None = None


class _Spec(_Struct):
    serverless: _Serverless | None = None
    pod: Any = None
    byoc: Any = None


class _Create2025(_Struct):
    name: str | None = None
    dimension: int | None = None
    metric: str | None = None
    vector_type: str | None = None
    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    spec: _Spec | None = None


class _DenseField(_Struct):
    type: str
    dimension: int | None = None
    metric: str | None = None
    description: str | None = None


class _SparseField(_Struct):
    type: str
    description: str | None = None


class _Schema(_Struct):
    fields: dict[str, dict[str, Any]]


class _Deployment(_Struct):
    deployment_type: str = "managed"
    cloud: str | None = None
    region: str | None = None
    environment: str | None = None


class _Create2026(_Struct):
    schema: _Schema
    name: str | None = None
    deployment: _Deployment | None = None
    read_capacity: dict[str, Any] | None = None
    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    source_collection: Any = None
    source_backup_id: Any = None
    cmek_id: Any = None


def _refuse_unsupported(*checks: tuple[object, str]) -> None:
    """Each (value, message): a feature this server lacks was asked for when set."""
    for value, message in checks:
        if value is not None:
            raise InvalidArgument(message)


def decode_create(body: Mapping[str, Any]) -> IndexRequest:
    """Both create shapes: 2026-07 ``schema``/``deployment`` and 2025-xx ``spec``."""
    if "schema" in body:
        return _create_2026(body)
    req = _convert(body, _Create2025)
    if req.spec is None:
        raise InvalidArgument("spec is required: {'serverless': {'cloud': ..., 'region': ...}}")
    spec = req.spec
    _refuse_unsupported((spec.pod, _POD), (spec.byoc, _BYOC))
    if spec.serverless is None:
        raise InvalidArgument("Only serverless indexes are supported: set spec.serverless")
    serverless = spec.serverless
    if serverless.source_collection is not None:
        raise InvalidArgument(_COLLECTIONS)
    return IndexRequest(
        name=req.name,
        dimension=req.dimension,
        metric=req.metric,
        vector_type=req.vector_type,
        deletion_protection=req.deletion_protection,
        tags=req.tags,
        cloud=_cloud(serverless.cloud, "spec.serverless.cloud"),
        region=_region(serverless.region, "spec.serverless.region"),
        read_capacity=serverless.read_capacity,
    )


def _cloud(value: str | None, name: str) -> str:
    return "aws" if value is None else check_choice(name, value, CLOUDS)


def _region(value: str | None, name: str) -> str:
    if value is None:
        return "us-east-1"
    if not value:
        raise InvalidArgument(f"Invalid value for {name}: it must not be empty")
    return value


def _create_2026(body: Mapping[str, Any]) -> IndexRequest:
    req = _convert(body, _Create2026)
    _refuse_unsupported(
        (req.source_collection, _COLLECTIONS),
        (req.source_backup_id, "Restoring an index from a backup is not supported by this server"),
        (
            req.cmek_id,
            "Customer-managed encryption keys (cmek_id) are not supported by this server",
        ),
    )
    fields = req.schema.fields
    if not fields:
        raise InvalidArgument("schema.fields must declare at least one field")
    out = IndexRequest(
        name=req.name,
        deletion_protection=req.deletion_protection,
        tags=req.tags,
        read_capacity=req.read_capacity,
    )
    if set(fields) - {DENSE_FIELD, SPARSE_FIELD}:
        # Any named field makes a document index; only the legacy reserved names (what
        # SDK 10 sends for dimension=/vector_type=) make a vector index.
        out.documents = fields
        _deploy(out, req.deployment)
        return out
    at = "schema.fields."
    sparse = None
    if SPARSE_FIELD in fields:
        sparse = _convert(fields[SPARSE_FIELD], _SparseField, at + SPARSE_FIELD)
        if sparse.type != "sparse_vector":
            raise InvalidArgument(f"schema field {SPARSE_FIELD!r} must be a sparse_vector")
    if DENSE_FIELD not in fields:
        out.vector_type, out.metric = "sparse", "dotproduct"
    else:
        dense = _convert(fields[DENSE_FIELD], _DenseField, at + DENSE_FIELD)
        if dense.type != "dense_vector":
            raise InvalidArgument(f"schema field {DENSE_FIELD!r} must be a dense_vector")
        out.vector_type, out.dimension, out.metric = "dense", dense.dimension, dense.metric
        if sparse is not None:
            # Both reserved fields: a hybrid index, dense + sparse scored by dot product.
            if (dense.metric or "").lower() != "dotproduct":
                raise InvalidArgument(SPARSE_NOT_SUPPORTED)
            out.extra[HYBRID] = True
    _deploy(out, req.deployment)
    return out


def _deploy(out: IndexRequest, given: _Deployment | None) -> None:
    deployment = given or _Deployment()
    if deployment.deployment_type == "pod":
        raise InvalidArgument(_POD)
    if deployment.deployment_type == "byoc":
        raise InvalidArgument(_BYOC)
    check_choice("deployment.deployment_type", deployment.deployment_type, ("managed",))
    out.cloud = _cloud(deployment.cloud, "deployment.cloud")
    out.region = _region(deployment.region, "deployment.region")


class _ConfigureServerless(_Struct):
    read_capacity: dict[str, Any] | None = None


class _ConfigureSpec(_Struct):
    serverless: _ConfigureServerless | None = None
    pod: Any = None
    byoc: Any = None


class EmbedBody(_Struct):
    """The ``embed`` object of create-for-model (where ``model`` and ``field_map`` are
    required, checked by ``service.integrated``) and of a 2025-xx configure."""

    model: str | None = None
    field_map: dict[str, str] | None = None
    metric: str | None = None
    dimension: int | None = None
    vector_type: str | None = None
    read_parameters: dict[str, Any] | None = None
    write_parameters: dict[str, Any] | None = None


class _Configure(_Struct):
    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    read_capacity: dict[str, Any] | None = None
    spec: _ConfigureSpec | None = None
    deployment: Any = None
    embed: EmbedBody | None = None
    schema: dict[str, Any] | None = None


def decode_configure(body: Mapping[str, Any]) -> ConfigureRequest:
    req = _convert(body, _Configure)
    read_capacity = req.read_capacity
    if req.spec is not None:
        _refuse_unsupported((req.spec.pod, _POD), (req.spec.byoc, _BYOC))
        if req.spec.serverless is not None and read_capacity is None:
            read_capacity = req.spec.serverless.read_capacity
    if req.deployment is not None:
        # 2026-07 configure takes deployment only to scale pod-based indexes.
        raise InvalidArgument(
            "deployment cannot be configured: it scales pod-based indexes, which this "
            "server does not support"
        )
    return ConfigureRequest(
        deletion_protection=req.deletion_protection,
        tags=req.tags,
        read_capacity=read_capacity,
        embed=req.embed,
        schema=req.schema,
    )


def decode_embed(raw: object, at: str = "embed") -> EmbedBody:
    return _convert(raw, EmbedBody, at)


class ModelIndexBody(_Struct):
    """POST /indexes/create-for-model."""

    name: str | None = None
    cloud: str | None = None
    region: str | None = None
    embed: EmbedBody | None = None
    deletion_protection: str | None = None
    tags: dict[str, str] | None = None
    schema: MetadataSchema | None = None
    read_capacity: dict[str, Any] | None = None

    def location(self) -> tuple[str, str]:
        return _cloud(self.cloud, "cloud"), _region(self.region, "region")


def decode_create_for_model(body: Mapping[str, Any]) -> ModelIndexBody:
    return _convert(body, ModelIndexBody)
