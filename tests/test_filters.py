"""Tests for spruce.engine.read.filters: Pinecone's metadata filter language."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.read.filters import (
    And,
    Eq,
    Exists,
    Filter,
    Gt,
    In,
    Lt,
    Or,
    evaluate,
    fields,
    parse_filter,
)
from spruce.errors import InvalidArgument

# ----------------------------------------------------------- a fixed table

RECORDS: list[dict[str, Any] | None] = [
    {"genre": "drama", "year": 2001, "rating": 8.5, "tags": ["a", "b"], "free": True},  # 0
    {"genre": "comedy", "year": 1999, "rating": 7, "tags": ["b"], "free": False},  # 1
    {"genre": "drama", "year": 2010.0, "rating": 7.0, "tags": []},  # 2
    {"genre": "action", "year": "2005", "free": 1},  # 3: year is a string, free an int
    {"genre": "5", "year": 5, "rating": 1},  # 4
    {"tags": ["drama", "c"], "free": 0},  # 5
    {},  # 6
    None,  # 7
]
ALL = set(range(len(RECORDS)))

CASES: list[tuple[dict[str, Any], set[int]]] = [
    # equality, explicit and implicit
    ({"genre": "drama"}, {0, 2}),
    ({"genre": {"$eq": "drama"}}, {0, 2}),
    ({"genre": {"$ne": "drama"}}, {1, 3, 4, 5, 6, 7}),
    ({"year": 2005}, set()),  # "2005" is a string, not a number
    ({"year": "2005"}, {3}),
    ({"genre": 5}, set()),
    # ints and floats compare by value
    ({"rating": 7}, {1, 2}),
    ({"rating": 7.0}, {1, 2}),
    ({"year": 2010}, {2}),
    # booleans are not numbers
    ({"free": True}, {0}),
    ({"free": 1}, {3}),
    ({"free": False}, {1}),
    ({"free": 0}, {5}),
    ({"free": {"$ne": True}}, ALL - {0}),
    ({"free": {"$gte": 0}}, {3, 5}),
    # ordering: numbers only
    ({"year": {"$gt": 2000}}, {0, 2}),
    ({"year": {"$gte": 2001}}, {0, 2}),
    ({"year": {"$lt": 2001}}, {1, 4}),
    ({"year": {"$lte": 2001}}, {0, 1, 4}),
    ({"year": {"$gte": 2000, "$lt": 2010}}, {0}),
    ({"rating": {"$gt": 7}}, {0}),
    ({"tags": {"$gt": 0}}, set()),
    # list-valued fields
    ({"tags": "b"}, {0, 1}),
    ({"tags": {"$eq": "drama"}}, {5}),
    ({"tags": {"$ne": "b"}}, ALL - {0, 1}),
    ({"tags": {"$in": ["a", "c"]}}, {0, 5}),
    ({"tags": {"$nin": ["a", "c"]}}, ALL - {0, 5}),
    # $in / $nin on scalars
    ({"genre": {"$in": ["drama", "action"]}}, {0, 2, 3}),
    ({"genre": {"$nin": ["drama", "action"]}}, {1, 4, 5, 6, 7}),
    ({"genre": {"$in": [5]}}, set()),
    ({"genre": {"$in": ["5"]}}, {4}),
    ({"free": {"$in": [1]}}, {3}),
    ({"free": {"$in": [True]}}, {0}),
    ({"free": {"$nin": [True, 0]}}, ALL - {0, 5}),
    ({"rating": {"$in": [7.0, 1]}}, {1, 2, 4}),
    ({"year": {"$in": []}}, set()),
    ({"year": {"$nin": []}}, ALL),
    # $exists
    ({"year": {"$exists": True}}, {0, 1, 2, 3, 4}),
    ({"year": {"$exists": False}}, {5, 6, 7}),
    ({"nope": {"$exists": False}}, ALL),
    ({"nope": {"$ne": 1}}, ALL),
    ({"nope": {"$lt": 1}}, set()),
    # logic
    ({"genre": "drama", "rating": 7}, {2}),
    ({"$and": [{"genre": "drama"}, {"year": {"$lt": 2005}}]}, {0}),
    ({"$or": [{"genre": "comedy"}, {"tags": "c"}]}, {1, 5}),
    ({"$or": [{"$and": [{"genre": "drama"}, {"rating": {"$gte": 8}}]}, {"free": False}]}, {0, 1}),
    ({"$and": [{"genre": "drama"}], "year": 2001}, {0}),
    ({"$or": [{"nope": {"$exists": False}}, {"genre": "x"}]}, ALL),
    ({"$or": [{"genre": "x"}, {"genre": "y"}, {"genre": "z"}]}, set()),
    (
        {"$and": [{"year": {"$gt": 0}}, {"year": {"$lt": 3000}}, {"free": {"$exists": True}}]},
        {0, 1},
    ),
]


@pytest.mark.parametrize(("raw", "expected"), CASES, ids=[repr(c[0]) for c in CASES])
def test_table(raw: dict[str, Any], expected: set[int]) -> None:
    flt = parse_filter(raw)
    assert flt is not None
    got = evaluate(flt, RECORDS)
    assert got.dtype == np.bool_
    assert got.shape == (len(RECORDS),)
    assert set(np.flatnonzero(got).tolist()) == expected
    assert {i for i, m in enumerate(RECORDS) if flt.matches(m)} == expected


@pytest.mark.parametrize("raw", [None, {}])
def test_empty_filter_matches_everything(raw: object) -> None:
    assert parse_filter(raw) is None
    assert evaluate(None, RECORDS).tolist() == [True] * len(RECORDS)
    assert evaluate(None, []).shape == (0,)


def test_evaluate_no_rows() -> None:
    flt = parse_filter({"a": 1})
    out = evaluate(flt, [])
    assert out.dtype == np.bool_ and out.shape == (0,)


def test_ast_shape() -> None:
    assert parse_filter({"genre": "drama"}) == Eq("genre", "drama")
    assert parse_filter({"y": {"$gt": 1, "$lt": 3}}) == And((Gt("y", 1), Lt("y", 3)))
    assert parse_filter({"$or": [{"t": {"$in": ["a"]}}, {"e": {"$exists": True}}]}) == Or(
        (In("t", ("a",)), Exists("e", True))
    )


def test_equality_keeps_bool_and_number_apart() -> None:
    # Caches keyed by filter must not confuse filters that match different rows.
    assert Eq("a", True) != Eq("a", 1)
    assert In("a", (True,)) != In("a", (1,))
    assert Eq("a", 1) == Eq("a", 1.0)
    assert hash(Eq("a", 1)) == hash(Eq("a", 1.0))
    assert Gt("a", 1) != Lt("a", 1)
    assert len({Eq("a", True), Eq("a", 1), Eq("a", 1.0)}) == 2


def test_pickle_after_use() -> None:
    flt = parse_filter({"$or": [{"a": 1}, {"b": {"$in": ["x"]}}], "c": {"$exists": True}})
    assert flt is not None
    assert flt.matches({"a": 1, "c": "z"})  # compiles and caches the closure
    clone = pickle.loads(pickle.dumps(flt))
    assert clone == flt
    assert clone.matches({"b": ["x"], "c": 0})
    assert not clone.matches({"b": ["y"], "c": 0})


def test_fields() -> None:
    flt = parse_filter({"a": 1, "$or": [{"b": {"$gt": 1}}, {"$and": [{"c": {"$exists": True}}]}]})
    assert fields(flt) == {"a", "b", "c"}
    assert fields(None) == set()


# ------------------------------------------------------------- bad filters

MALFORMED: list[object] = [
    "genre",
    ["genre"],
    5,
    True,
    {1: "x"},
    {"genre": {"$foo": 1}},
    {"$foo": 1},
    {"$genre": "drama"},
    {"$eq": 1},
    {"year": {"$gt": "abc"}},
    {"year": {"$gt": True}},
    {"year": {"$lte": None}},
    {"year": {"$gt": float("nan")}},
    {"year": {"$lt": float("inf")}},
    {"year": {"$gt": [1]}},
    {"genre": {"$in": "drama"}},
    {"genre": {"$nin": {"a": 1}}},
    {"genre": {"$in": [None]}},
    {"genre": {"$in": [["a"]]}},
    {"genre": {"$in": ["a", {"b": 1}]}},
    {"genre": {"$exists": 1}},
    {"genre": {"$exists": "true"}},
    {"genre": {"$exists": None}},
    {"genre": None},
    {"genre": {"$eq": None}},
    {"genre": {"$ne": None}},
    {"genre": ["a", "b"]},
    {"genre": {"$eq": ["a"]}},
    {"genre": {"$eq": {"$eq": 1}}},
    {"genre": float("nan")},
    {"$and": []},
    {"$or": []},
    {"$and": None},
    {"$and": {"genre": "x"}},
    {"$and": [None]},
    {"$and": [{}]},
    {"$or": ["x"]},
    {"$or": [{"genre": "x"}, {"year": {"$gt": "x"}}]},
    {"genre": {"name": "x"}},
    {"genre": {"$eq": "x", "name": "y"}},
    {"genre": {}},
    {"genre": {"$and": [{"a": 1}]}},
    {"a": {"b": {"c": 1}}},
]


@pytest.mark.parametrize("raw", MALFORMED, ids=[repr(m) for m in MALFORMED])
def test_malformed(raw: object) -> None:
    with pytest.raises(InvalidArgument):
        parse_filter(raw)


def test_deep_nesting_is_rejected_cleanly() -> None:
    raw: dict[str, Any] = {"a": 1}
    for _ in range(500):
        raw = {"$and": [raw]}
    with pytest.raises(InvalidArgument, match="nested"):
        parse_filter(raw)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"year": {"$gt": "abc"}}, 'Invalid value for $gt operator on field "year"'),
        ({"year": {"$gt": "abc"}}, 'expected a number, got "abc"'),
        ({"genre": {"$foo": 1}}, "Unsupported operator: $foo"),
        ({"$foo": 1}, "Unsupported operator: $foo"),
        ({"$and": []}, "$and must be a non-empty list"),
        ({"$or": "x"}, "$or must be a non-empty list"),
        ({"tags": {"$in": "a"}}, 'Invalid value for $in operator on field "tags": expected a list'),
        ({"on": {"$exists": 1}}, "expected a boolean, got 1"),
        ({"genre": None}, 'field "genre"'),
        ({"genre": None}, "got null"),
        ({"genre": {"name": "x"}}, "nested objects are not supported"),
    ],
)
def test_messages(raw: object, fragment: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_filter(raw)
    assert fragment in info.value.message


# ------------------------------------------- properties against a reference

_MISSING = object()


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "num"
    if isinstance(v, str):
        return "str"
    return "other"


def _same(a: object, b: object) -> bool:
    return _kind(a) == _kind(b) != "other" and a == b


def _ref_op(v: object, op: str, arg: Any) -> bool:
    """One operator on one field value, straight from Pinecone's docs."""
    if op == "$exists":
        return (v is not _MISSING) is arg
    if v is _MISSING:
        return op in ("$ne", "$nin")
    elems = v if isinstance(v, list) else [v]
    if op == "$eq":
        return any(_same(e, arg) for e in elems)
    if op == "$ne":
        return not any(_same(e, arg) for e in elems)
    if op == "$in":
        return any(_same(e, a) for e in elems for a in arg)
    if op == "$nin":
        return not any(_same(e, a) for e in elems for a in arg)
    if _kind(v) != "num":
        return False
    assert isinstance(v, int | float)
    return bool({"$gt": v > arg, "$gte": v >= arg, "$lt": v < arg, "$lte": v <= arg}[op])


