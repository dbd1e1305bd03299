"""The sparse inverted index and its MaxScore top-k against a brute-force scipy model.

Values are multiples of 1/4, so every dot product is exact in float64 whatever the
summation order: results must match the model exactly, ids, scores and tie order.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from spruce.engine.read.filters import parse_filter
from spruce.engine.read.rows import csr_from_rows
from spruce.engine.read.sparse_index import SPARSE_INDEX, SparseIndex, ViewIndex
from spruce.engine.write.namespace import Namespace
from spruce.errors import Corruption
from spruce.types import Metadata, Record, SparseVector

quarter = st.integers(-8, 8).map(lambda i: i / 4)
positive = st.integers(1, 8).map(lambda i: i / 4)


def sv(d: dict[int, float]) -> SparseVector:
    return SparseVector(
        indices=np.array(list(d), dtype=np.uint32), values=np.array(list(d.values()), np.float32)
    )


def terms_st(vocab: int) -> st.SearchStrategy[int]:
    # Skewed: low term ids are common, so posting lists have very different lengths.
    return st.integers(0, vocab - 1).map(lambda t: (t * t) // vocab)


def brute(rows: list[dict[int, float]], q: dict[int, float]) -> np.ndarray[Any, Any]:
    """Dot products by scipy: the model every sparse path must agree with."""
    vocab = 1 + max([0, *q, *(t for r in rows for t in r)])
    data, ind, ptr = [], [], [0]
    for r in rows:
        ind += list(r)
        data += list(r.values())
        ptr.append(len(ind))
    matrix = sps.csr_matrix((data, ind, ptr), shape=(len(rows), vocab), dtype=np.float64)
    qv = np.zeros(vocab)
    for t, w in q.items():
        qv[t] += w
    return np.asarray(matrix @ qv)


def expected_top(scores: np.ndarray[Any, Any], allowed: np.ndarray[Any, Any], k: int) -> list[int]:
    rows = [i for i in range(len(scores)) if allowed[i] and scores[i] != 0]
    return sorted(rows, key=lambda i: (-scores[i], i))[:k]


def merged(rows: np.ndarray[Any, Any], scores: np.ndarray[Any, Any], k: int) -> list[int]:
    """What the namespace's merge does with a source's candidates (ties broken by row)."""
    return [int(r) for _, r in sorted(zip((-scores).tolist(), rows.tolist(), strict=True))][:k]


@st.composite
def corpus(draw: st.DrawFn, values: st.SearchStrategy[float] = quarter) -> Any:
    vocab = draw(st.integers(1, 40))
    n = draw(st.integers(1, 80))
    rows = [draw(st.dictionaries(terms_st(vocab), values, max_size=8)) for _ in range(n)]
    q = draw(st.dictionaries(st.integers(0, vocab), values, min_size=1, max_size=6))
    allowed = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=np.bool_)
    if draw(st.booleans()):
        allowed[:] = True
    k = draw(st.integers(1, 12))
    return rows, q, allowed, k


def build(rows: list[dict[int, float]]) -> SparseIndex:
    return SparseIndex.build(csr_from_rows([sv(r) if r else None for r in rows]), len(rows))


def query(index: SparseIndex, q: dict[int, float], allowed: Any, k: int) -> Any:
    qs = sv(dict(sorted(q.items())))
    return index.top_k(qs.indices, qs.values, allowed, k)


@given(corpus())
@settings(max_examples=300, deadline=None)
def test_top_k_is_exact(case: Any) -> None:
    rows, q, allowed, k = case
    index = build(rows)
    got_rows, got_scores, scanned = query(index, q, allowed, k)
    want = brute(rows, q)
    assert scanned <= index.postings
    # Every candidate is allowed, scores non-zero, and is scored exactly.
    assert all(allowed[got_rows]) and np.all(got_scores != 0)
    np.testing.assert_array_equal(got_scores, want[got_rows])
    # Every row tied with the k-th is there, so the merge reproduces the global order.
    assert merged(got_rows, got_scores, k) == expected_top(want, allowed, k)
    top = expected_top(want, allowed, k)
    if top:
        kth = want[top[-1]]
        tied = {i for i in range(len(rows)) if allowed[i] and want[i] != 0 and want[i] >= kth}
        assert tied <= set(got_rows.tolist())


@given(corpus(st.floats(-3, 3, allow_nan=False, width=32)))
@settings(max_examples=150, deadline=None)
def test_top_k_with_arbitrary_floats(case: Any) -> None:
    rows, q, allowed, k = case
    index = build(rows)
    got_rows, got_scores, _ = query(index, q, allowed, k)
    want = brute(rows, q)
    np.testing.assert_allclose(got_scores, want[got_rows], rtol=1e-6, atol=1e-9)
    top = expected_top(want, allowed, k)
    got_top = merged(got_rows, got_scores, k)
    assert len(got_top) == len(top)
    np.testing.assert_allclose(want[got_top], want[top], rtol=1e-6, atol=1e-9)


@given(corpus())
@settings(max_examples=100, deadline=None)
def test_scores_and_round_trip(case: Any) -> None:
    rows, q, _, _ = case
    index = build(rows)
    qs = sv(dict(sorted(q.items())))
    np.testing.assert_array_equal(index.scores(qs.indices, qs.values), brute(rows, q))
    again = SparseIndex.from_bytes(index.to_bytes(), len(rows), "test")
    for name in ("terms", "offsets", "rows", "values", "max_value", "min_value"):
        np.testing.assert_array_equal(getattr(again, name), getattr(index, name))


def test_repeated_term_in_a_row_is_summed() -> None:
    csr = csr_from_rows(
        [SparseVector(np.array([3, 1, 3], np.uint32), np.array([1, 2, 0.5], np.float32))]
    )
    index = SparseIndex.build(csr, 1)
    assert index.terms.tolist() == [1, 3] and index.values.tolist() == [2.0, 1.5]


def test_common_terms_are_probed_not_scanned() -> None:
    """A rare heavy term decides the top-k: the common term's long list is never read."""
    n = 5000
    rows: list[dict[int, float]] = [{0: 0.25, 1 + i % 50: 0.5} for i in range(n)]
    for i in range(0, n, 500):
        rows[i][999] = 4.0  # ten rows have the rare term
    index = build(rows)
    q = {0: 1.0, 999: 1.0, 7: 1.0}
    allowed = np.ones(n, dtype=np.bool_)
    got_rows, got_scores, scanned = query(index, q, allowed, 5)
    want = brute(rows, q)
    assert merged(got_rows, got_scores, 5) == expected_top(want, allowed, 5)
    assert scanned == 10  # only the rare term's postings; terms 0 and 7 were probed
    assert index.postings == 2 * n + 10


