"""WAL framing: torn tails are dropped, damage before valid data is Corruption."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.write.wal import HEADER, WalWriter, encode_frame, read_wal, scan_frames
from spruce.errors import Corruption

payloads_st = st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(payloads=payloads_st, data=st.data())
def test_any_truncation_keeps_the_complete_prefix(
    payloads: list[bytes], data: st.DataObject
) -> None:
    frames = [encode_frame(p) for p in payloads]
    blob = b"".join(frames)
    cut = data.draw(st.integers(0, len(blob)))
    got, end = scan_frames(blob[:cut], 0, "test")
    complete, pos = 0, 0
    for f in frames:
        if pos + len(f) > cut:
            break
        pos += len(f)
        complete += 1
    assert got == payloads[:complete] and end == pos


@settings(max_examples=100, deadline=None)
@given(payloads=payloads_st.filter(lambda p: len(p) >= 2), data=st.data())
def test_damage_before_a_valid_frame_is_corruption(
    payloads: list[bytes], data: st.DataObject
) -> None:
    frames = [encode_frame(p) for p in payloads]
    blob = bytearray(b"".join(frames))
    # flip one bit anywhere except in the last frame, which stays valid
    at = data.draw(st.integers(0, len(blob) - len(frames[-1]) - 1))
    blob[at] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(Corruption):
        scan_frames(bytes(blob), 0, "test")


def test_large_torn_tail_scans_quickly() -> None:
    good = encode_frame(b"x" * 100)
    torn = encode_frame(os.urandom(2 << 20))[: -(1 << 10)]
    start = time.perf_counter()
    got, end = scan_frames(good + torn, 0, "test")
    assert got == [b"x" * 100] and end == len(good)
    # About 0.2 s here; the bound only catches a pathological blow-up, not speed.
    assert time.perf_counter() - start < 30


def test_writer_resume_truncates_and_header_checks(tmp_path: Path) -> None:
    path = tmp_path / "1.wal"
    w = WalWriter.create(path)
    w.append(b"one")
    w.append(b"two")
    with open(path, "ab") as fh:
        fh.write(b"\x07\x00\x00")
    payloads, end = read_wal(path)
    assert payloads == [b"one", b"two"]
    w = WalWriter.resume(path, end)
    w.append(b"three")
    assert read_wal(path)[0] == [b"one", b"two", b"three"]
    path.write_bytes(HEADER[:5])  # crash while creating the file
    assert read_wal(path) == ([], 0)
    path.write_bytes(b"NOTAWAL\x00\x01\x00\x00\x00")
    with pytest.raises(Corruption):
        read_wal(path)
    path.write_bytes(HEADER[:8] + b"\x09\x00\x00\x00")
    with pytest.raises(Corruption):
        read_wal(path)
