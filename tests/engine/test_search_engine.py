"""HNSW segments, metadata-index filters, compaction and concurrent reads.

Recall thresholds are checked against brute force on clustered data; timings are never
asserted here (bench/ measures them).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.options import EngineOptions, SearchTuning
from spruce.engine.read.ann import ANN_FILE, HnswParams
from spruce.engine.read.filters import evaluate, parse_filter
from spruce.engine.read.metaindex import MetaIndex
from spruce.engine.write.namespace import Namespace
from spruce.errors import Corruption
from spruce.types import Record

# -- metadata index == row-by-row evaluation ----------------------------------

values_st = st.one_of(
    st.sampled_from(["a", "b", "c", ""]),
    st.integers(-3, 3),
    st.sampled_from([0.5, 1.0, -2.0, 2**60, 2**53 + 1]),
    st.booleans(),
    st.lists(st.sampled_from(["a", "b", "x"]), max_size=3),
)
metadata_st = st.none() | st.dictionaries(st.sampled_from(["k", "m", "n"]), values_st, max_size=3)
scalar_st = st.one_of(
    st.sampled_from(["a", "b", "x"]), st.integers(-3, 3), st.sampled_from([1.0, 0.5]), st.booleans()
)
number_st = st.one_of(st.integers(-4, 4), st.sampled_from([0.5, -1.5, 2**53 + 1]))
field_st = st.sampled_from(["k", "m", "n", "missing"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    ops = st.one_of(
        st.builds(lambda v: {"$eq": v}, scalar_st),
        st.builds(lambda v: {"$ne": v}, scalar_st),
        st.builds(lambda v: {"$gt": v}, number_st),
        st.builds(lambda v: {"$gte": v}, number_st),
        st.builds(lambda v: {"$lt": v}, number_st),
        st.builds(lambda v: {"$lte": v}, number_st),
        st.builds(lambda v: {"$in": v}, st.lists(scalar_st, min_size=1, max_size=3)),
        st.builds(lambda v: {"$nin": v}, st.lists(scalar_st, min_size=1, max_size=3)),
        st.builds(lambda v: {"$exists": v}, st.booleans()),
    )
    return st.builds(lambda f, op: {f: op}, field_st, ops)


filter_st = st.recursive(
    _leaf(),
    lambda inner: st.builds(
        lambda op, xs: {op: xs},
        st.sampled_from(["$and", "$or"]),
        st.lists(inner, min_size=1, max_size=3),
    ),
    max_leaves=6,
)


@settings(max_examples=400, deadline=None)
@given(rows=st.lists(metadata_st, max_size=25), raw=filter_st)
def test_metaindex_matches_row_by_row_evaluation(rows: list[Any], raw: dict[str, Any]) -> None:
    f = parse_filter(raw)
    assert f is not None
    want = evaluate(f, rows)
    got = MetaIndex.build(rows).mask(f)
    if got is None:  # keys the index cannot answer exactly (huge ints): the caller scans
        return
    assert got.tolist() == want.tolist()


@settings(max_examples=150, deadline=None)
@given(a=st.lists(metadata_st, max_size=12), b=st.lists(metadata_st, max_size=12), raw=filter_st)
def test_merged_metaindex_equals_rebuilt(a: list[Any], b: list[Any], raw: dict[str, Any]) -> None:
    f = parse_filter(raw)
    assert f is not None
    keep_a = np.arange(len(a)) % 2 == 0  # drop every other row of a, as compaction would
    remap_a = np.full(len(a), -1, dtype=np.int64)
    remap_a[keep_a] = np.arange(int(keep_a.sum()))
    remap_b = np.arange(len(b), dtype=np.int64) + int(keep_a.sum())
    merged = MetaIndex.merge(
        int(keep_a.sum()) + len(b), [(MetaIndex.build(a), remap_a), (MetaIndex.build(b), remap_b)]
    )
    rows = [r for r, k in zip(a, keep_a, strict=True) if k] + b
    expected = evaluate(f, rows).tolist()
    for index in (merged, MetaIndex.build(rows)):
        mask = index.mask(f)  # None: a key not exactly indexable (the merge may keep that)
        assert mask is None or mask.tolist() == expected


# -- HNSW segments ------------------------------------------------------------


def clustered(n: int, d: int = 32, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((64, d)).astype(np.float32)
    x = centres[rng.integers(0, 64, n)] + 0.3 * rng.standard_normal((n, d)).astype(np.float32)
    return x.astype(np.float32)


OPTIONS = EngineOptions(
    auto_compact=False,
    hnsw_min_rows=1000,
    hnsw=HnswParams(m=16, ef_construction=64),
    # Tight clusters are hard for HNSW: raw faiss needs efSearch ~256 for 0.95 here too.
    search=SearchTuning(ef_search=256, exact_max_rows=200, exact_max_fraction=0.0),
)


def load(path: Path, x: np.ndarray[Any, Any], options: EngineOptions, metric: str) -> Namespace:
    ns = Namespace.open(path, dimension=x.shape[1], metric=metric, flush_rows=1000, options=options)  # type: ignore[arg-type]
    for lo in range(0, len(x), 500):
        ns.upsert(
            [
                Record(f"r{i}", x[i], None, {"b": int(i % 100), "odd": bool(i % 2)})
                for i in range(lo, min(lo + 500, len(x)))
            ]
        )
    return ns


def brute(
    x: np.ndarray[Any, Any], q: np.ndarray[Any, Any], allowed: np.ndarray[Any, Any], metric: str
) -> list[str]:
    rows = np.flatnonzero(allowed)
    if metric == "euclidean":
        keys = ((x[rows] - q) ** 2).sum(1)
    elif metric == "cosine":
        keys = -(x[rows] @ q) / (np.linalg.norm(x[rows], axis=1) * np.linalg.norm(q))
    else:
        keys = -(x[rows] @ q)
    return [f"r{rows[i]}" for i in np.argsort(keys, kind="stable")[:10]]


def recall_at_10(
    ns: Namespace,
    x: np.ndarray[Any, Any],
    queries: np.ndarray[Any, Any],
    raw: dict[str, Any] | None,
    allowed: np.ndarray[Any, Any],
    metric: str,
) -> float:
    f = parse_filter(raw)
    hits = 0
    for q in queries:
        got = {m.id for m in ns.query(q, top_k=10, filter=f)}
        hits += len(got & set(brute(x, q, allowed, metric)))
    return hits / (10 * len(queries))


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_hnsw_segment_recall_at_every_selectivity(tmp_path: Path, metric: str) -> None:
    x = clustered(6000)
    queries = clustered(40, seed=1)
    if metric == "dotproduct":
        # HNSW over raw inner products needs unit-ish vectors (as embeddings are); a
        # graph over widely varying norms needs a much larger efSearch (docs/FORMAT.md).
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    ns = load(tmp_path / "ns", x, OPTIONS, metric)
    ns.compact()
    [segment] = ns._view.segments
    assert segment.ann is not None and segment.size == 6000
    b = np.arange(6000) % 100
    cases = [
        (None, np.ones(6000, bool)),  # HNSW, no bitmap
        ({"b": {"$lt": 50}}, b < 50),  # HNSW with a 50% bitmap
        ({"b": {"$lt": 10}}, b < 10),  # HNSW with a 10% bitmap, efSearch widened
        ({"b": {"$in": [3]}}, b == 3),  # 60 rows: exact scan of the allowed rows
        ({"odd": True, "b": {"$gte": 98}}, (b >= 98) & (np.arange(6000) % 2 == 1)),
    ]
    for raw, allowed in cases:
        assert recall_at_10(ns, x, queries, raw, allowed, metric) >= 0.95, raw
    ns.close()


def test_hnsw_index_persists_and_corruption_is_detected(tmp_path: Path) -> None:
    x = clustered(3000)
    ns = load(tmp_path / "ns", x, OPTIONS, "cosine")
    ns.compact()
    ns.delete([f"r{i}" for i in range(0, 3000, 3)])  # tombstones inside the graph
    before = [[m.id for m in ns.query(q, top_k=10)] for q in x[:20]]
    assert all(int(i[1:]) % 3 for ids in before for i in ids)
    ns.close()
    ns = Namespace.open(
        tmp_path / "ns", dimension=32, metric="cosine", flush_rows=1000, options=OPTIONS
    )
    [segment] = ns._view.segments
    assert segment.ann is not None  # loaded from hnsw.idx, not rebuilt
    assert [[m.id for m in ns.query(q, top_k=10)] for q in x[:20]] == before
    ns.close()
    [directory] = (tmp_path / "ns" / "segments").iterdir()
    data = bytearray((directory / ANN_FILE).read_bytes())
    assert data[:8] == b"SPRCHNSW"
    data[-1] ^= 0xFF
    (directory / ANN_FILE).write_bytes(bytes(data))
    with pytest.raises(Corruption):
        Namespace.open(
            tmp_path / "ns", dimension=32, metric="cosine", flush_rows=1000, options=OPTIONS
        )


@pytest.mark.parametrize("storage", ["fp16", "sq8"])
def test_quantized_storage_reranks_exactly(tmp_path: Path, storage: str) -> None:
    x = clustered(4000)
    queries = clustered(30, seed=2)
    options = EngineOptions(
        auto_compact=False,
        hnsw_min_rows=1000,
        hnsw=HnswParams(storage=storage),
        search=SearchTuning(ef_search=256, exact_max_rows=0, exact_max_fraction=0.0),
    )
    ns = load(tmp_path / "ns", x, options, "dotproduct")
    ns.compact()
    assert recall_at_10(ns, x, queries, None, np.ones(4000, bool), "dotproduct") >= 0.95
    q = queries[0]
    for m in ns.query(q, top_k=5):  # scores are exact float32 dot products, not quantised
        assert m.score == pytest.approx(float(x[int(m.id[1:])] @ q), rel=1e-5)
    ns.close()


def test_compaction_merges_drops_tombstones_and_extends_graphs(tmp_path: Path) -> None:
    x = clustered(4000)
    ns = load(tmp_path / "ns", x[:2500], OPTIONS, "euclidean")
    ns.compact()
    [first] = ns._view.segments
    assert first.ann is not None and first.size == 2500
    ns.delete([f"r{i}" for i in range(100)])
    for lo in range(2500, 4000, 500):
        ns.upsert([Record(f"r{i}", x[i], None, {"b": i % 100}) for i in range(lo, lo + 500)])
    ns.compact()  # extends the 2,500-row graph with 1,500 rows; deleted rows stay dead
    [merged] = ns._view.segments
    assert merged.ann is not None and merged.size == 4000 and merged.live_count == 3900
    assert ns.count() == 3900 and ns.fetch(["r5"]) == {} and "r3999" in ns.fetch(["r3999"])
    assert sorted(p.name for p in (tmp_path / "ns" / "segments").iterdir()) == [merged.name]
    want = brute(x, x[3000], np.arange(4000) >= 100, "euclidean")
    assert [m.id for m in ns.query(x[3000], top_k=10)][:3] == want[:3]
    ns.close()
    ns = Namespace.open(
        tmp_path / "ns", dimension=32, metric="euclidean", flush_rows=1000, options=OPTIONS
    )
    assert ns.count() == 3900 and ns.list_ids(limit=3) == ["r100", "r1000", "r1001"]
    ns.close()


def test_reads_run_during_writes_flushes_and_background_compaction(tmp_path: Path) -> None:
    """Each batch overwrites the same 100 ids, tagged with the batch number: a reader that
    saw half an operation would see two tags, and one that saw a flush or a compaction
    swap half done would count other than 100 rows."""
    options = EngineOptions(hnsw_min_rows=300, small_merge_count=3, idle_compact_s=0)
    ns = Namespace.open(
        tmp_path / "ns", dimension=8, metric="dotproduct", flush_rows=250, options=options
    )
    rng = np.random.default_rng(3)

    def batch(k: int) -> list[Record]:
        vectors = rng.standard_normal((100, 8)).astype(np.float32)
        return [Record(f"id{i}", vectors[i], None, {"batch": k}) for i in range(100)]

    ns.upsert(batch(0))
    stop = threading.Event()
    errors: list[str] = []

    def reader() -> None:
        q = np.ones(8, dtype=np.float32)
        while not stop.is_set():
            n = ns.count()
            hits = ns.query(q, top_k=1000, include_metadata=True)
            tags = {m.metadata["batch"] for m in hits if m.metadata}
            if n != 100 or len(hits) != 100 or len(tags) != 1:
                errors.append(f"count {n}, hits {len(hits)}, batches {tags}")

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for k in range(1, 40):
        ns.upsert(batch(k))
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    ns.compact()
    assert ns.count() == 100 and len(ns._view.segments) <= 1
    assert {
        m.metadata["batch"]
        for m in ns.query(np.ones(8, np.float32), top_k=100, include_metadata=True)
        if m.metadata
    } == {39}
    ns.close()
