"""Restart, crash and corruption behaviour, and the on-disk format of docs/FORMAT.md."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import msgspec
import numpy as np
import pyarrow as pa
import pytest

from spruce.engine.background import upkeep as upkeep_module
from spruce.engine.disk import segment as segment_module
from spruce.engine.write.namespace import Namespace
from spruce.engine.write.ops import DeleteOp, encode_op
from spruce.engine.write.wal import HEADER, encode_frame
from spruce.errors import Corruption, InvalidArgument, Unavailable

from .helpers import rec, sp, vec


def open_ns(path: Path, flush_rows: int = 100) -> Namespace:
    return Namespace.open(path, dimension=2, metric="dotproduct", flush_rows=flush_rows)


def wal_file(path: Path) -> Path:
    [only] = sorted((path / "wal").glob("*.wal"))
    return only


def snapshot(ns: Namespace) -> dict[str, tuple[list[float], list[int] | None, object]]:
    ids = ns.list_ids(limit=10_000)
    out: dict[str, tuple[list[float], list[int] | None, object]] = {}
    for id, r in ns.fetch(ids).items():
        assert r.values is not None
        sparse = None if r.sparse is None else r.sparse.indices.tolist()
        out[id] = (r.values.tolist(), sparse, r.metadata)
    return out


def test_reopen_replays_wal_and_segments(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path, flush_rows=3)
    ns.upsert([rec(f"r{i}", i, -i, metadata={"i": i, "f": 0.5}) for i in range(4)])  # flushes
    ns.upsert([rec("s", 1, 1, sparse={7: 1.5}, metadata={"tags": ["a", "b"]})])
    ns.delete(["r0"])  # a segment row, deleted only in the WAL so far
    ns.update("r1", set_metadata={"new": True})
    ns.upsert([rec("r2", 9, 9)])
    before, lsn = snapshot(ns), ns.lsn
    ns.close()
    ns = open_ns(path, flush_rows=3)
    assert snapshot(ns) == before and ns.lsn == lsn
    assert ns.fetch(["r1"])["r1"].metadata == {"i": 1, "f": 0.5, "new": True}
    ns.flush()
    ns.close()
    ns = open_ns(path, flush_rows=3)
    assert snapshot(ns) == before and ns.lsn == lsn
    assert [m.id for m in ns.query(vec(1, 1), top_k=2)] == ["r2", "s"]
    # the WAL was truncated by the flush: only the header is left
    assert wal_file(path).read_bytes() == HEADER


def test_segment_deletions_survive_flush_and_restart(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec(f"r{i}", i, 0) for i in range(6)])
    ns.flush()
    ns.delete(["r1", "r2"])
    ns.upsert([rec("r3", 0, 3)])
    ns.flush()  # persists the segment's deletion bitmap
    ns.delete(["r4"])
    ns.flush()  # a second bitmap replaces the first
    ns.close()
    ns = open_ns(path)
    assert ns.list_ids() == ["r0", "r3", "r5"]
    assert ns.fetch(["r3"])["r3"].values.tolist() == [0.0, 3.0]  # type: ignore[union-attr]
    seg_files = sorted(p.name for p in (path / "segments").rglob("*") if p.is_file())
    assert seg_files.count("deletes-00000000000000000004.roaring") == 1
    assert not [n for n in seg_files if n == "deletes-00000000000000000003.roaring"]


def test_torn_tail_loses_only_the_last_write(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])
    ns.upsert([rec("b", 0, 1)])
    ns.upsert([rec("c", 1, 1)])
    ns.close()
    wal = wal_file(path)
    with open(wal, "r+b") as fh:
        fh.truncate(wal.stat().st_size - 3)
    ns = open_ns(path)
    assert ns.list_ids() == ["a", "b"] and ns.lsn == 2
    ns.upsert([rec("d", 2, 2)])  # appended after the cut, not after the garbage
    assert ns.lsn == 3
    ns.close()
    ns = open_ns(path)
    assert ns.list_ids() == ["a", "b", "d"]


@pytest.mark.parametrize(
    "tail", [b"\x00" * 37, b"\x05\x00", b"\xff\xff\xff\x7f\x00\x00\x00\x00abc"]
)
def test_garbage_tail_is_dropped(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])
    ns.close()
    with open(wal_file(path), "ab") as fh:
        fh.write(tail)
    ns = open_ns(path)
    assert ns.list_ids() == ["a"]


def test_bad_crc_before_valid_data_is_corruption(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0, metadata={"k": "some text"})])
    ns.upsert([rec("b", 0, 1)])
    ns.close()
    wal = wal_file(path)
    data = bytearray(wal.read_bytes())
    data[len(HEADER) + 12] ^= 0x01  # inside the first record's payload
    wal.write_bytes(bytes(data))
    with pytest.raises(Corruption):
        open_ns(path)


def test_corrupt_segment_and_manifest_are_detected(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])
    ns.flush()
    ns.close()
    [records] = (path / "segments").rglob("records.arrow")
    good = records.read_bytes()
    records.write_bytes(good[:-20] + bytes(20))
    with pytest.raises(Corruption):
        open_ns(path)
    records.write_bytes(good)
    (path / "manifest" / "MANIFEST").write_text("{not json")
    with pytest.raises(Corruption):
        open_ns(path)


def test_reopen_with_other_dimension_or_metric_fails(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    open_ns(path).close()
    with pytest.raises(InvalidArgument):
        Namespace.open(path, dimension=3, metric="dotproduct")
    with pytest.raises(InvalidArgument):
        Namespace.open(path, dimension=2, metric="cosine")


def test_leftovers_of_an_interrupted_flush_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0), rec("b", 0, 1)])
    ns.flush()
    ns.delete(["a"])
    ns.close()
    [segment] = (path / "segments").iterdir()
    # What a flush at LSN 2 (the delete) leaves when it dies before publishing.
    (path / "segments" / "00000000000000000002").mkdir()
    (segment / "deletes-00000000000000000002.roaring").write_bytes(b"junk")
    (path / "manifest" / ".tmp-123").write_bytes(b"junk")
    ns = open_ns(path)
    assert ns.list_ids() == ["b"]
    assert [p.name for p in (path / "segments").iterdir()] == [segment.name]
    assert sorted(p.name for p in segment.iterdir()) == ["records.arrow", "vectors.npy"]
    assert [p.name for p in (path / "manifest").iterdir()] == ["MANIFEST"]


def test_failed_flush_before_publish_keeps_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(segment_module, "write_segment", boom)
    with pytest.raises(OSError):
        ns.flush()
    assert not list((path / "segments").iterdir())
    monkeypatch.undo()
    ns.upsert([rec("b", 0, 1)])
    ns.flush()
    ns.close()
    assert open_ns(path).list_ids() == ["a", "b"]


def test_failed_manifest_publish_requires_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("io error")

    monkeypatch.setattr(upkeep_module, "write_manifest", boom)
    with pytest.raises(OSError):
        ns.flush()
    assert ns.failed
    with pytest.raises(Unavailable):
        ns.count()
    monkeypatch.undo()
    ns = open_ns(path)
    assert ns.list_ids() == ["a"] and ns.lsn == 1


def test_wal_bytes_match_format_doc(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1.5, -2, sparse={3: 0.5}, metadata={"g": "x", "n": 1})])
    ns.delete(["a"])
    data = wal_file(path).read_bytes()
    assert data[:8] == b"SPRCWAL\x00" and struct.unpack_from("<I", data, 8) == (1,)
    pos, records = 12, []
    while pos < len(data):
        length, crc = struct.unpack_from("<II", data, pos)
        payload = data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(data[pos : pos + 4] + payload) == crc
        records.append(msgspec.msgpack.decode(payload))
        pos += 8 + length
    assert pos == len(data)
    upsert, delete = records
    assert upsert["op"] == "upsert" and upsert["lsn"] == 1 and upsert["ids"] == ["a"]
    assert np.frombuffer(upsert["vectors"], "<f4").tolist() == [1.5, -2.0]
    [(indices, values)] = upsert["sparse"]
    assert np.frombuffer(indices, "<u4").tolist() == [3]
    assert np.frombuffer(values, "<f4").tolist() == [0.5]
    assert upsert["metadata"] == [{"g": "x", "n": 1}]
    assert delete == {"op": "delete", "lsn": 2, "ids": ["a"]}


def test_segment_files_match_format_doc(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 2, metadata={"g": "x"}, sparse={1: 2.0}), rec("b", 3, 4)])
    ns.flush()
    ns.delete(["a"])
    ns.upsert([rec("c", 5, 6)])  # flush needs rows or dirty bitmaps; both here
    ns.flush()
    head, body = (path / "manifest" / "MANIFEST").read_bytes().split(b"\n", 1)
    magic, version, crc, length = head.split(b" ")
    assert magic == b"SPRCMANIFEST" and version == b"3"
    assert int(crc, 16) == zlib.crc32(body) and int(length) == len(body)
    manifest = json.loads(body)
    assert manifest["format_version"] == 3 and manifest["flushed_lsn"] == 3
    assert manifest["dimension"] == 2 and manifest["metric"] == "dotproduct"
    first = manifest["segments"][0]
    directory = path / "segments" / first["name"]
    vectors = np.load(directory / "vectors.npy", mmap_mode="r")
    assert vectors.dtype == np.dtype("<f4") and vectors.tolist() == [[1, 2], [3, 4]]
    assert zlib.crc32((directory / "vectors.npy").read_bytes()) == first["vectors_crc32"]
    assert first["ann"] is None  # small segments are scanned exactly
    table = pa.ipc.open_file(pa.memory_map(str(directory / "records.arrow"))).read_all()
    assert table.column("id").to_pylist() == ["a", "b"]
    assert table.column("metadata").to_pylist() == ['{"g":"x"}', None]
    assert table.column("sparse_indices").to_pylist() == [[1], None]
    from pyroaring import BitMap

    deletes = (directory / first["deletes"]).read_bytes()
    assert zlib.crc32(deletes) == first["deletes_crc32"]
    assert list(BitMap.deserialize(deletes)) == [0]
    assert sp({1: 2.0}).indices.tolist() == [1]


CHILD = """
import sys
from pathlib import Path
import numpy as np
from spruce.engine.write.namespace import Namespace
from spruce.types import Record

