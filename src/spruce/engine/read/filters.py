"""Pinecone's metadata filter language: parsing, an AST, and fast evaluation.

A filter arrives JSON-decoded from a client; ``parse_filter`` validates it and
builds an immutable AST of ``Filter`` nodes. Each node compiles once into a
plain Python closure (cached on the node), so evaluating many rows does no
per-node type dispatch beyond what the value types themselves require.

Typing follows Pinecone: booleans are never numbers (``True`` does not equal
``1``), ints and floats compare by value (``1 == 1.0``), and values of
different types never match. A missing field (or a ``None`` value, which
Pinecone never stores) matches only ``$ne``, ``$nin`` and ``$exists: false``.

Over 400 lines on purpose: the parser and the evaluator of each operator sit together,
so the language is defined in one place.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, TypeGuard

import numpy as np
import numpy.typing as npt

from spruce.errors import InvalidArgument

__all__ = [
    "And",
    "Eq",
    "Exists",
    "Filter",
    "Gt",
    "Gte",
    "In",
    "Lt",
    "Lte",
    "Ne",
    "Nin",
    "Or",
    "Scalar",
    "evaluate",
    "fields",
    "parse_filter",
]

Scalar = str | int | float | bool
_Pred = Callable[[Mapping[str, object]], bool]

#: Caps $and/$or nesting so hostile input cannot exhaust the Python stack.
_MAX_DEPTH = 32
#: Pinecone's limit on the values of one $in or $nin (operation limits).
MAX_LIST_VALUES = 10_000
_EMPTY: Mapping[str, object] = {}


def _is_num(v: object) -> TypeGuard[int | float]:
    # bool subclasses int, so it must be excluded explicitly.
    return isinstance(v, int | float) and not isinstance(v, bool)


# --------------------------------------------------------------------- AST


class Filter(ABC):
    """A parsed filter; ``matches`` tests one record's metadata."""

    def matches(self, metadata: Mapping[str, object] | None) -> bool:
        return self._predicate(_EMPTY if metadata is None else metadata)

    @cached_property
    def _predicate(self) -> _Pred:
        return self._compile()

    @abstractmethod
    def _compile(self) -> _Pred: ...

    # Dataclass equality would make Eq("a", True) == Eq("a", 1), which match
    # different rows; tagging bools keeps them apart (e.g. for filter caches).
    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Filter) and type(other) is type(self) and self._key() == other._key()
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self) -> tuple[object, ...]:
        fs = dataclasses.fields(self)  # type: ignore[arg-type]  # every concrete node is one
        return tuple(_tag(getattr(self, f.name)) for f in fs)

    def __getstate__(self) -> dict[str, object]:
        # The cached closure cannot be pickled; it is rebuilt on demand.
        state = dict(self.__dict__)
        state.pop("_predicate", None)
        return state


@dataclass(frozen=True, eq=False)
class _FieldFilter(Filter):
    """A leaf: one operator applied to one metadata field."""

    field: str


@dataclass(frozen=True, eq=False)
class Eq(_FieldFilter):
    value: Scalar

    def _compile(self) -> _Pred:
        return _eq_pred(self.field, self.value)


@dataclass(frozen=True, eq=False)
class Ne(_FieldFilter):
    value: Scalar

    def _compile(self) -> _Pred:
        eq = _eq_pred(self.field, self.value)
        return lambda m: not eq(m)


@dataclass(frozen=True, eq=False)
class _Compare(_FieldFilter):
    """Base of the ordering operators, which only ever match numeric (non-bool) values."""

    value: int | float
    _op: ClassVar[Callable[[float, float], bool]]

    def _compile(self) -> _Pred:
        f, t, op = self.field, self.value, type(self)._op

        def pred(m: Mapping[str, object]) -> bool:
            v = m.get(f)
            return _is_num(v) and op(v, t)

        return pred


@dataclass(frozen=True, eq=False)
class Gt(_Compare):
    _op = operator.gt


@dataclass(frozen=True, eq=False)
class Gte(_Compare):
    _op = operator.ge


@dataclass(frozen=True, eq=False)
class Lt(_Compare):
    _op = operator.lt


@dataclass(frozen=True, eq=False)
class Lte(_Compare):
    _op = operator.le


@dataclass(frozen=True, eq=False)
class In(_FieldFilter):
    values: tuple[Scalar, ...]

    def _compile(self) -> _Pred:
        return _in_pred(self.field, self.values)


@dataclass(frozen=True, eq=False)
class Nin(_FieldFilter):
    values: tuple[Scalar, ...]

    def _compile(self) -> _Pred:
        isin = _in_pred(self.field, self.values)
        return lambda m: not isin(m)


