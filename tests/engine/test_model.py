"""Hypothesis state machine: a Namespace against a brute-force dict model, with restarts.

Dense and sparse values are multiples of 1/4 in [-2, 2], so dot products and squared
distances are exact in float32 and the engine must reproduce the model's order
exactly, ties broken by id. Cosine rounds, so there ids may swap only among scores
within the tolerance.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from spruce.engine.options import EngineOptions, SearchTuning
from spruce.engine.read.filters import parse_filter
from spruce.engine.write.namespace import Metric, Namespace
from spruce.types import Metadata, Record, SparseVector

TOL = 1e-4
IDS = ["a", "b", "c", "ab", "abc", "b1", "b2", "ca", "d", "é"]
GROUPS = ["x", "y", "z"]

ids_st = st.sampled_from(IDS)
quarter = st.integers(-8, 8).map(lambda i: i / 4)
metadata_st = cast(
    "st.SearchStrategy[Metadata]",
    st.fixed_dictionaries(
        {}, optional={"g": st.sampled_from(GROUPS), "n": st.integers(0, 3), "t": st.just(["p"])}
    ),
)
sparse_st = st.sampled_from([{1: 1.0}, {2: 0.5, 3: -1.0}]) | st.dictionaries(
    st.integers(0, 6), quarter, max_size=3
)


@dataclass
class Row:
    values: tuple[float, ...] | None
    sparse: dict[int, float] | None
    metadata: Metadata | None


# (filter as Pinecone JSON, the same predicate in Python)
Cond = tuple[dict[str, Any], Callable[[Metadata], bool]]


def _cond(kind: str, arg: Any) -> Cond:
    if kind == "eq":
        return {"g": arg}, lambda m: m.get("g") == arg
    if kind == "gte":
        return {"n": {"$gte": arg}}, lambda m: "n" in m and m["n"] >= arg
    if kind == "in":
        return {"g": {"$in": arg}}, lambda m: m.get("g") in arg
    return {"g": {"$exists": arg}}, lambda m: ("g" in m) == arg


cond_st = st.one_of(
    st.builds(_cond, st.just("eq"), st.sampled_from(GROUPS)),
    st.builds(_cond, st.just("gte"), st.integers(0, 3)),
    st.builds(_cond, st.just("in"), st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2)),
    st.builds(_cond, st.just("exists"), st.booleans()),
)


def to_sparse(d: dict[int, float] | None) -> SparseVector | None:
    if d is None:
        return None
    return SparseVector(
        indices=np.array(list(d), dtype=np.uint32), values=np.array(list(d.values()), np.float32)
    )


class NamespaceMachine(RuleBasedStateMachine):
    METRIC: ClassVar[Metric] = "dotproduct"
    DIM: ClassVar[int | None] = 4
    HYBRID: ClassVar[bool] = False
    # Compaction runs only when the ``compact`` rule says so, keeping runs reproducible.
    OPTIONS: ClassVar[EngineOptions] = EngineOptions(auto_compact=False)

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-model-"))
        self.ns = self._open()
        self.model: dict[str, Row] = {}
        self.last_lsn = 0

    def teardown(self) -> None:
        self.ns.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _open(self) -> Namespace:
        return Namespace.open(
            self.dir / "ns",
            dimension=self.DIM,
            metric=self.METRIC,
            flush_rows=5,
            options=self.OPTIONS,
        )

    def _vector(self, data: st.DataObject) -> tuple[float, ...] | None:
        if self.DIM is None:
            return None
        # A few fixed vectors make exact score ties (broken by id) common.
        fixed = st.sampled_from([(1.0,) * self.DIM, (0.0,) * self.DIM, (-0.5,) * self.DIM])
        drawn = st.lists(quarter, min_size=self.DIM, max_size=self.DIM).map(tuple)
        return data.draw(fixed | drawn)

    def _sparse(self, data: st.DataObject) -> dict[int, float] | None:
        if self.DIM is None:
            return data.draw(sparse_st.filter(bool))
        if not self.HYBRID:
            return None
        return data.draw(st.none() | sparse_st)

    def _lsn(self, lsn: int) -> None:
        assert lsn >= self.last_lsn and lsn == self.ns.lsn
        self.last_lsn = lsn

    # -- writes ---------------------------------------------------------------

    @rule(data=st.data(), ids=st.lists(ids_st, min_size=1, max_size=4))
    def upsert(self, data: st.DataObject, ids: list[str]) -> None:
        batch = []
        for id in ids:
            values, sparse = self._vector(data), self._sparse(data)
            md = data.draw(st.none() | metadata_st)
            batch.append(
                Record(
                    id,
                    None if values is None else np.array(values, np.float32),
                    to_sparse(sparse),
                    md,
                )
            )
            self.model[id] = Row(values, sparse, md or None)
        self._lsn(self.ns.upsert(batch))

    @rule(data=st.data(), id=ids_st, md=st.none() | metadata_st)
    def update(self, data: st.DataObject, id: str, md: Metadata | None) -> None:
        values = self._vector(data) if data.draw(st.booleans()) else None
        sparse = self._sparse(data) if data.draw(st.booleans()) else None
        before = self.ns.lsn
        lsn, found = self.ns.update(
            id,
            values=None if values is None else np.array(values, np.float32),
            sparse=to_sparse(sparse),
            set_metadata=md,
        )
        assert found == (id in self.model)
        if not found:
            assert lsn == before == self.ns.lsn
            return
        row = self.model[id]
        if values is not None:
            row.values = values
        if sparse is not None:
            row.sparse = sparse
        row.metadata = {**(row.metadata or {}), **(md or {})} or None
        self._lsn(lsn)

    @rule(ids=st.lists(ids_st, max_size=3))
    def delete(self, ids: list[str]) -> None:
        for id in ids:
            self.model.pop(id, None)
        self._lsn(self.ns.delete(ids))

    @rule(cond=cond_st)
    def delete_where(self, cond: Cond) -> None:
        filt, pred = cond
        doomed = [id for id, r in self.model.items() if pred(r.metadata or {})]
        lsn, n = self.ns.delete_where(parse_filter(filt))  # type: ignore[arg-type]
        assert n == len(doomed)
        for id in doomed:
            del self.model[id]
        self._lsn(lsn)

    @rule(cond=cond_st, md=metadata_st.filter(bool))
    def update_where(self, cond: Cond, md: Metadata) -> None:
        filt, pred = cond
        hits = [r for r in self.model.values() if pred(r.metadata or {})]
        lsn, n = self.ns.update_where(parse_filter(filt), md)  # type: ignore[arg-type]
        assert n == len(hits)
        for r in hits:
            r.metadata = {**(r.metadata or {}), **md}
        self._lsn(lsn)

    @precondition(lambda self: len(self.model) > 4)
    @rule()
    def delete_all(self) -> None:
        self.model.clear()
        self._lsn(self.ns.delete_all())

    @rule()
    def flush(self) -> None:
        self.ns.flush()

    @rule()
    def compact(self) -> None:
        self.ns.compact()

    @rule()
    def reopen(self) -> None:
        self.ns.close()
        self.ns = self._open()
        assert self.ns.lsn == self.last_lsn

    # -- reads ----------------------------------------------------------------

    def _score(self, row: Row, q: tuple[float, ...] | None, qs: dict[int, float] | None) -> float:
        score = 0.0
        if q is not None:
            assert row.values is not None
            v, w = np.array(row.values, np.float64), np.array(q, np.float64)
            if self.METRIC == "dotproduct":
                score = float(v @ w)
            elif self.METRIC == "euclidean":
                score = float(((v - w) ** 2).sum())
            else:
                denom = np.linalg.norm(v) * np.linalg.norm(w)
                score = float(v @ w / denom) if denom > 0 else 0.0
        if qs:
            score += sum(val * qs.get(i, 0.0) for i, val in (row.sparse or {}).items())
        return score

    @rule(data=st.data(), top_k=st.integers(1, 6), cond=st.none() | cond_st)
    def query(self, data: st.DataObject, top_k: int, cond: Cond | None) -> None:
        q = self._vector(data)
        qs = self._sparse(data)
        sign = -1.0 if self.METRIC != "euclidean" else 1.0
        expected = []
        for id, row in self.model.items():
            if cond is not None and not cond[1](row.metadata or {}):
                continue
            score = self._score(row, q, qs)
            if q is None and score == 0:
                continue  # Pinecone: a sparse-only query drops records scoring 0
            expected.append((sign * score, id))
        expected.sort()
        got = self.ns.query(
            None if q is None else np.array(q, np.float32),
            top_k=top_k,
            filter=None if cond is None else parse_filter(cond[0]),
            sparse=to_sparse(qs),
            include_metadata=True,
        )
        want = expected[:top_k]
        assert len(got) == len(want)
        for m, (key, _) in zip(got, want, strict=True):
            assert math.isclose(m.score, sign * key, abs_tol=TOL)
            assert m.metadata == self.model[m.id].metadata
            true = self._score(self.model[m.id], q, qs)
            assert math.isclose(m.score, true, abs_tol=TOL)
        if self.METRIC != "cosine":
            assert [m.id for m in got] == [id for _, id in want]

    @rule(ids=st.lists(ids_st, max_size=4))
    def fetch(self, ids: list[str]) -> None:
        got = self.ns.fetch(ids)
        assert set(got) == {id for id in ids if id in self.model}
        for id, r in got.items():
            row = self.model[id]
            if row.values is None:
                assert r.values is None
            else:
                assert r.values is not None and r.values.dtype == np.float32
                assert tuple(r.values.tolist()) == row.values
            got_sparse = None
            if r.sparse is not None:
                got_sparse = dict(
                    zip(r.sparse.indices.tolist(), r.sparse.values.tolist(), strict=True)
                )
            assert got_sparse == row.sparse
            assert r.metadata == row.metadata

    @rule(
        prefix=st.sampled_from(["", "a", "b", "ab", "z"]),
        limit=st.integers(1, 4),
        after=st.none() | ids_st,
    )
    def list_ids(self, prefix: str, limit: int, after: str | None) -> None:
        want = sorted(
            i for i in self.model if i.startswith(prefix) and (after is None or i > after)
        )
        assert self.ns.list_ids(prefix=prefix, limit=limit, after=after) == want[:limit]

    @rule(cond=cond_st)
    def count_filtered(self, cond: Cond) -> None:
        want = sum(cond[1](r.metadata or {}) for r in self.model.values())
        assert self.ns.count(parse_filter(cond[0])) == want

    @invariant()
    def count(self) -> None:
        assert self.ns.count() == len(self.model)


SETTINGS = settings(max_examples=100, stateful_step_count=50, deadline=None)


class CosineMachine(NamespaceMachine):
    METRIC = "cosine"


class EuclideanMachine(NamespaceMachine):
    METRIC = "euclidean"


class HybridMachine(NamespaceMachine):
    METRIC = "dotproduct"
    HYBRID = True


class SparseOnlyMachine(NamespaceMachine):
    METRIC = "dotproduct"
    DIM = None


class HnswMachine(NamespaceMachine):
    """Every compacted segment gets an HNSW graph and every dense query searches it (with
    the filter and tombstones as an in-traversal bitmap). With this few rows the graph
    search reaches every allowed row, so results must still equal brute force exactly,
    through builds, graph extensions, persistence and reloads."""

    METRIC = "euclidean"
    OPTIONS = EngineOptions(
        auto_compact=False,
        hnsw_min_rows=1,
        search=SearchTuning(exact_max_rows=0, exact_max_fraction=0.0, rerank_min=32),
    )


TestCosine = SETTINGS(CosineMachine).TestCase
TestEuclidean = SETTINGS(EuclideanMachine).TestCase
TestHybrid = SETTINGS(HybridMachine).TestCase
TestSparseOnly = SETTINGS(SparseOnlyMachine).TestCase
TestHnsw = SETTINGS(HnswMachine).TestCase
