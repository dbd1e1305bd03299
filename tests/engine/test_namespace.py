"""Behaviour of each Namespace method on small, hand-checked examples."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pytest

from spruce.engine.read.filters import Filter, parse_filter
from spruce.engine.write.namespace import Metric, Namespace
from spruce.errors import InvalidArgument, Unavailable
from spruce.types import Metadata, Record

from .helpers import rec, sp, vec


def open_ns(
    tmp_path: Path, metric: Metric = "dotproduct", dimension: int | None = 2, flush_rows: int = 100
) -> Namespace:
    return Namespace.open(
        tmp_path / "ns", dimension=dimension, metric=metric, flush_rows=flush_rows
    )


def f(obj: object) -> Filter:
    filt = parse_filter(obj)
    assert filt is not None
    return filt


# a=[1,0] b=[0,2] c=[1,1] d=[-1,0], query q=[2,1]:
#   dot:       a 2, b 2, c 3, d -2
#   cosine:    a 2/sqrt5, b 2/(2 sqrt5), c 3/sqrt10, d -2/sqrt5
#   euclidean: a 1+1=2, b 4+1=5, c 1+0=1, d 9+1=10 (squared)
EXPECTED = {
    "dotproduct": [("c", 3.0), ("a", 2.0), ("b", 2.0), ("d", -2.0)],
    "cosine": [
        ("c", 3 / math.sqrt(10)),
        ("a", 2 / math.sqrt(5)),
        ("b", 1 / math.sqrt(5)),
        ("d", -2 / math.sqrt(5)),
    ],
    "euclidean": [("c", 1.0), ("a", 2.0), ("b", 5.0), ("d", 10.0)],
}
TINY = [rec("a", 1, 0), rec("b", 0, 2), rec("c", 1, 1), rec("d", -1, 0)]


@pytest.mark.parametrize("metric", ["dotproduct", "cosine", "euclidean"])
@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "segment"])
def test_query_scores_each_metric(tmp_path: Path, metric: Metric, flushed: bool) -> None:
    ns = open_ns(tmp_path, metric)
    ns.upsert(TINY[:2])
    if flushed:
        ns.flush()  # a and b in a segment, c and d in the memtable
    ns.upsert(TINY[2:])
    for top_k in (1, 3, 10):
        got = [(m.id, m.score) for m in ns.query(vec(2, 1), top_k=top_k)]
        want = EXPECTED[metric][:top_k]
        assert [g[0] for g in got] == [w[0] for w in want]
        assert [g[1] for g in got] == pytest.approx([w[1] for w in want], abs=1e-6)


def test_ties_break_by_id_across_memtable_and_segments(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    ns.upsert([rec("ba", 1, 1), rec("z", 1, 1), rec("top", 5, 0)])
    ns.flush()
    ns.upsert([rec("b", 1, 1), rec("y", 1, 1)])
    ns.flush()
    ns.upsert([rec("ab", 1, 1), rec("n", 1, 1), rec("low", 0, 0)])
    got = [m.id for m in ns.query(vec(1, 0), top_k=5)]
    assert got == ["top", "ab", "b", "ba", "n"]


def test_query_include_flags_and_filter(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    ns.upsert(
        [
            rec("a", 1, 0, metadata={"g": "x"}, sparse={3: 1.0}),
            rec("b", 0, 1, metadata={"g": "y"}),
        ]
    )
    [bare] = ns.query(vec(1, 0), top_k=1)
    assert bare.values is None and bare.metadata is None and bare.sparse is None
    [full] = ns.query(vec(1, 0), top_k=1, include_values=True, include_metadata=True)
    assert full.values is not None and full.values.tolist() == [1.0, 0.0]
    assert full.values.dtype == np.float32
    assert full.sparse is not None and full.sparse.indices.tolist() == [3]
    assert full.metadata == {"g": "x"}
    hits = ns.query(vec(1, 0), top_k=5, filter=f({"g": "y"}))
    assert [m.id for m in hits] == ["b"]


def test_query_rejects_bad_input(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, "cosine")
    ns.upsert(TINY)
    with pytest.raises(InvalidArgument):
        ns.query(vec(1, 0), top_k=0)
    with pytest.raises(InvalidArgument):
        ns.query(vec(1, 0, 0), top_k=1)
    with pytest.raises(InvalidArgument):
        ns.query(None, top_k=1)
    with pytest.raises(InvalidArgument):  # sparse needs dotproduct
        ns.query(vec(1, 0), top_k=1, sparse=sp({1: 1.0}))


def test_hybrid_adds_sparse_dot(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    ns.upsert([rec("a", 1, 0, sparse={1: 2.0, 5: 1.0}), rec("b", 2, 0)])
    ns.flush()
    ns.upsert([rec("c", 0, 0, sparse={5: 4.0})])
    got = [(m.id, m.score) for m in ns.query(vec(1, 0), top_k=3, sparse=sp({5: 1.0, 9: 3.0}))]
    assert got == [("c", 4.0), ("a", 2.0), ("b", 2.0)]


def test_sparse_only_index(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, dimension=None)
    ns.upsert(
        [rec("a", sparse={1: 1.0, 2: 2.0}), rec("b", sparse={2: 3.0}), rec("c", sparse={7: 1.0})]
    )
    ns.flush()
    ns.upsert([rec("d", sparse={1: 0.5})])
    got = [(m.id, m.score) for m in ns.query(None, top_k=10, sparse=sp({1: 2.0, 2: 1.0}))]
    # c shares no index with the query, so it is not a match at all.
    assert got == [("a", 4.0), ("b", 3.0), ("d", 1.0)]
    with pytest.raises(InvalidArgument):
        ns.upsert([rec("e", 1.0)])
    with pytest.raises(InvalidArgument):
        ns.query(vec(1.0), top_k=1)


def test_upsert_validation(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    bad = [
        rec("a", 1, 2, 3),
        rec("a"),
        rec("a", float("nan"), 0),
        rec("", 1, 0),
        rec("a", 1, 0, metadata={"x": {"nested": 1}}),  # type: ignore[dict-item]
        rec("a", 1, 0, metadata={"x": float("inf")}),
    ]
    for r in bad:
        with pytest.raises(InvalidArgument):
            ns.upsert([r])
    assert ns.lsn == 0 and ns.count() == 0


def test_overwrite_replaces_whole_record(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    ns.upsert([rec("a", 1, 0, metadata={"g": "x"}, sparse={1: 1.0})])
    ns.upsert([rec("a", 0, 1)])
    got = ns.fetch(["a"])["a"]
    assert got.values is not None and got.values.tolist() == [0.0, 1.0]
    assert got.metadata is None and got.sparse is None
    ns.flush()
    ns.upsert([rec("a", 3, 3, metadata={"h": 1})])  # overwrites a segment row
    assert ns.count() == 1
    assert [m.id for m in ns.query(vec(1, 1), top_k=5)] == ["a"]
    got = ns.fetch(["a"])["a"]
    assert got.values is not None and got.values.tolist() == [3.0, 3.0]
    assert got.metadata == {"h": 1}


def test_update_merges_metadata(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    lsn = ns.upsert([rec("a", 1, 0, metadata={"g": "x", "n": 1}, sparse={2: 1.0})])
    ns.flush()
    lsn2, found = ns.update("a", set_metadata={"n": 2, "k": ["p", "q"]})
    assert found and lsn2 == lsn + 1
    got = ns.fetch(["a"])["a"]
    assert got.metadata == {"g": "x", "n": 2, "k": ["p", "q"]}
    assert got.values is not None and got.values.tolist() == [1.0, 0.0]
    assert got.sparse is not None and got.sparse.indices.tolist() == [2]
    ns.update("a", values=vec(0, 5), sparse=sp({4: 2.0}))
    got = ns.fetch(["a"])["a"]
    assert got.values is not None and got.values.tolist() == [0.0, 5.0]
    assert got.sparse is not None and got.sparse.indices.tolist() == [4]
    assert got.metadata == {"g": "x", "n": 2, "k": ["p", "q"]}
    assert ns.update("missing", set_metadata={"x": 1}) == (ns.lsn, False)
    assert ns.lsn == lsn2 + 1  # the unknown id wrote nothing
    assert ns.count() == 1


def test_update_where_and_delete_where(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, flush_rows=2)  # rows end up in several segments
    ns.upsert([rec(f"r{i}", i, 1, metadata={"n": i, "g": "ab"[i % 2]}) for i in range(7)])
    lsn, matched = ns.update_where(f({"g": "a"}), {"seen": True})
    assert matched == 4 and lsn == ns.lsn
    assert ns.count(f({"seen": True})) == 4
    assert ns.fetch(["r2"])["r2"].metadata == {"n": 2, "g": "a", "seen": True}
    assert ns.fetch(["r1"])["r1"].metadata == {"n": 1, "g": "b"}
    _, deleted = ns.delete_where(f({"n": {"$gte": 4}}))
    assert deleted == 3
    assert ns.list_ids() == ["r0", "r1", "r2", "r3"]
    before = ns.lsn
    assert ns.delete_where(f({"n": 99})) == (before, 0)
    assert ns.update_where(f({"n": 99}), {"x": 1}) == (before, 0)


def test_delete_and_delete_all(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, flush_rows=3)
    ns.upsert([rec(f"r{i}", i, 0) for i in range(5)])
    lsn = ns.delete(["r1", "nope", "r4", "r1"])
    assert lsn == ns.lsn and ns.count() == 3
    assert ns.delete(["nope"]) == lsn  # nothing to do, nothing logged
    assert set(ns.fetch(["r0", "r1", "r4"])) == {"r0"}
    ns.delete_all()
    assert ns.count() == 0 and ns.list_ids() == [] and ns.query(vec(1, 0), top_k=3) == []
    assert not list((tmp_path / "ns" / "segments").iterdir())  # space was reclaimed
    ns.upsert([rec("r1", 1, 1)])
    assert ns.list_ids() == ["r1"]


def test_list_ids_order_and_pagination(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, flush_rows=4)
    ids = ["b", "a2", "a10", "a1", "c", "ab", "a", "é", "Z"]
    ns.upsert([rec(i, 1, 0) for i in ids])
    assert ns.list_ids(limit=100) == sorted(ids)
    assert ns.list_ids(prefix="a") == ["a", "a1", "a10", "a2", "ab"]
    assert ns.list_ids(prefix="a", after="a10") == ["a2", "ab"]
    assert ns.list_ids(prefix="a", after="0") == ["a", "a1", "a10", "a2", "ab"]
    assert ns.list_ids(after="c") == ["é"]
    pages: list[str] = []
    after = None
    while page := ns.list_ids(limit=2, after=after):
        pages.extend(page)
        after = page[-1]
    assert pages == sorted(ids)
    ns.delete(["a1"])
    ns.upsert([rec("a0", 1, 0)])
    assert ns.list_ids(prefix="a", limit=3) == ["a", "a0", "a10"]


def test_ids_where_order_and_pagination(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, flush_rows=4)  # rows spread over segments and the memtable
    ids = ["b", "a2", "a10", "a1", "c", "ab", "a", "é", "Z", "d", "e"]
    ns.upsert(
        [rec(i, 1, 0, metadata={"k": "x" if n % 3 else "y", "n": n}) for n, i in enumerate(ids)]
    )
    ns.flush()
    ns.upsert([rec("a3", 0, 1, metadata={"k": "x", "n": 50})])  # in the memtable
    xs = f({"k": "x"})
    want = sorted([i for n, i in enumerate(ids) if n % 3] + ["a3"])
    assert ns.ids_where(xs, limit=100) == want
    assert ns.ids_where(xs, limit=3) == want[:3]
    assert ns.ids_where(xs, limit=3, after="a10") == [i for i in want if i > "a10"][:3]
    assert ns.ids_where(xs, limit=0) == []
    assert ns.ids_where(f({"n": {"$gte": 100}})) == []
    pages: list[str] = []
    after = None
    while page := ns.ids_where(xs, limit=2, after=after):
        pages.extend(page)
        after = page[-1]
    assert pages == want
    # Deletes and metadata updates show at once, in segments and the memtable alike.
    ns.delete(["a2", "a3"])
    ns.update_where(f({"n": 4}), {"k": "y"})  # "c" leaves the match
    ns.upsert([rec("a0", 1, 1, metadata={"k": "x"})])
    now = [i for i in want if i not in ("a2", "a3", "c")] + ["a0"]
    assert ns.ids_where(xs) == sorted(now)
    records = ns.fetch_where(xs, limit=2, after="a")
    assert [r.id for r in records] == sorted(now)[1:3] == ["a0", "a10"]
    assert records[0].metadata == {"k": "x"}
    assert records[0].values is not None and list(records[0].values) == [1.0, 1.0]
    with pytest.raises(InvalidArgument):
        ns.ids_where(xs, limit=-1)


def test_count_and_lsn(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    assert ns.lsn == 0 and ns.count() == 0
    assert ns.upsert([rec("a", 1, 0, metadata={"g": "x"})]) == 1
    assert ns.upsert([rec("b", 1, 0)]) == 2
    assert ns.upsert([]) == 2
    assert ns.count() == 2 and ns.count(f({"g": "x"})) == 1


def test_returned_data_is_a_copy(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    tags = ["x"]
    md: Metadata = {"tags": tags}
    r = Record("a", vec(1, 0), metadata=md)
    ns.upsert([r])
    tags.append("y")
    assert r.values is not None
    r.values[0] = 9
    got = ns.fetch(["a"])["a"]
    assert got.metadata == {"tags": ["x"]}
    assert got.values is not None and got.values.tolist() == [1.0, 0.0]
    assert got.metadata is not None and isinstance(got.metadata["tags"], list)
    got.metadata["tags"].append("z")
    assert ns.fetch(["a"])["a"].metadata == {"tags": ["x"]}


def test_closed_namespace_refuses_calls(tmp_path: Path) -> None:
    ns = open_ns(tmp_path)
    ns.close()
    with pytest.raises(Unavailable):
        ns.upsert([rec("a", 1, 0)])
    with pytest.raises(Unavailable):
        ns.count()


def test_concurrent_readers_never_see_half_a_batch(tmp_path: Path) -> None:
    ns = open_ns(tmp_path, flush_rows=50)
    batch, batches = 10, 20
    errors: list[str] = []
    done = threading.Event()

    def writer(w: int) -> None:
        for b in range(batches):
            ns.upsert([rec(f"w{w}-{b}-{i}", 1, 0) for i in range(batch)])

    def reader() -> None:
        while not done.is_set():
            n = ns.count()
            if n % batch:
                errors.append(f"count {n}")
            k = len(ns.query(vec(1, 0), top_k=1000))
            if k % batch:
                errors.append(f"query {k}")

    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in writers + readers:
        t.start()
    for t in writers:
        t.join()
    done.set()
    for t in readers:
        t.join()
    assert not errors
    assert ns.count() == 3 * batches * batch
    assert ns.lsn == 3 * batches
