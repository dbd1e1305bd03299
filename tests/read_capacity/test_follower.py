"""The read-only follower against the writer it follows, operation by operation.

A Hypothesis state machine drives a ``Namespace`` (writes, flushes, compactions) and,
after every step, checks that a ``Follower`` of the same directory, caught up to the
writer's LSN, answers every read exactly as the writer does, and that the shards of a
2-way partition are disjoint and together give the same answers. Values are multiples
of 1/4, so dot products are exact and orders (ties broken by id) must match exactly.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from spruce.engine.options import EngineOptions
from spruce.engine.read.filters import parse_filter
from spruce.engine.read.follower import Follower
from spruce.engine.read.partition import Partition, shard_of
from spruce.engine.write.namespace import Namespace
from spruce.types import Record, SparseVector

IDS = [f"id{i}" for i in range(12)] + ["é", "a/b"]
quarter = st.integers(-8, 8).map(lambda i: i / 4)
vec_st = st.tuples(quarter, quarter, quarter)
meta_st = st.fixed_dictionaries(
    {}, optional={"g": st.sampled_from(["x", "y"]), "n": st.integers(0, 3)}
)
sparse_st = st.none() | st.dictionaries(st.integers(0, 5), quarter, min_size=1, max_size=3)


def _sparse(d: dict[int, float] | None) -> SparseVector | None:
    if not d:
        return None
    keys = sorted(d)
    return SparseVector(
        np.array(keys, dtype=np.uint32), np.array([d[k] for k in keys], dtype=np.float32)
    )


def _matches(ms: list[Any]) -> list[tuple[str, float, Any]]:
    return [(m.id, round(m.score, 5), m.metadata) for m in ms]


def _records(rs: dict[str, Record]) -> dict[str, tuple[Any, ...]]:
    return {
        k: (
            None if r.values is None else r.values.tolist(),
            None if r.sparse is None else (r.sparse.indices.tolist(), r.sparse.values.tolist()),
            r.metadata,
        )
        for k, r in rs.items()
    }


class FollowerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="follower-"))
        # Small flushes and eager merges so segments, bitmaps and WAL rotation all happen.
        opts = EngineOptions(auto_compact=False, small_merge_count=2)
        self.ns = Namespace.open(
            self.dir / "ns", dimension=3, metric="dotproduct", flush_rows=4, options=opts
        )
        self.follower = Follower(self.dir / "ns", dimension=3, metric="dotproduct")

    def teardown(self) -> None:
        self.ns.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(
        batch=st.lists(
            st.tuples(st.sampled_from(IDS), vec_st, sparse_st, meta_st), min_size=1, max_size=5
        )
    )
    def upsert(self, batch: list[Any]) -> None:
        self.ns.upsert(
            [
                Record(i, np.array(v, dtype=np.float32), _sparse(s), m or None)
                for i, v, s, m in batch
            ]
        )

    @rule(id=st.sampled_from(IDS), v=st.none() | vec_st, md=meta_st)
    def update(self, id: str, v: Any, md: dict[str, Any]) -> None:
        values = None if v is None else np.array(v, dtype=np.float32)
        self.ns.update(id, values=values, set_metadata=md or None)

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4))
    def delete(self, ids: list[str]) -> None:
        self.ns.delete(ids)

    @rule(g=st.sampled_from(["x", "y"]))
    def by_filter(self, g: str) -> None:
        f = parse_filter({"g": g})
        assert f is not None
        if g == "x":
            self.ns.update_where(f, {"n": 9})
        else:
            self.ns.delete_where(f)

    @rule()
    def delete_all(self) -> None:
        self.ns.delete_all()

    @rule()
    def flush(self) -> None:
        self.ns.flush()

    @rule()
    def compact(self) -> None:
        self.ns.compact()

    @invariant()
    def same_answers(self) -> None:
        f = self.follower
        assert f.catch_up(self.ns.lsn) == self.ns.lsn
        assert f.count() == self.ns.count()
        assert f.list_ids(limit=100) == self.ns.list_ids(limit=100)
        assert f.list_ids(prefix="id1", limit=2, after="id1") == self.ns.list_ids(
            prefix="id1", limit=2, after="id1"
        )
        assert _records(f.fetch(IDS)) == _records(self.ns.fetch(IDS))
        q = np.array([1.0, -0.5, 0.25], dtype=np.float32)
        sq = _sparse({1: 1.0, 3: 0.5})
        filt = parse_filter({"n": {"$gte": 1}})
        for kwargs in ({}, {"filter": filt}, {"sparse": sq}):
            args: dict[str, Any] = {"top_k": 5, "include_metadata": True, **kwargs}
            assert _matches(f.query(q, **args)) == _matches(self.ns.query(q, **args))
        # Two shards: disjoint, complete, and a merge of their top-k is the global top-k.
        parts = [Partition(s, 2) for s in range(2)]
        listed = [f.list_ids(limit=100, partition=p) for p in parts]
        assert sorted(listed[0] + listed[1]) == self.ns.list_ids(limit=100)
        assert all(shard_of(i, 2) == s for s, ids in enumerate(listed) for i in ids)
        assert sum(f.count(partition=p) for p in parts) == self.ns.count()
        merged = sorted(
            (m for p in parts for m in f.query(q, top_k=5, partition=p)),
            key=lambda m: (-m.score, m.id),
        )[:5]
        assert [m.id for m in merged] == [m.id for m in self.ns.query(q, top_k=5)]
        usage = f.usage(2)
        assert sum(u.records for u in usage) == self.ns.count()


TestFollower = FollowerMachine.TestCase
TestFollower.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)


def test_follower_sees_a_recreated_namespace(tmp_path: Path) -> None:
    """Dropped and created again, the directory starts at LSN 0: no stale rows survive."""
    path = tmp_path / "ns"
    ns = Namespace.open(path, dimension=2, metric="cosine", flush_rows=2)
    ns.upsert([Record(f"r{i}", np.array([1, i], dtype=np.float32)) for i in range(5)])
    follower = Follower(path, dimension=2, metric="cosine")
    assert follower.count() == 5
    ns.close()
    shutil.rmtree(path)
    ns = Namespace.open(path, dimension=2, metric="cosine", flush_rows=2)
    ns.upsert([Record("new", np.array([1, 0], dtype=np.float32))])
    follower.catch_up(ns.lsn)
    assert follower.list_ids() == ["new"]
    ns.close()


def test_usage_counts_pinecone_sizes(tmp_path: Path) -> None:
    """id bytes + 4 per dimension + 9 per sparse value + metadata JSON bytes."""
    ns = Namespace.open(tmp_path / "ns", dimension=4, metric="dotproduct", flush_rows=2)
    sparse = SparseVector(np.array([1, 2], dtype=np.uint32), np.array([1, 1], dtype=np.float32))
    ns.upsert(
        [
            Record("abc", np.ones(4, dtype=np.float32), sparse, {"k": "v"}),
            Record("de", np.ones(4, dtype=np.float32)),
            Record("f", np.ones(4, dtype=np.float32)),
        ]
    )
    follower = Follower(tmp_path / "ns", dimension=4, metric="dotproduct")
    (whole,) = follower.usage(1)
    # abc: 3 + 16 + 18 + len('{"k":"v"}') = 46; de: 2 + 16; f: 1 + 16
    assert (whole.records, whole.storage_bytes) == (3, 46 + 18 + 17)
    assert whole.memory_bytes == 3 * 16 + 2 * 8
    by_shard = follower.usage(3)
    assert sum(u.storage_bytes for u in by_shard) == whole.storage_bytes
    ns.close()
