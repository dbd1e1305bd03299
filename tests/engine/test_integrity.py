"""Every byte read from disk is verified, and recovery never deletes what may be data.

A damaged byte in any file a namespace reads is ``Corruption``, never a wrong answer;
a segment the manifest does not name is removed only when it is provably a leftover of
an interrupted flush or compaction, and otherwise moved to ``quarantine/``.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from spruce.engine.background import upkeep as upkeep_module
from spruce.engine.disk.manifest import Manifest, decode_manifest, encode_manifest
from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.engine.write.store import IndexStore
from spruce.errors import Corruption

from .helpers import rec, sp

DIM = 4


def open_ns(path: Path, **options: object) -> Namespace:
    opts = EngineOptions(auto_compact=False, **options)  # type: ignore[arg-type]
    return Namespace.open(path, dimension=DIM, metric="cosine", flush_rows=1_000_000, options=opts)


def flushed(path: Path, n: int = 10) -> None:
    """A closed namespace holding ``rows(0, n)`` in one segment."""
    ns = open_ns(path)
    ns.upsert(rows(0, n))
    ns.flush()
    ns.close()


def rows(start: int, n: int, sparse: bool = False) -> list:  # type: ignore[type-arg]
    return [
        rec(
            f"r{i}",
            *[float(i % 7 + 1), 1.0, float(i % 3), 2.0],
            metadata={"i": i},
            sparse={i % 50: 1.0} if sparse else None,
        )
        for i in range(start, start + n)
    ]


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def one_segment(path: Path) -> Path:
    [segment] = (path / "segments").iterdir()
    return segment


def read_manifest_file(path: Path) -> Manifest:
    file = path / "manifest" / "MANIFEST"
    return decode_manifest(file.read_bytes(), str(file))


def write_manifest_file(path: Path, manifest: Manifest) -> None:
    (path / "manifest" / "MANIFEST").write_bytes(encode_manifest(manifest))


# -- verified reads ---------------------------------------------------------------


def test_flipped_byte_in_vectors_is_corruption_not_a_wrong_answer(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    flushed(path, 100)
    vectors = one_segment(path) / "vectors.npy"
    flip(vectors, vectors.stat().st_size - 5)  # inside the last row's values
    with pytest.raises(Corruption, match=r"vectors\.npy: CRC-32"):
        open_ns(path)


def test_flipped_byte_in_hnsw_header_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path, hnsw_min_rows=200)
    ns.upsert(rows(0, 300))
    ns.flush()
    ns.close()
    graph = one_segment(path) / "hnsw.idx"
    assert graph.exists()
    flip(graph, 20)  # the M field: outside the graph bytes' own CRC
    with pytest.raises(Corruption, match=r"hnsw\.idx: CRC-32 of the file"):
        open_ns(path, hnsw_min_rows=200)


def test_flipped_byte_in_sparse_index_header_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = Namespace.open(path, dimension=None, metric="dotproduct", flush_rows=1_000_000)
    ns.upsert([rec(f"s{i}", sparse={i % 5: 1.0 + i}) for i in range(20)])
    ns.flush()
    ns.close()
    index = one_segment(path) / "sparse.idx"
    flip(index, 12)  # the reserved flags word, outside the body's CRC
    ns = Namespace.open(path, dimension=None, metric="dotproduct", flush_rows=1_000_000)
    with pytest.raises(Corruption, match="reserved bytes"):
        ns.query(None, sparse=sp({1: 1.0}), top_k=3)  # the index is read on first use
    ns.close()


def test_flipped_byte_in_manifest_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    flushed(path)
    manifest = path / "manifest" / "MANIFEST"
    text = manifest.read_bytes()
    at = text.index(b'"flushed_lsn": 1') + len(b'"flushed_lsn": ')
    manifest.write_bytes(text[:at] + b"2" + text[at + 1 :])  # still valid JSON
    with pytest.raises(Corruption, match="manifest checksum mismatch"):
        open_ns(path)


def test_flipped_byte_in_deletion_bitmap_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert(rows(0, 10))
    ns.flush()
    ns.delete(["r1", "r2"])
    ns.flush()
    ns.close()
    [bitmap] = one_segment(path).glob("deletes-*.roaring")
    flip(bitmap, bitmap.stat().st_size - 1)
    with pytest.raises(Corruption, match="checksum mismatch"):
        open_ns(path)


def test_flipped_byte_in_count_file_falls_back_to_counting(tmp_path: Path) -> None:
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    ns = store.get("a", create=True)
    assert ns is not None
    ns.upsert(rows(0, 7))
    store.close()
    [directory] = (tmp_path / "index").iterdir()
    flip(directory / "COUNT", 20)  # the count itself: 7 would read as 6
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    assert store.count("a") == 7
    store.close()


# -- recovery never deletes what may be data --------------------------------------


def two_segments(path: Path) -> tuple[Manifest, Manifest]:
    """Two flushes of 2,000 records each; the manifests after each."""
    ns = open_ns(path)
    ns.upsert(rows(0, 1000))
    ns.upsert(rows(1000, 1000))
    ns.flush()
    first = read_manifest_file(path)
    ns.upsert(rows(2000, 1000))
    ns.upsert(rows(3000, 1000))
    ns.flush()
    ns.close()
    return first, read_manifest_file(path)


def test_stale_manifest_is_corruption_and_deletes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    first, second = two_segments(path)
    write_manifest_file(path, first)  # an older copy of the manifest
    before = sorted(p.relative_to(path) for p in path.rglob("*"))
    with pytest.raises(Corruption, match="WAL gap"):
        open_ns(path)
    assert sorted(p.relative_to(path) for p in path.rglob("*")) == before
    write_manifest_file(path, second)  # the operator puts the right one back
    assert open_ns(path).count() == 4000


def test_segment_missing_from_manifest_is_quarantined(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ns"
    _, second = two_segments(path)
    dropped = second.segments.pop()
    write_manifest_file(path, second)  # lists one segment fewer than exist
    with caplog.at_level(logging.WARNING, logger="spruce.engine.disk.leftovers"):
        ns = open_ns(path)
    assert ns.count() == 2000
    ns.close()
    [moved] = (path / "quarantine").iterdir()
    assert moved.name.endswith(f"-segments-{dropped.name}")
    assert sorted(p.name for p in moved.iterdir()) == ["records.arrow", "vectors.npy"]
    assert str(path / "segments" / dropped.name) in caplog.text
    assert "nothing was deleted" in caplog.text
    # Put back by hand, it serves again: 2,000 acknowledged records were kept.
    shutil.move(moved, path / "segments" / dropped.name)
    second.segments.append(dropped)
    write_manifest_file(path, second)
    assert open_ns(path).count() == 4000


def test_unknown_bitmap_and_manifest_files_are_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    flushed(path)
    segment = one_segment(path)
    (segment / "deletes-00000000000000000001.roaring").write_bytes(b"x")
    (path / "manifest" / "MANIFEST.bak").write_bytes(b"y")
    open_ns(path).close()
    names = sorted(p.name.split("-", 1)[1] for p in (path / "quarantine").iterdir())
    assert names == [
        "manifest-MANIFEST.bak",
        f"segments-{segment.name}-deletes-00000000000000000001.roaring",
    ]


def test_interrupted_compaction_leftover_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ns"
    two_segments(path)
    ns = open_ns(path)

    def crash(*args: object) -> None:
        raise OSError("killed before the commit")

    monkeypatch.setattr(upkeep_module, "write_manifest", crash)
    with pytest.raises(OSError):
        ns.compact()
    monkeypatch.undo()
    merged = [p for p in (path / "segments").iterdir() if "-c" in p.name]
    assert len(merged) == 1 and (merged[0] / "SOURCES").exists()
    ns = open_ns(path)
    assert ns.count() == 4000
    ns.close()
    assert not merged[0].exists() and not (path / "quarantine").exists()


def test_compaction_inputs_left_after_commit_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ns"
    _, second = two_segments(path)
    ns = open_ns(path)
    monkeypatch.setattr(upkeep_module, "collect_garbage", lambda *args: None)
    ns.compact()  # committed; the crash comes before the cleanup
    ns.close()
    monkeypatch.undo()
    manifest = read_manifest_file(path)
    assert sorted(manifest.obsolete) == sorted(e.name for e in second.segments)
    assert len(list((path / "segments").iterdir())) == 3
    ns = open_ns(path)
    assert ns.count() == 4000
    ns.close()
    [(_, kept)] = [(p, p.name) for p in (path / "segments").iterdir()]
    assert kept == manifest.segments[0].name and not (path / "quarantine").exists()


# -- the WAL must reach back to the manifest ------------------------------------


def test_deleted_wal_files_are_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert(rows(0, 10))
    ns.flush()
    ns.upsert(rows(10, 5))  # acknowledged, only in the WAL
    ns.close()
    for wal in (path / "wal").iterdir():
        wal.unlink()
    with pytest.raises(Corruption, match="no WAL file"):
        open_ns(path)


def test_missing_first_wal_file_is_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert(rows(0, 10))
    ns._freeze(background=False)  # a second WAL file, the first one not flushed yet
    ns.upsert(rows(10, 5))
    ns._closed = Corruption("stop here")  # a crash: nothing flushed on the way out
    files = sorted((path / "wal").iterdir())
    assert [int(f.stem) for f in files] == [1, 2]
    files[0].unlink()
    with pytest.raises(Corruption, match="WAL gap: LSNs 1 to 1 are missing"):
        open_ns(path)


def test_unflushed_wal_tail_still_replays(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert(rows(0, 10))
    ns.flush()
    ns.upsert(rows(10, 5))
    ns.close()
    ns = open_ns(path)
    assert ns.count() == 15
    got = ns.fetch(["r12"])["r12"].values
    assert got is not None and np.allclose(got, [6.0, 1.0, 0.0, 2.0])
    ns.close()


def test_damaged_name_file_is_not_listed_under_a_wrong_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    long_name = "n" * 300  # too long to encode: the directory is named by its hash
    assert store.get(long_name, create=True) is not None
    store.close()
    [directory] = (tmp_path / "index").iterdir()
    assert directory.name.startswith("nh-")
    flip(directory / "NAME", 0)  # "o" + 299 "n": a different, valid name
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    with caplog.at_level(logging.ERROR, logger="spruce.engine.write.store"):
        assert store.names() == []
    assert "NAME does not hash to the directory name" in caplog.text
    store.close()


def test_deleted_manifest_with_segments_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    flushed(path)
    (path / "manifest" / "MANIFEST").unlink()
    for wal in (path / "wal").iterdir():
        wal.unlink()
    with pytest.raises(Corruption, match="segments present but manifest missing"):
        open_ns(path)
    assert not (path / "manifest" / "MANIFEST").exists()  # nothing written over it


def test_missing_segment_files_are_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    first, _ = two_segments(path)
    segment = path / "segments" / first.segments[0].name
    (segment / "vectors.npy").unlink()
    with pytest.raises(Corruption, match=r"vectors\.npy: named by the manifest but missing"):
        open_ns(path)
    shutil.rmtree(segment)
    with pytest.raises(Corruption, match="named by the manifest but missing"):
        open_ns(path)
    assert not (path / "quarantine").exists()


def test_a_damaged_namespace_is_not_verified_again_on_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    ns = store.get("a", create=True)
    assert ns is not None
    ns.upsert(rows(0, 10))
    ns.flush()
    store.close()
    [directory] = (tmp_path / "index").iterdir()
    vectors = one_segment(directory) / "vectors.npy"
    flip(vectors, vectors.stat().st_size - 1)
    store = IndexStore(tmp_path / "index", dimension=DIM, metric="cosine")
    opens = []
    real = Namespace.open
    monkeypatch.setattr(Namespace, "open", lambda *a, **k: opens.append(1) or real(*a, **k))
    for _ in range(3):
        with pytest.raises(Corruption, match="CRC-32"):
            store.get("a", create=False)
    assert len(opens) == 1
    store.drop("a")  # dropping it forgets the damage
    assert store.get("a", create=True) is not None and len(opens) == 3
    store.close()


def test_format_2_manifest_still_opens_and_is_rewritten_as_3(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    flushed(path)
    manifest = path / "manifest" / "MANIFEST"
    body = json.loads(manifest.read_bytes().split(b"\n", 1)[1])
    body["format_version"] = 2
    del body["obsolete"]
    manifest.write_text(json.dumps(body))  # as version 2 wrote it: bare JSON
    ns = open_ns(path)
    assert ns.count() == 10
    ns.upsert(rows(10, 1))
    ns.flush()
    ns.close()
    assert manifest.read_bytes().startswith(b"SPRCMANIFEST 3 ")
    manifest.write_bytes(b"X" + manifest.read_bytes()[1:])
    with pytest.raises(Corruption, match="not a manifest"):
        open_ns(path)