def _ref(raw: Mapping[str, Any], md: Mapping[str, Any] | None) -> bool:
    md = md or {}
    ok = True
    for key, val in raw.items():
        if key == "$and":
            ok = ok and all(_ref(c, md) for c in val)
        elif key == "$or":
            ok = ok and any(_ref(c, md) for c in val)
        elif isinstance(val, dict):
            ok = ok and all(_ref_op(md.get(key, _MISSING), o, a) for o, a in val.items())
        else:
            ok = ok and _ref_op(md.get(key, _MISSING), "$eq", val)
    return ok


def _ref_fields(raw: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for key, val in raw.items():
        if key in ("$and", "$or"):
            for c in val:
                out |= _ref_fields(c)
        else:
            out.add(key)
    return out


FIELDS = ["a", "b", "c"]
# Small pools make rows and filters collide often; the wide strategies keep
# huge ints and arbitrary floats in play now and then.
str_vals = st.sampled_from(["x", "y", "1", ""])
small_nums = st.sampled_from([-1, 0, 1, 2, 0.0, 1.0, 1.5, -2.5])
wide_nums = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)
)
num_vals = st.one_of(small_nums, small_nums, small_nums, wide_nums)
scalars = st.one_of(str_vals, num_vals, st.booleans())
md_values = st.one_of(scalars, st.lists(str_vals, max_size=3))
metadatas = st.one_of(st.none(), st.dictionaries(st.sampled_from(FIELDS), md_values, max_size=3))

