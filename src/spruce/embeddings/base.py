"""What a local model is (its card) and what it returns.

A card carries what Pinecone's ``/models`` API reports about a model and the
parameters it accepts; ``check_parameters`` validates a request's
``parameters`` against it, so every model refuses unknown keys the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from spruce.errors import InvalidArgument
from spruce.types import SparseVector

__all__ = [
    "DenseEmbedder",
    "DenseOutput",
    "ModelCard",
    "Parameter",
    "Reranker",
    "SparseEmbedder",
    "SparseOutput",
]

ModelKind = Literal["embed", "rerank"]


@dataclass(frozen=True)
class Parameter:
    """One key of a request's ``parameters``; ``allowed`` None means any value of the type."""

    name: str
    value_type: Literal["string", "boolean", "integer"]
    default: str | int | bool | None = None
    allowed: tuple[str | int, ...] | None = None
    required: bool = False

    def check(self, value: object) -> str | int | bool:
        expected = {"string": str, "boolean": bool, "integer": int}[self.value_type]
        if not isinstance(value, str | int) or not isinstance(value, expected):
            raise InvalidArgument(f"Parameter {self.name!r} must be a {self.value_type}")
        if expected is int and isinstance(value, bool):
            raise InvalidArgument(f"Parameter {self.name!r} must be a {self.value_type}")
        if isinstance(value, str) and self.allowed is not None:
            # Pinecone accepts these enumerations in any case ("end", "END").
            for option in self.allowed:
                if isinstance(option, str) and option.lower() == value.lower():
                    return option
        if self.allowed is not None and value not in self.allowed:
            choices = ", ".join(repr(a) for a in self.allowed)
            raise InvalidArgument(
                f"Invalid value {value!r} for parameter {self.name!r}; expected one of {choices}"
            )
        return value


@dataclass(frozen=True)
class ModelCard:
    """A model Spruce serves, as ``/models`` describes it."""

    name: str
    kind: ModelKind
    description: str
    provider: str
    parameters: tuple[Parameter, ...] = ()
    vector_type: Literal["dense", "sparse"] | None = None
    dimension: int | None = None
    metrics: tuple[str, ...] = ()
    max_sequence_length: int | None = None
    max_batch_size: int = 96
    #: What this card is an alias of, when an operator mapped a name to a local model.
    alias_of: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check_parameters(self, raw: object) -> dict[str, Any]:
        """The request's parameters, validated and merged over the card's defaults."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidArgument("parameters must be an object")
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            names = ", ".join(sorted(known)) or "none"
            raise InvalidArgument(
                f"Unsupported parameters {unknown} for model {self.name!r}; it accepts: {names}"
            )
        out: dict[str, Any] = {}
        for name, param in known.items():
            if name in raw and raw[name] is not None:
                out[name] = param.check(raw[name])
            elif param.required:
                raise InvalidArgument(f"Parameter {name!r} is required for model {self.name!r}")
            elif param.default is not None:
                out[name] = param.default
        return out


@dataclass
class DenseOutput:
    vectors: npt.NDArray[np.float32]  # (n, dimension)
    tokens: int


@dataclass
class SparseOutput:
    vectors: list[SparseVector]
    tokens: int
    #: Per input, the token of each index (in index order), when asked for.
    token_names: list[list[str]] | None = None


class DenseEmbedder(Protocol):
    card: ModelCard

    def embed(self, texts: list[str], *, input_type: str, truncate: str) -> DenseOutput: ...


class SparseEmbedder(Protocol):
    card: ModelCard

    def embed(
        self, texts: list[str], *, input_type: str, truncate: str, return_tokens: bool = False
    ) -> SparseOutput: ...


class Reranker(Protocol):
    card: ModelCard

    def score(self, query: str, documents: list[str], *, truncate: str) -> list[float]: ...
