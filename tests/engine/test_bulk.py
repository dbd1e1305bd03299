"""Bulk-built namespaces (engine/write/bulk.py) and publishing them with IndexStore.adopt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spruce.engine.write.bulk import NamespaceBuilder
from spruce.engine.write.namespace import Namespace
from spruce.engine.write.store import IndexStore, encode_name
from spruce.errors import InvalidArgument
from tests.engine.helpers import rec, sp, vec


def _build(path: Path, ids: list[str], *, segment_rows: int = 3, dimension: int = 2) -> int:
    builder = NamespaceBuilder(
        path, dimension=dimension, metric="cosine", segment_rows=segment_rows
    )
    vectors = np.array([[i + 1.0, 1.0] for i in range(len(ids))], dtype=np.float32)
    metadata = [None if i % 2 else f'{{"n": {i}}}' for i in range(len(ids))]
    for start in range(0, len(ids), 2):  # batches of 2 rows, segments of 3
        end = start + 2
        builder.add(ids[start:end], vectors[start:end], None, metadata[start:end])
    return builder.finish()


def test_built_namespace_opens_with_every_record(tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(7)]
    assert _build(tmp_path / "ns", ids) == 7
    ns = Namespace.open(tmp_path / "ns", dimension=2, metric="cosine")
    try:
        assert ns.count() == 7
        assert ns.lsn == 2  # batches of 2 make segments of 4 and 3 rows, one LSN each
        got = ns.fetch(["r0", "r1", "r6"])
        assert got["r0"].metadata == {"n": 0}
        assert got["r1"].metadata is None
        assert np.array_equal(got["r6"].values, vec(7.0, 1.0))
        assert ns.list_ids(limit=10) == sorted(ids)
        # Later writes continue after the imported segments and survive a reopen.
        ns.upsert([rec("r0", 0.0, 5.0), rec("new", 1.0, 0.0)])
        ns.delete(["r3"])
        assert ns.lsn == 4
    finally:
        ns.close()
    again = Namespace.open(tmp_path / "ns", dimension=2, metric="cosine")
    try:
        assert again.count() == 7
        assert np.array_equal(again.fetch(["r0"])["r0"].values, vec(0.0, 5.0))
        assert "r3" not in again.fetch(["r3"])
    finally:
        again.close()


def test_builder_checks_shapes_and_abort_removes(tmp_path: Path) -> None:
    builder = NamespaceBuilder(tmp_path / "ns", dimension=2, metric="dotproduct")
    with pytest.raises(InvalidArgument):
        builder.add(["a"], np.zeros((1, 3), dtype=np.float32), None, [None])
    with pytest.raises(InvalidArgument):
        builder.add(["a", "b"], np.zeros((2, 2), dtype=np.float32), None, [None])
    builder.add(["a"], np.ones((1, 2), dtype=np.float32), [sp({4: 2.0})], [None])
    builder.abort()
    assert not (tmp_path / "ns").exists()


def test_sparse_only_namespace(tmp_path: Path) -> None:
    builder = NamespaceBuilder(tmp_path / "ns", dimension=None, metric="dotproduct")
    builder.add(["a", "b"], None, [sp({1: 1.0}), sp({2: 3.0})], [None, '{"k": "v"}'])
    assert builder.finish() == 2
    ns = Namespace.open(tmp_path / "ns", dimension=None, metric="dotproduct")
    try:
        hits = ns.query(None, top_k=5, sparse=sp({2: 1.0}), include_metadata=True)
        assert [(m.id, m.score, m.metadata) for m in hits] == [("b", 3.0, {"k": "v"})]
    finally:
        ns.close()


def _store(root: Path) -> IndexStore:
    return IndexStore(root, dimension=2, metric="cosine", flush_rows=10)


def test_adopt_publishes_all_or_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path / "index")
    staged = tmp_path / "staged"
    staged.mkdir()
    long_name = "x" * 300  # stored under a hashed directory name
    _build(staged / "1", ["a", "b"])
    _build(staged / "2", ["c"])
    _build(staged / "3", ["d"])
    store.get("taken", create=True)
    conflict = store.adopt({"new": staged / "1", "taken": staged / "2"})
    assert conflict == "taken"
    assert (staged / "1").is_dir() and store.names() == ["taken"]  # nothing moved
    assert store.adopt({"new": staged / "1", long_name: staged / "3"}) is None
    assert store.names() == sorted(["new", "taken", long_name])
    assert not (staged / "1").exists()
    assert (tmp_path / "index" / encode_name(long_name) / "NAME").read_text() == long_name
    new = store.get("new", create=False)
    assert new is not None and new.count() == 2
    hashed = store.get(long_name, create=False)
    assert hashed is not None and hashed.count() == 1
    store.close()


def test_adopt_replaces_an_empty_namespace_only(tmp_path: Path) -> None:
    store = _store(tmp_path / "index")
    staged = tmp_path / "staged"
    staged.mkdir()
    _build(staged / "1", ["a", "b"])
    default = store.get("__default__", create=True)
    assert default is not None
    default.upsert([rec("old", 1.0, 0.0)])
    assert store.adopt({"__default__": staged / "1"}, replace_if_empty=["__default__"]) == (
        "__default__"
    )
    default.delete(["old"])
    assert store.adopt({"__default__": staged / "1"}, replace_if_empty=["__default__"]) is None
    replaced = store.get("__default__", create=False)
    assert replaced is not None and replaced is not default
    assert sorted(replaced.fetch(["a", "b", "old"])) == ["a", "b"]
    assert [p.name for p in (tmp_path / "index").iterdir() if p.name.startswith(".")] == []
    store.close()