def test_restrictive_filter_falls_back_to_every_list() -> None:
    rows = [{0: 0.25, 9: 2.0 if i < 10 else 0.0} for i in range(1000)]
    index = build(rows)
    allowed = np.zeros(1000, dtype=np.bool_)
    allowed[500:503] = True  # none has the heavy term
    got_rows, got_scores, scanned = query(index, {0: 1.0, 9: 1.0}, allowed, 5)
    assert sorted(got_rows.tolist()) == [500, 501, 502]
    assert got_scores.tolist() == [0.25] * 3 and scanned == index.postings


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[:-3],
        lambda b: b[:20],
        lambda b: b[:60] + bytes([b[60] ^ 1]) + b[61:],
        lambda b: b"XPRCSPX\0" + b[8:],
    ],
)
def test_damaged_file_is_corruption(damage: Any) -> None:
    data = build([{1: 1.0, 2: 0.5}, {2: 0.25}]).to_bytes()
    with pytest.raises(Corruption):
        SparseIndex.from_bytes(damage(data), 2, "test")
    with pytest.raises(Corruption):
        SparseIndex.from_bytes(data, 3, "test")  # for another segment


def test_view_index_is_built_on_the_second_query() -> None:
    rows = [{1: 1.0}, {1: 2.0, 2: 1.0}]
    csr = csr_from_rows([sv(r) for r in rows])
    calls: list[int] = []

    def get_csr() -> Any:
        calls.append(1)
        return csr

    view = ViewIndex()
    assert view.get(get_csr, 2) is None and calls == []
    index = view.get(get_csr, 2)
    assert index is not None and view.get(get_csr, 2) is index and calls == [1]
    assert index.terms.tolist() == [1, 2] and index.rows.tolist() == [0, 1, 1]