@dataclass(frozen=True, eq=False)
class Exists(_FieldFilter):
    value: bool

    def _compile(self) -> _Pred:
        f, want = self.field, self.value
        return lambda m: (m.get(f) is not None) is want


@dataclass(frozen=True, eq=False)
class And(Filter):
    children: tuple[Filter, ...]

    def _compile(self) -> _Pred:
        preds = tuple(c._predicate for c in self.children)
        if len(preds) == 1:
            return preds[0]
        if len(preds) == 2:  # the common case; skips the generator's overhead
            a, b = preds
            return lambda m: a(m) and b(m)

        def pred(m: Mapping[str, object]) -> bool:
            return all(p(m) for p in preds)

        return pred


@dataclass(frozen=True, eq=False)
class Or(Filter):
    children: tuple[Filter, ...]

    def _compile(self) -> _Pred:
        preds = tuple(c._predicate for c in self.children)
        if len(preds) == 1:
            return preds[0]
        if len(preds) == 2:  # the common case; skips the generator's overhead
            a, b = preds
            return lambda m: a(m) or b(m)

        def pred(m: Mapping[str, object]) -> bool:
            return any(p(m) for p in preds)

        return pred


def _tag(v: object) -> object:
    if isinstance(v, tuple):
        return tuple(_tag(x) for x in v)
    return (isinstance(v, bool), v)


def _eq_pred(f: str, t: Scalar) -> _Pred:
    # Specialised per target type so the row loop needs no dispatch on ``t``;
    # list-valued fields match when any element equals the target.
    if isinstance(t, bool):

        def eq_bool(m: Mapping[str, object]) -> bool:
            v = m.get(f)
            if isinstance(v, list):
                return any(isinstance(e, bool) and e == t for e in v)
            return isinstance(v, bool) and v == t

        return eq_bool
    if isinstance(t, str):

        def eq_str(m: Mapping[str, object]) -> bool:
            v = m.get(f)
            if isinstance(v, list):
                return t in v  # a str never equals a non-str
            return isinstance(v, str) and v == t

        return eq_str

    def eq_num(m: Mapping[str, object]) -> bool:
        v = m.get(f)
        if isinstance(v, list):
            return any(_is_num(e) and e == t for e in v)
        return _is_num(v) and v == t

    return eq_num


def _in_pred(f: str, values: tuple[Scalar, ...]) -> _Pred:
    # One set per type: routing by the field value's type keeps True out of
    # {1} while still letting 1 find 1.0 (equal hashes, equal values).
    strs = frozenset(v for v in values if isinstance(v, str))
    bools = frozenset(v for v in values if isinstance(v, bool))
    nums = frozenset(v for v in values if _is_num(v))

    def hit(v: object) -> bool:
        if isinstance(v, str):
            return v in strs
        if isinstance(v, bool):
            return v in bools
        if _is_num(v):
            return v in nums
        return False

    def pred(m: Mapping[str, object]) -> bool:
        v = m.get(f)
        if isinstance(v, list):
            return any(hit(e) for e in v)
        return hit(v)

    return pred


# ------------------------------------------------------------------- parse

_SCALAR_OPS: dict[str, Callable[[str, Scalar], Filter]] = {"$eq": Eq, "$ne": Ne}
_NUMBER_OPS: dict[str, Callable[[str, int | float], Filter]] = {
    "$gt": Gt,
    "$gte": Gte,
    "$lt": Lt,
    "$lte": Lte,
}
_LIST_OPS: dict[str, Callable[[str, tuple[Scalar, ...]], Filter]] = {"$in": In, "$nin": Nin}
_FIELD_OPS = frozenset({*_SCALAR_OPS, *_NUMBER_OPS, *_LIST_OPS, "$exists"})
_LOGICAL_OPS = frozenset({"$and", "$or"})


def parse_filter(obj: object) -> Filter | None:
    """Validate a JSON-decoded filter; ``None`` means "match everything".

    Raises ``InvalidArgument`` (and nothing else) on malformed input.
    """
    if obj is None:
        return None
    if not isinstance(obj, dict):
        raise InvalidArgument(f"Invalid filter: expected an object, got {_show(obj)}")
    if not obj:
        return None
    return _parse_dict(obj, 0)


