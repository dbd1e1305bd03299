"""Indexes with integrated embedding: create-for-model and changes to ``embed``.

An integrated index is an ordinary index whose spec also holds ``embed``:
``{model, field_map: {text: FIELD}, metric, dimension, vector_type,
read_parameters, write_parameters}``. ``model`` is the local model that runs
(an alias resolves to it); the records API (``service.text_records``) embeds
FIELD with it on upsert and the query text on search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spruce.catalog import IndexRow
from spruce.embeddings import ModelCard
from spruce.errors import InvalidArgument, NotFound
from spruce.service.control_plane import ControlPlane
from spruce.service.index_body import (
    DENSE_FIELD,
    SPARSE_FIELD,
    EmbedBody,
    IndexRequest,
    ModelIndexBody,
    decode_embed,
)
from spruce.service.inference import Inference

__all__ = ["IntegratedIndexes", "SEMANTIC_TEXT"]

SEMANTIC_TEXT = "semantic_text"
_READ_DEFAULTS = {"input_type": "query", "truncate": "END"}
_WRITE_DEFAULTS = {"input_type": "passage", "truncate": "END"}


class IntegratedIndexes:
    def __init__(self, control: ControlPlane, inference: Inference) -> None:
        self._control = control
        self._inference = inference

    def _card(self, model: object) -> ModelCard:
        try:
            return self._inference.registry.card(model, "embed")
        except NotFound as exc:
            raise InvalidArgument(exc.message) from None

    def create_for_model(self, project_id: str, body: ModelIndexBody) -> IndexRow:
        """POST /indexes/create-for-model (types checked by ``index_body``)."""
        embed = body.embed
        if embed is None:
            raise InvalidArgument("embed is required: {'model': ..., 'field_map': {'text': ...}}")
        card = self._card(embed.model)
        metric = card.metrics[0] if embed.metric is None else embed.metric.lower()
        if metric not in card.metrics:
            raise InvalidArgument(
                f"Model {card.name!r} supports the metrics {', '.join(card.metrics)}; "
                f"got {metric!r}"
            )
        dimension = embed.dimension
        if dimension is not None and dimension != card.dimension:
            if card.dimension is None:
                raise InvalidArgument(f"Model {card.name!r} is sparse: it has no dimension")
            raise InvalidArgument(
                f"Model {card.name!r} produces {card.dimension}-dimensional vectors; "
                f"got dimension {dimension!r}"
            )
        # A filterable-field schema needs no action: every metadata field is indexed.
        config = {
            "model": card.alias_of or card.name,
            "field_map": _field_map(embed.field_map),
            "metric": metric,
            "dimension": card.dimension,
            "vector_type": card.vector_type,
            "read_parameters": _parameters(card, embed.read_parameters, _READ_DEFAULTS),
            "write_parameters": _parameters(card, embed.write_parameters, _WRITE_DEFAULTS),
        }
        cloud, region = body.location()
        req = IndexRequest(
            name=body.name,
            dimension=card.dimension,
            metric=metric,
            vector_type=card.vector_type or "dense",
            deletion_protection=body.deletion_protection,
            tags=body.tags,
            cloud=cloud,
            region=region,
            read_capacity=body.read_capacity,
            extra={"embed": config},
        )
        return self._control.create(project_id, req)

    def configure(
        self,
        project_id: str,
        name: str,
        *,
        embed: EmbedBody | None = None,
        schema: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The new ``embed`` config a PATCH asks for, or None when it asks nothing of it.

        2026-07 clients change read/write parameters through the ``semantic_text``
        field of ``schema``; 2025-xx clients send ``embed``, which may also turn a
        plain index into an integrated one when the model fits its vectors.
        """
        row = self._control.describe(project_id, name)
        current: dict[str, Any] | None = row.spec.get("embed")
        if schema is not None:
            embed = _embed_from_schema(schema, current, row.name)
        if embed is None:
            return None
        if current is None:
            return self._convert(row, embed)
        updated = dict(current)
        if embed.model is not None:
            card = self._card(embed.model)
            if (card.alias_of or card.name) != current["model"]:
                raise InvalidArgument(
                    f"The model of index {row.name!r} is {current['model']!r} and cannot be changed"
                )
        card = self._card(current["model"])
        if embed.field_map is not None:
            updated["field_map"] = _field_map(embed.field_map)
        if embed.read_parameters is not None:
            updated["read_parameters"] = _parameters(card, embed.read_parameters, _READ_DEFAULTS)
        if embed.write_parameters is not None:
            updated["write_parameters"] = _parameters(card, embed.write_parameters, _WRITE_DEFAULTS)
        return updated

    def _convert(self, row: IndexRow, embed: EmbedBody) -> dict[str, Any]:
        card = self._card(embed.model)
        if card.vector_type != row.vector_type or card.dimension != row.dimension:
            shape = f"{card.dimension}-d dense" if card.dimension else "sparse"
            raise InvalidArgument(
                f"Model {card.name!r} produces {shape} vectors, which do not fit index "
                f"{row.name!r} ({row.vector_type}, dimension {row.dimension})"
            )
        if row.metric not in card.metrics:
            raise InvalidArgument(
                f"Model {card.name!r} does not support the metric {row.metric!r} of index "
                f"{row.name!r}"
            )
        return {
            "model": card.alias_of or card.name,
            "field_map": _field_map(embed.field_map),
            "metric": row.metric,
            "dimension": card.dimension,
            "vector_type": card.vector_type,
            "read_parameters": _parameters(card, embed.read_parameters, _READ_DEFAULTS),
            "write_parameters": _parameters(card, embed.write_parameters, _WRITE_DEFAULTS),
        }


