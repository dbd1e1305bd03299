"""The write-ahead log: CRC-framed records appended to files under ``<ns>/wal/``.

A file is a 12-byte header (magic, format version) followed by frames
``[u32 length][u32 crc32(length bytes + payload)][payload]`` (little-endian; see
docs/FORMAT.md). A crash mid-append can leave a torn frame at the very end of the
last file; recovery drops it and truncates the file so later appends are not written
after garbage. A bad frame that is followed by a valid one cannot come from a torn
append, so it is reported as ``Corruption`` rather than silently dropping data.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np

from spruce import observe
from spruce.engine.disk import fsutil
from spruce.engine.disk.fsutil import disk_full, fsync_dir, read_file, write_synced
from spruce.errors import Corruption, StorageFull

__all__ = [
    "FORMAT_VERSION",
    "HEADER",
    "WalWriter",
    "encode_frame",
    "read_wal",
    "scan_frames",
    "wal_file_name",
]

MAGIC = b"SPRCWAL\x00"
FORMAT_VERSION = 1
HEADER = MAGIC + struct.pack("<I", FORMAT_VERSION)
_FRAME = struct.Struct("<II")
# No single record may be larger; a bigger length field is garbage, not a record.
MAX_PAYLOAD = 1 << 30


def wal_file_name(first_lsn: int) -> str:
    """WAL files are named by the first LSN they may hold, so names sort in log order."""
    return f"{first_lsn:020d}.wal"


def encode_frame(payload: bytes) -> bytes:
    if not payload or len(payload) > MAX_PAYLOAD:
        raise ValueError("WAL payload must be 1 byte to 1 GiB")
    length = struct.pack("<I", len(payload))
    return length + struct.pack("<I", zlib.crc32(payload, zlib.crc32(length))) + payload


def _frame_at(data: bytes, pos: int) -> int:
    """End offset of a valid frame starting at ``pos``, or -1."""
    if len(data) - pos < _FRAME.size:
        return -1
    length, crc = _FRAME.unpack_from(data, pos)
    end: int = pos + _FRAME.size + length
    if length == 0 or length > MAX_PAYLOAD or end > len(data):
        return -1
    payload = memoryview(data)[pos + _FRAME.size : end]
    if zlib.crc32(payload, zlib.crc32(data[pos : pos + 4])) != crc:
        return -1
    return int(end)


def _valid_frame_after(data: bytes, start: int) -> bool:
    """Does a valid frame begin at any offset >= ``start``?"""
    n = len(data) - start - _FRAME.size + 1
    if n <= 0:
        return False
    # Read a u32 length at every byte offset at once; only offsets whose length fits in
    # the file need a CRC check, which keeps a multi-megabyte torn tail cheap to scan.
    b = np.frombuffer(data, dtype=np.uint8, offset=start).astype(np.int64)
    lengths = b[:n] | b[1 : n + 1] << 8 | b[2 : n + 2] << 16 | b[3 : n + 3] << 24
    room = len(data) - start - _FRAME.size - np.arange(n, dtype=np.int64)
    candidates = np.flatnonzero((lengths > 0) & (lengths <= room))
    return any(_frame_at(data, start + int(c)) >= 0 for c in candidates)


def scan_frames(data: bytes, start: int, where: str) -> tuple[list[bytes], int]:
    """Payloads of the frames in ``data[start:]`` and the end of the last valid one.

    Raises ``Corruption`` when an invalid frame is followed by a valid frame.
    """
    payloads: list[bytes] = []
    pos = start
    while pos < len(data):
        end = _frame_at(data, pos)
        if end < 0:
            # A torn append leaves at most one partial frame; anything valid after it means
            # the bytes were damaged at rest.
            if _valid_frame_after(data, pos + 1):
                raise Corruption(f"{where}: bad WAL frame at byte {pos} before valid data")
            break
        payloads.append(data[pos + _FRAME.size : end])
        pos = end
    return payloads, pos


def read_wal(path: Path) -> tuple[list[bytes], int]:
    """Payloads of one WAL file and the byte length of its valid prefix.

    A file shorter than its header (crash while creating it) reads as empty with a
    valid length of 0, telling the caller to rewrite it.
    """
    data = read_file(path)
    if len(data) < len(HEADER):
        if HEADER.startswith(data) or not data.strip(b"\x00"):
            return [], 0
        raise Corruption(f"{path}: not a Spruce WAL file")
    if data[: len(MAGIC)] != MAGIC:
        raise Corruption(f"{path}: not a Spruce WAL file")
    (version,) = struct.unpack_from("<I", data, len(MAGIC))
    if version != FORMAT_VERSION:
        raise Corruption(f"{path}: unsupported WAL format version {version}")
    return scan_frames(data, len(HEADER), str(path))


class WalWriter:
    """Appends frames to one WAL file, fsync'ing before returning.

    The file is opened per append rather than held open: an index may have 100,000
    namespaces open, and idle ones should not pin file descriptors.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    @classmethod
    def create(cls, path: Path) -> WalWriter:
        try:
            write_synced(path, HEADER)
        except StorageFull:
            path.unlink(missing_ok=True)  # a file without its header is no WAL file
            raise
        fsync_dir(path.parent)
        return cls(path, len(HEADER))

    @classmethod
    def resume(cls, path: Path, valid_end: int) -> WalWriter:
        """Continue an existing file, first cutting off a torn tail after ``valid_end``."""
        if valid_end < len(HEADER):
            return cls.create(path)
        if path.stat().st_size != valid_end:
            with open(path, "r+b") as f:
                f.truncate(valid_end)
                os.fsync(f.fileno())
        return cls(path, valid_end)

    def append(self, payload: bytes) -> None:
        """Append one frame durably. A full disk raises ``StorageFull`` with the file cut
        back to its previous length: recovery never sees any part of the refused record."""
        frame = encode_frame(payload)
        # Unbuffered: a buffered file would retry the failed write when closed, after
        # the truncate below.
        fs = fsutil.current()
        fd = fs.open(self.path, os.O_WRONLY)
        try:
            view = memoryview(frame)
            offset = self.size
            while view:
                done = fs.pwrite(fd, view, offset)
                view, offset = view[done:], offset + done
            started = time.perf_counter()
            fs.fsync(fd)
            observe.record("wal_fsync", time.perf_counter() - started)
        except BaseException as exc:
            # Leave no partial frame behind: the next append would land after it and
            # turn a harmless torn tail into Corruption on recovery. (Shrinking a file
            # needs no free space.)
            fs.truncate(fd, self.size)
            if disk_full(exc):
                fs.fsync(fd)
                raise StorageFull() from exc
            raise
        finally:
            fs.close(fd)
        self.size += len(frame)
