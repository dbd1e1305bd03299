"""``<ns>/COUNT``: a namespace's record count as of its last clean close.

Listing an index's namespaces with their record counts must not open each one (read the
manifest, open its segments, replay its WAL): an index may hold 100,000 of them. So a
namespace that closes cleanly leaves its count here, and ``IndexStore.count`` reads it
instead of opening the namespace. Byte format: docs/FORMAT.md section 8.

The file is a cache, never the source of truth, and it is exact only while the WAL is
exactly as it was when the file was written. That needs no hook in the write path:
every op is appended to the last WAL file (and fsync'd) before it is acknowledged, a
freeze only ever creates a *newer* file, and the only shrinking of a WAL file cuts off a
torn, never-acknowledged tail. So "the last WAL file has the recorded name and byte
length" proves that nothing was logged since; any other state means "open and count".

It is written without fsync (one per namespace would make closing 100,000 namespaces
take minutes): a crash can lose it (the namespace is opened, as without it), tear it
(its CRC fails, likewise) or bring back an older one (which names an older WAL state,
so it is stale and ignored).
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

from spruce.engine.disk.fsutil import temp_name
from spruce.engine.disk.recovery import Layout
from spruce.engine.write.wal import wal_file_name

__all__ = ["COUNT_FILE", "COUNT_VERSION", "read_count", "write_count"]

COUNT_FILE = "COUNT"
COUNT_VERSION = 1
_MAGIC = b"SPRCCNT\x00"
# magic, version, namespace LSN, live records, last WAL file's first LSN, its byte length
_BODY = struct.Struct("<8sIQQQQ")
_CRC = struct.Struct("<I")
_WAL_DIR = Layout(Path()).wal.name
_SIZE = _BODY.size + _CRC.size


def write_count(
    layout: Layout, *, lsn: int, count: int, wal_first_lsn: int, wal_bytes: int
) -> None:
    """Record ``count`` live records as of ``lsn``, with the last WAL file as it is now."""
    body = _BODY.pack(_MAGIC, COUNT_VERSION, lsn, count, wal_first_lsn, wal_bytes)
    # The temporary goes in manifest/, whose leftovers recovery already removes.
    tmp = layout.manifest / temp_name("tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(body + _CRC.pack(zlib.crc32(body)))
        os.replace(tmp, layout.root / COUNT_FILE)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_count(directory: Path) -> int | None:
    """The live record count of the namespace in ``directory`` if its COUNT file is
    present and still exact; None otherwise (including when there is no directory)."""
    # Plain strings rather than pathlib: this runs once per namespace of an index.
    root = os.fspath(directory)
    try:
        with open(os.path.join(root, COUNT_FILE), "rb") as f:
            data = f.read(_SIZE + 1)
    except OSError:
        return None
    if len(data) != _SIZE:
        return None
    if zlib.crc32(data[: _BODY.size]) != _CRC.unpack_from(data, _BODY.size)[0]:
        return None
    magic, version, _lsn, count, wal_first_lsn, wal_bytes = _BODY.unpack_from(data)
    if magic != _MAGIC or version != COUNT_VERSION:
        return None  # a cache: a version this reader does not know is just not used
    last: os.DirEntry[str] | None = None
    try:
        with os.scandir(os.path.join(root, _WAL_DIR)) as entries:
            for entry in entries:
                name = entry.name
                if (
                    name.endswith(".wal")
                    and not name.startswith(".")
                    and (last is None or name > last.name)
                ):
                    last = entry
        if last is None or last.name != wal_file_name(wal_first_lsn):
            return None
        if last.stat().st_size != wal_bytes:
            return None
    except OSError:
        return None
    return int(count)
