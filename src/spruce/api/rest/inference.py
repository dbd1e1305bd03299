"""Inference API on the control-plane host: /embed, /rerank, /models."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spruce.api.rest.common import json_body, json_response, project, services
from spruce.embeddings import ModelCard
from spruce.errors import Unimplemented
from spruce.service import Inference

__all__ = ["model_json", "offload_model", "routes"]

T = TypeVar("T")

_model_limiter: anyio.CapacityLimiter | None = None


async def offload_model(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run work that may wait on a model in threads of its own: requests queued on the
    model must not hold the workers that plain vector reads and writes need."""
    global _model_limiter
    if _model_limiter is None:
        _model_limiter = anyio.CapacityLimiter(4)
    call = functools.partial(fn, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=_model_limiter)


def _inference(request: Request) -> Inference:
    found = services(request).inference
    if found is None:
        raise Unimplemented("Inference is not enabled on this server")
    return found


def model_json(card: ModelCard) -> dict[str, Any]:
    """A model as Pinecone's ``ModelInfo`` (snake_case)."""
    params = []
    for p in card.parameters:
        entry: dict[str, Any] = {
            "parameter": p.name,
            "type": "one_of" if p.allowed is not None else "any",
            "value_type": p.value_type,
            "required": p.required,
        }
        if p.allowed is not None:
            entry["allowed_values"] = list(p.allowed)
        if p.default is not None:
            entry["default"] = p.default
        params.append(entry)
    out: dict[str, Any] = {
        "model": card.name,
        "short_description": card.description,
        "type": card.kind,
        "supported_parameters": params,
        "modality": "text",
        "max_batch_size": card.max_batch_size,
        "provider_name": card.provider,
    }
    if card.max_sequence_length is not None:
        out["max_sequence_length"] = card.max_sequence_length
    if card.kind == "embed":
        out["vector_type"] = card.vector_type
        out["supported_metrics"] = list(card.metrics)
        if card.dimension is not None:
            out["default_dimension"] = card.dimension
            out["supported_dimensions"] = [card.dimension]
    return out


async def embed(request: Request) -> Response:
    project(request)
    body = await json_body(request)
    result = await offload_model(
        _inference(request).embed, body.get("model"), body.get("inputs"), body.get("parameters")
    )
    data: list[dict[str, Any]] = []
    if result.dense is not None:
        data = [{"values": row, "vector_type": "dense"} for row in result.dense.tolist()]
    else:
        for i, vector in enumerate(result.sparse or []):
            item: dict[str, Any] = {
                "sparse_values": vector.values.tolist(),
                "sparse_indices": vector.indices.tolist(),
                "vector_type": "sparse",
            }
            if result.token_names is not None:
                item["sparse_tokens"] = result.token_names[i]
            data.append(item)
    return json_response(
        {
            "model": result.model,
            "vector_type": result.vector_type,
            "data": data,
            "usage": {"total_tokens": result.tokens},
        }
    )


async def rerank(request: Request) -> Response:
    project(request)
    body = await json_body(request)
    result = await offload_model(
        _inference(request).rerank,
        body.get("model"),
        body.get("query"),
        body.get("documents"),
        rank_fields=body.get("rank_fields"),
        return_documents=body.get("return_documents", True),
        top_n=body.get("top_n"),
        parameters=body.get("parameters"),
    )
    data = []
    for r in result.ranked:
        item: dict[str, Any] = {"index": r.index, "score": r.score}
        if r.document is not None:
            item["document"] = r.document
        data.append(item)
    return json_response(
        {"model": result.model, "data": data, "usage": {"rerank_units": result.units}}
    )


async def list_models(request: Request) -> Response:
    project(request)
    params = request.query_params
    cards = _inference(request).list_models(params.get("type"), params.get("vector_type"))
    return json_response({"models": [model_json(c) for c in cards]})


async def describe_model(request: Request) -> Response:
    project(request)
    card = _inference(request).get_model(request.path_params["model"])
    return json_response(model_json(card))


routes = [
    Route("/embed", embed, methods=["POST"]),
    Route("/rerank", rerank, methods=["POST"]),
    Route("/models", list_models, methods=["GET"]),
    Route("/models/{model:path}", describe_model, methods=["GET"]),
]