def _parse_dict(obj: dict[object, object], depth: int) -> Filter:
    if depth > _MAX_DEPTH:
        raise InvalidArgument(f"Invalid filter: nested more than {_MAX_DEPTH} levels deep")
    parts: list[Filter] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidArgument(f"Invalid filter: field names must be strings, got {_show(key)}")
        if key in _LOGICAL_OPS:
            parts.append(_parse_logical(key, value, depth))
        elif key in _FIELD_OPS:
            raise InvalidArgument(
                f'Operator {key} must be applied to a field, e.g. {{"field": {{"{key}": ...}}}}'
            )
        elif key.startswith("$"):
            raise InvalidArgument(
                f"Unsupported operator: {key} (field names must not start with '$')"
            )
        else:
            parts.append(_parse_field(key, value))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_logical(op: str, value: object, depth: int) -> Filter:
    if not isinstance(value, list) or not value:
        raise InvalidArgument(
            f"{op} must be a non-empty list of filter objects, got {_show(value)}"
        )
    children: list[Filter] = []
    for item in value:
        if not isinstance(item, dict) or not item:
            raise InvalidArgument(
                f"Each item of {op} must be a non-empty filter object, got {_show(item)}"
            )
        children.append(_parse_dict(item, depth + 1))
    return And(tuple(children)) if op == "$and" else Or(tuple(children))


def _parse_field(field: str, value: object) -> Filter:
    if not isinstance(value, dict):
        # Implicit equality: {"genre": "drama"} means {"genre": {"$eq": "drama"}}.
        if not _is_scalar(value):
            raise InvalidArgument(
                f'Invalid value for field "{field}": expected a string, number or boolean, '
                f"got {_show(value)}"
            )
        return Eq(field, value)
    if not value:
        raise InvalidArgument(f'Invalid filter for field "{field}": expected an operator, got {{}}')
    parts: list[Filter] = []
    for op, operand in value.items():
        if not isinstance(op, str) or not op.startswith("$"):
            raise InvalidArgument(
                f'Invalid filter for field "{field}": nested objects are not supported, '
                f"expected an operator such as $eq but got key {_show(op)}"
            )
        parts.append(_parse_op(field, op, operand))
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_op(field: str, op: str, operand: object) -> Filter:
    where = f'Invalid value for {op} operator on field "{field}"'
    if op in _SCALAR_OPS:
        if not _is_scalar(operand):
            raise InvalidArgument(
                f"{where}: expected a string, number or boolean, got {_show(operand)}"
            )
        return _SCALAR_OPS[op](field, operand)
    if op in _NUMBER_OPS:
        if not (_is_num(operand) and _is_finite(operand)):
            raise InvalidArgument(f"{where}: expected a number, got {_show(operand)}")
        return _NUMBER_OPS[op](field, operand)
    if op in _LIST_OPS:
        if not isinstance(operand, list):
            raise InvalidArgument(f"{where}: expected a list, got {_show(operand)}")
        if len(operand) > MAX_LIST_VALUES:
            raise InvalidArgument(
                f"{where}: {len(operand)} values given, the maximum is {MAX_LIST_VALUES}"
            )
        items: list[Scalar] = []
        for item in operand:
            if not _is_scalar(item):
                raise InvalidArgument(
                    f"{where}: list items must be strings, numbers or booleans, got {_show(item)}"
                )
            items.append(item)
        return _LIST_OPS[op](field, tuple(items))
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidArgument(f"{where}: expected a boolean, got {_show(operand)}")
        return Exists(field, operand)
    if op in _LOGICAL_OPS:
        raise InvalidArgument(
            f'Operator {op} cannot be applied to field "{field}"; use it at the top level'
        )
    raise InvalidArgument(f'Unsupported operator: {op} (on field "{field}")')


def _is_finite(v: int | float) -> bool:
    # math.isfinite would overflow on huge ints, which are always finite.
    return not isinstance(v, float) or math.isfinite(v)


def _is_scalar(v: object) -> TypeGuard[Scalar]:
    return isinstance(v, str | bool) or (_is_num(v) and _is_finite(v))


def _show(v: object) -> str:
    try:
        text = json.dumps(v, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------- evaluate


def evaluate(
    filter: Filter | None, metadatas: Sequence[Mapping[str, object] | None]
) -> npt.NDArray[np.bool_]:
    """One bool per row: does that row's metadata satisfy ``filter``?"""
    n = len(metadatas)
    if filter is None:
        return np.ones(n, dtype=np.bool_)
    pred = filter._predicate
    return np.fromiter(
        (pred(_EMPTY if m is None else m) for m in metadatas), dtype=np.bool_, count=n
    )


def fields(filter: Filter | None) -> set[str]:
    """Names of every metadata field the filter refers to."""
    out: set[str] = set()
    stack = [] if filter is None else [filter]
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(node.children)
        elif isinstance(node, _FieldFilter):
            out.add(node.field)
    return out
