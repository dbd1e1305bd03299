"""IndexStore: namespace directories, name encoding, create / list / drop."""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.engine.write.store import IndexStore, decode_name, encode_name
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


# -- record counts without opening namespaces (engine/disk/countfile.py) -------------------


def _spy_opens(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every ``Namespace.open`` from here on, by path."""
    opened: list[Path] = []
    original = Namespace.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type[Namespace], path: Path, **kwargs: Any) -> Namespace:
        opened.append(path)
        return original(cls, path, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Namespace, "open", classmethod(spy))
    return opened


def _fill(s: IndexStore, n: int) -> dict[str, int]:
    """``n`` small namespaces in varied states; returns the expected counts."""
    expected: dict[str, int] = {}
    for i in range(n):
        name = f"tenant-{i:05d}"
        ns = s.get(name, create=True)
        assert ns is not None
        rows = i % 4 if i % 500 else 25  # a few pass flush_rows (background flush)
        if rows:
            ns.upsert([rec(f"r{j}", 1, j) for j in range(rows)])
        if i % 7 == 0 and rows:
            ns.delete(["r0"])  # a tombstone in the WAL
            rows -= 1
        if i % 11 == 0:
            ns.flush()  # some with their records in segments, the WAL rotated
        if i % 13 == 0 and rows:
            ns.upsert([rec("r0", 0, 1)])  # overwrite or re-add after the flush
            rows = max(rows, 1) if i % 7 else rows + 1
        expected[name] = rows
    return expected


def test_many_namespaces_are_counted_without_opening(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Durability is not under test here; 2,000 namespaces with fsync take a minute.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    root = tmp_path / "idx"
    s = store(root)
    expected = _fill(s, 2_000)
    assert {n: s.count(n) for n in s.names()} == expected  # open namespaces count live
    s.close()

    s = store(root)
    opened = _spy_opens(monkeypatch)
    assert {n: s.count(n) for n in s.names()} == expected
    assert s.count("no-such-namespace") is None
    assert opened == []

    # A write is seen by the next count; the namespace is open now and counts itself.
    ns = s.get("tenant-00001", create=False)
    assert ns is not None
    ns.upsert([rec("extra", 1, 1)])
    expected["tenant-00001"] += 1
    assert s.count("tenant-00001") == expected["tenant-00001"]
    assert s.drop("tenant-00002") and s.count("tenant-00002") is None
    del expected["tenant-00002"]
    fresh = s.get("brand-new", create=True)  # created (and opened) after the listing
    assert fresh is not None and s.count("brand-new") == 0
    expected["brand-new"] = 0
    s.close()

    s = store(root)
    opened.clear()
    assert {n: s.count(n) for n in s.names()} == expected
    assert opened == []
    s.close()


def test_counts_stay_exact_after_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "idx"
    # No background flush or compaction, so copying the tree is a consistent crash image.
    quiet = EngineOptions(auto_compact=False)
    s = IndexStore(root, dimension=2, metric="cosine", flush_rows=1_000, options=quiet)
    for name in ["clean", "grown", "flushed", "torn", "emptied", "old"]:
        ns = s.get(name, create=True)
        assert ns is not None
        ns.upsert([rec("a", 1, 0), rec("b", 0, 1)])
    s.close()  # every namespace leaves its COUNT

    s = IndexStore(root, dimension=2, metric="cosine", flush_rows=1_000, options=quiet)
    grown, flushed, emptied = (s.get(n, create=False) for n in ["grown", "flushed", "emptied"])
    assert grown is not None and flushed is not None and emptied is not None
    grown.upsert([rec("c", 1, 1)])  # unflushed: only in the WAL
    flushed.upsert([rec("c", 1, 1)])
    flushed.flush()  # the WAL rotated
    flushed.delete(["a"])
    emptied.delete(["a", "b"])
    assert s.get("clean", create=False) is not None  # opened for reading only
    crashed = tmp_path / "crashed"
    shutil.copytree(root, crashed)  # the disk as kill -9 would leave it: no close
    s.close()

    torn_wal = max((crashed / encode_name("torn") / "wal").glob("*.wal"))
    with open(torn_wal, "ab") as f:
        f.write(b"\x07\x00\x00\x00partial")  # an append cut short, never acknowledged
    (crashed / encode_name("old") / "COUNT").unlink()  # data from before COUNT files
    expected = {"clean": 2, "grown": 3, "flushed": 2, "torn": 2, "emptied": 0, "old": 2}

    opened = _spy_opens(monkeypatch)
    s = store(crashed)
    assert {n: s.count(n) for n in s.names()} == expected
    assert sorted(p.name for p in opened) == sorted(
        encode_name(n) for n in ["grown", "flushed", "torn", "emptied", "old"]
    )
    assert s._open == {}  # counted and closed again, not kept open
    opened.clear()
    assert {n: s.count(n) for n in s.names()} == expected  # the COUNTs were rewritten
    assert opened == []
    live = {n: s.get(n, create=False) for n in s.names()}
    assert {n: len(ns.list_ids()) for n, ns in live.items() if ns is not None} == expected
    s.close()


def test_a_damaged_count_file_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "idx"
    s = store(root)
    ns = s.get("a", create=True)
    assert ns is not None
    ns.upsert([rec("x", 1, 0), rec("y", 0, 1)])
    s.close()
    count_file = root / encode_name("a") / "COUNT"
    # The layout of docs/FORMAT.md section 8.
    [wal] = (root / encode_name("a") / "wal").glob("*.wal")
    magic, version, lsn, count, wal_first, wal_bytes, crc = struct.unpack(
        "<8sIQQQQI", count_file.read_bytes()
    )
    assert (magic, version, lsn, count) == (b"SPRCCNT\x00", 1, 1, 2)
    assert (wal_first, wal_bytes) == (int(wal.stem), wal.stat().st_size)
    assert crc == zlib.crc32(count_file.read_bytes()[:44])
    data = bytearray(count_file.read_bytes())
    data[20] ^= 0xFF  # the count itself: the CRC no longer matches
    count_file.write_bytes(bytes(data))
    s = store(root)
    assert s.count("a") == 2
    count_file.write_bytes(b"")
    assert s.count("a") == 2
    s.close()


def test_least_recently_used_namespaces_are_closed_beyond_max_open(tmp_path: Path) -> None:
    s = IndexStore(tmp_path / "idx", dimension=2, metric="cosine", max_open=3, evict_idle_s=0)
    handed: dict[str, Namespace] = {}
    for i in range(6):
        ns = s.get(f"t{i}", create=True)
        assert ns is not None
        ns.upsert([rec(f"r{i}", 1.0, float(i), metadata={"i": i})])
        handed[f"t{i}"] = ns
    assert s.open_count == 3
    # The three oldest were closed (leaving their counts); the newest stay open.
    for i in range(3):
        with pytest.raises(Unavailable):
            handed[f"t{i}"].fetch([f"r{i}"])
    assert handed["t5"].fetch(["r5"])["r5"].metadata == {"i": 5}
    assert s.count("t0") == 1 and s.open_count == 3  # from COUNT: not reopened
    # An evicted namespace reopens with its data on the next get.
    again = s.get("t0", create=False)
    assert again is not None and again.fetch(["r0"])["r0"].metadata == {"i": 0}
    assert s.open_count == 3
    s.close()


def test_recently_used_namespaces_are_not_closed(tmp_path: Path) -> None:
    s = IndexStore(tmp_path / "idx", dimension=2, metric="cosine", max_open=2, evict_idle_s=600)
    opened = [s.get(f"t{i}", create=True) for i in range(4)]
    # Over the cap, but every namespace was handed out just now: all stay usable.
    assert s.open_count == 4
    for i, ns in enumerate(opened):
        assert ns is not None
        ns.upsert([rec(f"r{i}", 1.0, 0.0)])
    assert sorted(s.names()) == ["t0", "t1", "t2", "t3"]
    s.close()