ns = Namespace.open(Path(sys.argv[1]), dimension=2, metric="dotproduct", flush_rows=7)
for b in range(10_000):
    ns.upsert([Record(f"{b:05d}-{i}", np.array([b, i], np.float32)) for i in range(3)])
    if b % 5 == 4:
        ns.delete([f"{b - 4:05d}-0"])
    print(ns.lsn, flush=True)
"""


def test_kill_during_writes_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    path = tmp_path / "ns"
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert child.stdout is not None
    acked = 0
    for line in child.stdout:
        acked = int(line)
        if acked >= 150:
            break
    child.send_signal(signal.SIGKILL)
    child.wait()
    ns = open_ns(path, flush_rows=7)
    assert ns.lsn >= acked
    # Replay the child's deterministic op sequence up to the recovered LSN.
    want: set[str] = set()
    lsn, b = 0, 0
    while lsn < ns.lsn:
        want |= {f"{b:05d}-{i}" for i in range(3)}
        lsn += 1
        if b % 5 == 4 and lsn < ns.lsn:
            want.discard(f"{b - 4:05d}-0")
            lsn += 1
        b += 1
    assert set(ns.list_ids(limit=100_000)) == want
    assert ns.count() == len(want)


@pytest.mark.parametrize(
    "payload",
    [b"\x01", encode_op(DeleteOp(lsn=5, ids=["a"])), encode_op(DeleteOp(lsn=1, ids=["a"]))],
    ids=["undecodable", "lsn-gap", "lsn-repeat"],
)
def test_checksummed_but_invalid_records_are_corruption(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "ns"
    ns = open_ns(path)
    ns.upsert([rec("a", 1, 0)])
    ns.close()
    with open(wal_file(path), "ab") as fh:
        fh.write(encode_frame(payload))
    with pytest.raises(Corruption):
        open_ns(path)