def _field_map(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("text"), str) or not raw["text"]:
        raise InvalidArgument(
            "embed.field_map must name the text field to embed, e.g. {'text': 'chunk_text'}"
        )
    field = raw["text"]
    if field in ("_id", "id") or field.startswith("$"):
        raise InvalidArgument(f"{field!r} cannot be the text field")
    return {"text": field}


def _parameters(card: ModelCard, raw: object, defaults: dict[str, str]) -> dict[str, Any]:
    """What the caller set (validated by the model) over the per-direction defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise InvalidArgument("read_parameters and write_parameters must be objects")
    checked = card.check_parameters(dict(raw))
    return {**defaults, **{k: checked[k] for k in raw if raw[k] is not None}}


def _embed_from_schema(schema: object, current: dict[str, Any] | None, index: str) -> EmbedBody:
    """The ``semantic_text`` field of a 2026-07 PATCH schema, as a 2025-xx ``embed``."""
    fields = schema.get("fields") if isinstance(schema, Mapping) else None
    if not isinstance(fields, Mapping):
        raise InvalidArgument("schema must be {'fields': {...}}")
    if current is not None:
        # Describe shows the vector field beside the text field; sent back unchanged (a
        # describe-then-configure round trip), it asks for nothing.
        name, shown = _vector_field(current)
        if _same_field(fields.get(name), shown):
            fields = {k: v for k, v in fields.items() if k != name}
    semantic = {
        name: f
        for name, f in fields.items()
        if isinstance(f, Mapping) and f.get("type") == SEMANTIC_TEXT
    }
    if not semantic or current is None:
        raise InvalidArgument(
            f"The schema of index {index!r} cannot be changed: only the semantic_text field "
            "of an index created with create_for_model can be configured"
        )
    text_field = current["field_map"]["text"]
    if set(semantic) != {text_field} or len(fields) != 1:
        raise InvalidArgument(
            f"Only the semantic_text field {text_field!r} of index {index!r} can be "
            "configured; fields cannot be added or removed"
        )
    field = semantic[text_field]
    unknown = sorted(set(field) - {"type", "model", "metric", "description", *_PARAM_KEYS})
    if unknown:
        raise InvalidArgument(f"Unsupported keys {unknown} in semantic_text field")
    if field.get("metric") not in (None, current["metric"]):
        raise InvalidArgument(f"The metric of index {index!r} cannot be changed")
    wanted = {k: field[k] for k in ("model", *_PARAM_KEYS) if field.get(k) is not None}
    return decode_embed(wanted, f"schema.fields.{text_field}")


_PARAM_KEYS = ("read_parameters", "write_parameters")


def _vector_field(embed: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The vector field an integrated index describes, as ``api/rest/wire`` shows it."""
    if embed.get("vector_type") == "sparse":
        return SPARSE_FIELD, {"type": "sparse_vector"}
    dense = {"type": "dense_vector", "dimension": embed["dimension"], "metric": embed["metric"]}
    return DENSE_FIELD, dense


def _same_field(sent: object, shown: dict[str, Any]) -> bool:
    if not isinstance(sent, Mapping):
        return False
    return {k: v for k, v in sent.items() if v is not None and k != "description"} == shown