def test_memtable_answers_the_same_before_and_after_indexing(tmp_path: Path) -> None:
    ns = open_ns(tmp_path / "ns", flush_rows=1000)
    ns.upsert([Record(f"r{i}", sparse=sv({i % 5: 1.0 + i, 7: 0.5})) for i in range(40)])
    ns.delete(["r39"])
    q = sv({4: 1.0, 7: 2.0})
    answers = [[(m.id, m.score) for m in ns.query(None, top_k=3, sparse=q)] for _ in range(3)]
    assert answers[0] == answers[1] == answers[2] == [("r34", 36.0), ("r29", 31.0), ("r24", 26.0)]
    ns.close()


# -- through a namespace: memtable, segments, tombstones, filters, restarts -----------


def open_ns(path: Path, dimension: int | None = None, flush_rows: int = 7) -> Namespace:
    return Namespace.open(path, dimension=dimension, metric="dotproduct", flush_rows=flush_rows)


def test_segment_stores_its_index_only_with_sparse_values(tmp_path: Path) -> None:
    ns = open_ns(tmp_path / "s")
    ns.upsert([Record(f"r{i}", sparse=sv({i % 3: 1.0, 10: 0.5})) for i in range(7)])
    dense = open_ns(tmp_path / "d", dimension=2)
    dense.upsert([Record(f"r{i}", values=np.ones(2, np.float32)) for i in range(7)])
    ns.flush()  # a full memtable is flushed in the background: wait for it
    dense.flush()
    (seg,) = (tmp_path / "s" / "segments").iterdir()
    (dseg,) = (tmp_path / "d" / "segments").iterdir()
    assert (seg / SPARSE_INDEX).is_file() and not (dseg / SPARSE_INDEX).exists()
    ns.close()
    dense.close()


def test_segment_without_index_file_builds_it(tmp_path: Path) -> None:
    """Storage format 1 segments have no sparse.idx: the index is built from the records."""
    ns = open_ns(tmp_path / "ns")
    ns.upsert([Record(f"r{i}", sparse=sv({i % 4: 1.0 + i})) for i in range(7)])
    ns.flush()
    before = [(m.id, m.score) for m in ns.query(None, top_k=3, sparse=sv({1: 1.0, 2: 1.0}))]
    ns.close()
    (seg,) = (tmp_path / "ns" / "segments").iterdir()
    (seg / SPARSE_INDEX).unlink()
    ns = open_ns(tmp_path / "ns")
    after = [(m.id, m.score) for m in ns.query(None, top_k=3, sparse=sv({1: 1.0, 2: 1.0}))]
    assert after == before == [("r6", 7.0), ("r5", 6.0), ("r2", 3.0)]
    ns.close()


def test_damaged_index_file_is_reported(tmp_path: Path) -> None:
    ns = open_ns(tmp_path / "ns")
    ns.upsert([Record(f"r{i}", sparse=sv({i: 1.0})) for i in range(7)])
    ns.flush()
    ns.close()
    (seg,) = (tmp_path / "ns" / "segments").iterdir()
    data = bytearray((seg / SPARSE_INDEX).read_bytes())
    data[-1] ^= 0xFF
    (seg / SPARSE_INDEX).write_bytes(bytes(data))
    ns = open_ns(tmp_path / "ns")
    with pytest.raises(Corruption):
        ns.query(None, top_k=3, sparse=sv({1: 1.0}))
    ns.close()


@dataclass
class Row:
    sparse: dict[int, float]
    dense: tuple[float, ...] | None
    metadata: Metadata | None


IDS = [f"id{i:02d}" for i in range(40)]
FILTERS: list[tuple[dict[str, Any] | None, Any]] = [
    (None, lambda m: True),
    ({"g": "x"}, lambda m: m.get("g") == "x"),
    ({"n": {"$gte": 2}}, lambda m: m.get("n", -1) >= 2),
]


