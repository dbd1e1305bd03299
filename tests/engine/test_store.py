"""IndexStore: namespace directories, name encoding, create / list / drop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.store import IndexStore, decode_name, encode_name
from spruce.errors import InvalidArgument, Unavailable

from .helpers import rec, vec

ODD = ["__default__", "", "a/b", "..", ".", "A", "a", "%41", "ns-x", "名前 空間", "😀", "a\x00b"]


def store(root: Path) -> IndexStore:
    return IndexStore(root, dimension=2, metric="cosine", flush_rows=10)


def test_get_without_create_does_not_create(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    assert s.get("x", create=False) is None
    assert s.names() == []
    assert list((tmp_path / "idx").iterdir()) == []


def test_odd_names_round_trip(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    for i, name in enumerate(ODD):
        ns = s.get(name, create=True)
        assert ns is not None
        ns.upsert([rec(f"id{i}", 1, 0)])
    assert s.names() == sorted(ODD)
    dirs = [p.name for p in (tmp_path / "idx").iterdir()]
    assert len(dirs) == len(ODD)  # nothing escaped the root, no two names share a directory
    assert all(d.startswith("ns-") for d in dirs)
    s.close()
    s = store(tmp_path / "idx")
    assert s.names() == sorted(ODD)
    for i, name in enumerate(ODD):
        ns = s.get(name, create=False)
        assert ns is not None and ns.list_ids() == [f"id{i}"]


def test_long_names_are_hashed(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    long_names = ["x" * 500, "é" * 300]
    for name in long_names:
        ns = s.get(name, create=True)
        assert ns is not None
        ns.upsert([rec("a", 1, 0)])
    assert all(len(p.name) < 100 for p in (tmp_path / "idx").iterdir())
    s.close()
    s = store(tmp_path / "idx")
    assert s.names() == sorted(long_names)
    assert s.get("x" * 500, create=False) is not None
    assert s.drop("é" * 300) and s.names() == ["x" * 500]


def test_get_caches_and_drop_closes(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    ns = s.get("a", create=True)
    assert ns is not None and s.get("a", create=False) is ns
    ns.upsert([rec("r", 1, 0)])
    assert s.drop("a") is True
    assert s.drop("a") is False
    with pytest.raises(Unavailable):
        ns.count()
    assert s.names() == [] and s.get("a", create=False) is None
    fresh = s.get("a", create=True)
    assert fresh is not None and fresh.count() == 0


def test_failed_namespace_is_reopened(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    ns = s.get("a", create=True)
    assert ns is not None
    ns.upsert([rec("r", 1, 0)])
    ns._fail(OSError("simulated"))  # what a failed manifest publish does
    again = s.get("a", create=False)
    assert again is not None and again is not ns and again.list_ids() == ["r"]


def test_interrupted_create_and_drop_leave_nothing(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    s = store(root)
    ns = s.get("keep", create=True)
    assert ns is not None
    ns.upsert([rec("r", 1, 0)])
    (root / ".tmp-abc").mkdir()
    (root / ".trash-def").mkdir()
    (root / ".trash-def" / "file").write_bytes(b"x")
    s.close()
    s = store(root)
    assert sorted(os.listdir(root)) == [encode_name("keep")]
    assert s.names() == ["keep"]


def test_namespaces_are_independent(tmp_path: Path) -> None:
    s = store(tmp_path / "idx")
    a, b = s.get("a", create=True), s.get("b", create=True)
    assert a is not None and b is not None
    a.upsert([rec("x", 1, 0)])
    b.upsert([rec("y", 0, 1)])
    assert a.lsn == 1 and b.lsn == 1
    assert [m.id for m in a.query(vec(0, 1), top_k=5)] == ["x"]


def test_encoding_rules() -> None:
    assert encode_name("__default__") == "ns-__default__"
    assert encode_name("") == "ns-"
    assert encode_name("a/b") == "ns-a%2Fb"
    assert encode_name("..") == "ns-%2E%2E"
    assert encode_name("A") == "ns-%41"
    assert encode_name("é") == "ns-%C3%A9"
    assert decode_name("ns-%41") == "A"
    for bad in ["ns-%4", "ns-%zz", "ns-%c3%a9", "ns-A", "ns-%FF", "other", ".tmp-1"]:
        assert decode_name(bad) is None
    with pytest.raises(InvalidArgument):
        encode_name("\ud800")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_encoding_round_trips(name: str) -> None:
    encoded = encode_name(name)
    assert "/" not in encoded and encoded not in (".", "..") and len(encoded.encode()) < 255
    if encoded.startswith("ns-"):
        assert decode_name(encoded) == name