# A dense fixed grid evaluated alongside the generated rows, so every example
# exercises type mixes (True vs 1, 1 vs 1.0, "1" vs 1, lists, missing fields).
_POOL: list[Any] = ["x", "1", "", -1, 0, 1, 2, 1.0, 1.5, True, False, ["x"], ["x", "1"], []]
GRID: list[dict[str, Any] | None] = [None, {}]
GRID += [{"a": v} for v in _POOL]
GRID += [{"a": v, "b": w, "c": w} for v in _POOL for w in _POOL[::3]]

_OPERANDS: dict[str, st.SearchStrategy[Any]] = {
    "$eq": scalars,
    "$ne": scalars,
    "$gt": num_vals,
    "$gte": num_vals,
    "$lt": num_vals,
    "$lte": num_vals,
    "$in": st.lists(scalars, max_size=3),
    "$nin": st.lists(scalars, max_size=3),
    "$exists": st.booleans(),
}
op_args = st.sampled_from(sorted(_OPERANDS)).flatmap(
    lambda op: st.tuples(st.just(op), _OPERANDS[op])
)
# .map() stops one_of from flattening ``scalars`` into several branches, so
# operator dicts and implicit equality are drawn about equally often.
conditions = st.one_of(
    st.lists(op_args, min_size=1, max_size=2).map(dict), scalars.map(lambda v: v)
)
leaves = st.dictionaries(st.sampled_from(FIELDS), conditions, min_size=1, max_size=2)
valid_filters = st.recursive(
    leaves,
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3).map(lambda xs: {"$and": xs}),
        st.lists(kids, min_size=1, max_size=3).map(lambda xs: {"$or": xs}),
        st.tuples(leaves, st.lists(kids, min_size=1, max_size=2)).map(
            lambda t: {**t[0], "$or": t[1]}
        ),
    ),
    max_leaves=8,
)