class _Machine(RuleBasedStateMachine):
    """Sparse-only (or hybrid, with DIM set) namespace vs a brute-force model."""

    DIM: int | None = None

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-sparse-"))
        self.ns = open_ns(self.dir / "ns", self.DIM, flush_rows=9)
        self.model: dict[str, Row] = {}

    def teardown(self) -> None:
        self.ns.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _dense(self, data: st.DataObject) -> tuple[float, ...] | None:
        if self.DIM is None:
            return None
        return tuple(data.draw(st.lists(quarter, min_size=self.DIM, max_size=self.DIM)))

    @rule(
        data=st.data(),
        ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=6),
    )
    def upsert(self, data: st.DataObject, ids: list[str]) -> None:
        batch = []
        for id in dict.fromkeys(ids):
            sparse = data.draw(st.dictionaries(terms_st(30), quarter, min_size=1, max_size=6))
            md = data.draw(
                st.fixed_dictionaries(
                    {}, optional={"g": st.sampled_from("xy"), "n": st.integers(0, 3)}
                )
            )
            dense = self._dense(data)
            self.model[id] = Row(sparse, dense, md or None)
            values = None if dense is None else np.array(dense, np.float32)
            batch.append(Record(id, values=values, sparse=sv(sparse), metadata=md or None))
        self.ns.upsert(batch)

    @rule(data=st.data(), id=st.sampled_from(IDS))
    def update_sparse(self, data: st.DataObject, id: str) -> None:
        sparse = data.draw(st.dictionaries(terms_st(30), quarter, min_size=1, max_size=4))
        _, found = self.ns.update(id, sparse=sv(sparse))
        assert found == (id in self.model)
        if found:
            self.model[id].sparse = sparse

    @rule(ids=st.lists(st.sampled_from(IDS), max_size=5))
    def delete(self, ids: list[str]) -> None:
        self.ns.delete(ids)
        for id in ids:
            self.model.pop(id, None)

    @rule()
    def flush(self) -> None:
        self.ns.flush()

    @rule()
    def restart(self) -> None:
        self.ns.close()
        self.ns = open_ns(self.dir / "ns", self.DIM, flush_rows=9)

    @rule(
        data=st.data(),
        top_k=st.integers(1, 15),
        which=st.integers(0, len(FILTERS) - 1),
        hybrid=st.booleans(),
    )
    def query(self, data: st.DataObject, top_k: int, which: int, hybrid: bool) -> None:
        q = data.draw(st.dictionaries(terms_st(30), quarter | positive, min_size=1, max_size=5))
        dense = self._dense(data) if hybrid else None
        raw, pred = FILTERS[which]
        ids = sorted(self.model)
        scores = brute([self.model[i].sparse for i in ids], q) if ids else np.zeros(0)
        want = []
        for i, id in enumerate(ids):
            row = self.model[id]
            if not pred(row.metadata or {}):
                continue
            score = float(scores[i])
            if dense is not None:
                assert row.dense is not None
                score += float(np.dot(np.array(row.dense), np.array(dense)))
            elif score == 0:
                continue
            want.append((-score, id))
        want.sort()
        got = self.ns.query(
            None if dense is None else np.array(dense, np.float32),
            top_k=top_k,
            sparse=sv(q),
            filter=parse_filter(raw),
        )
        assert [(-m.score, m.id) for m in got] == want[:top_k]

    @invariant()
    def fetch_returns_sparse_values(self) -> None:
        got = self.ns.fetch(list(self.model))
        for id, row in self.model.items():
            rec = got[id].sparse
            assert rec is not None
            assert dict(zip(rec.indices.tolist(), rec.values.tolist(), strict=True)) == row.sparse


STATEFUL = settings(max_examples=40, stateful_step_count=40, deadline=None)


class SparseMachine(_Machine):
    DIM = None


class HybridMachine(_Machine):
    DIM = 3


TestSparseNamespace = STATEFUL(SparseMachine).TestCase
TestHybridNamespace = STATEFUL(HybridMachine).TestCase
