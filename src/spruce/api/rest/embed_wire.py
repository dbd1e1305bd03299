"""How an integrated index's ``embed`` config appears in describe responses.

2026-07 describes it as a ``semantic_text`` schema field named after
``field_map.text`` (the SDK rebuilds ``desc.embed`` from it); 2025-xx clients
read a top-level ``embed`` object. A dense model's read and write parameters
show its ``dimension``, as Pinecone's do.
"""

from __future__ import annotations

from typing import Any

__all__ = ["embed_json", "semantic_text_fields"]


def _parameters(embed: dict[str, Any], key: str) -> dict[str, Any]:
    shown = dict(embed[key])
    if embed.get("dimension") is not None:
        shown.setdefault("dimension", embed["dimension"])
    return shown


def semantic_text_fields(embed: dict[str, Any]) -> dict[str, Any]:
    return {
        embed["field_map"]["text"]: {
            "type": "semantic_text",
            "model": embed["model"],
            "metric": embed["metric"],
            "read_parameters": _parameters(embed, "read_parameters"),
            "write_parameters": _parameters(embed, "write_parameters"),
        }
    }


def embed_json(embed: dict[str, Any]) -> dict[str, Any]:
    keys = ("model", "metric", "dimension", "vector_type", "field_map")
    out = {k: embed[k] for k in keys if embed.get(k) is not None}
    out["read_parameters"] = _parameters(embed, "read_parameters")
    out["write_parameters"] = _parameters(embed, "write_parameters")
    return out