_SCALAR_POOL: list[Any] = ["x", "1", "", -1, 0, 1, 2, 1.0, 1.5, True, False]
_SINGLE_OPS: list[tuple[str, Any]] = (
    [(op, v) for op in ("$eq", "$ne") for v in _SCALAR_POOL]
    + [(op, v) for op in ("$gt", "$gte", "$lt", "$lte") for v in (-1, 0, 1, 1.0, 1.5, 2)]
    + [(op, v) for op in ("$in", "$nin") for v in ([], ["x"], [1, "1"], [True], [0.0, "y"])]
    + [("$exists", True), ("$exists", False)]
)


@pytest.mark.parametrize(("op", "arg"), _SINGLE_OPS, ids=[f"{o}:{a!r}" for o, a in _SINGLE_OPS])
def test_each_operator_against_reference(op: str, arg: Any) -> None:
    raw = {"a": {op: arg}}
    flt = parse_filter(raw)
    assert flt is not None
    assert evaluate(flt, GRID).tolist() == [_ref(raw, m) for m in GRID]


@settings(max_examples=200, deadline=None)
@given(valid_filters, st.lists(metadatas, max_size=8))
def test_matches_reference(raw: dict[str, Any], rows: list[dict[str, Any] | None]) -> None:
    flt = parse_filter(raw)
    assert isinstance(flt, Filter)
    rows = rows + GRID
    expected = [_ref(raw, m) for m in rows]
    assert evaluate(flt, rows).tolist() == expected
    assert [flt.matches(m) for m in rows] == expected
    assert fields(flt) == _ref_fields(raw)


json_keys = st.one_of(
    st.sampled_from([*_OPERANDS, "$and", "$or", "$foo", "$", "a", "b"]),
    st.text(max_size=3),
)
json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3)),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(json_keys, kids, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_like, st.lists(metadatas, max_size=4))
def test_arbitrary_input_only_raises_invalid_argument(raw: object, rows: list[Any]) -> None:
    try:
        flt = parse_filter(raw)
    except InvalidArgument as exc:
        assert exc.message
        return
    # Whatever was accepted must also mean what the reference says it means.
    if flt is None:
        assert raw is None or raw == {}
        return
    assert isinstance(raw, dict)
    rows = rows + GRID
    assert evaluate(flt, rows).tolist() == [_ref(raw, m) for m in rows]
