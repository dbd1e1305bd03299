"""The manifest: which segments (and deletion bitmaps) make up a namespace, as of an LSN.

It is the single commit point of a flush: everything it names is written and fsync'd
first, then ``manifest/MANIFEST`` is replaced atomically. Recovery removes only what it
can prove is a leftover of an unfinished flush or compaction (recovery.py); ``obsolete``
names what this manifest's commit made garbage, so that a crash before the cleanup
leaves provable leftovers rather than unknown directories.

Since format 3 the file starts with one text line holding the CRC-32 and length of the
JSON that follows, so a damaged byte anywhere is ``Corruption`` rather than a wrong
LSN or segment list (docs/FORMAT.md section 4).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import msgspec

from spruce.engine.disk.fsutil import atomic_write
from spruce.engine.disk.segment import SegmentEntry
from spruce.errors import Corruption

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST",
    "Manifest",
    "decode_manifest",
    "encode_manifest",
    "read_manifest",
    "write_manifest",
]

FORMAT_VERSION = 3
# Version 1 had no HNSW fields in segment entries; it reads as version 2 without them.
# Versions 1 and 2 are bare JSON without a checksum line.
READABLE_VERSIONS = frozenset({1, 2, 3})
MANIFEST = "MANIFEST"
_MAGIC = b"SPRCMANIFEST"


class Manifest(msgspec.Struct, kw_only=True):
    format_version: int = FORMAT_VERSION
    dimension: int | None
    metric: str
    # Every op with LSN <= flushed_lsn is reflected in the segments and bitmaps below.
    flushed_lsn: int = 0
    segments: list[SegmentEntry] = msgspec.field(default_factory=list)
    # Format 3: segment directories this commit dropped (merged or emptied), which the
    # writer removes right after; recovery removes any that a crash left behind.
    obsolete: list[str] = msgspec.field(default_factory=list)


def encode_manifest(manifest: Manifest) -> bytes:
    manifest.format_version = FORMAT_VERSION
    body = msgspec.json.format(msgspec.json.encode(manifest))
    head = b"%s %d %08x %d\n" % (_MAGIC, FORMAT_VERSION, zlib.crc32(body), len(body))
    return head + body


def decode_manifest(data: bytes, where: str) -> Manifest:
    """Parse and verify a manifest file's bytes; ``where`` names it in errors (the log)."""
    if data.startswith(_MAGIC):
        head, sep, body = data.partition(b"\n")
        parts = head.split(b" ")
        if not sep or len(parts) != 4 or parts[1] != b"%d" % FORMAT_VERSION:
            raise Corruption(f"{where}: manifest header line is damaged or of unknown version")
        try:
            crc, length = int(parts[2], 16), int(parts[3])
        except ValueError:
            raise Corruption(f"{where}: manifest header line is damaged") from None
        if length != len(body):
            raise Corruption(f"{where}: manifest length {len(body)}, header says {length}")
        if zlib.crc32(body) != crc:
            raise Corruption(f"{where}: manifest checksum mismatch (CRC-32 check failed)")
    elif data.startswith(b"{"):
        body = data  # format 1 or 2: no checksum line
    else:
        raise Corruption(f"{where}: not a manifest (damaged first byte)")
    try:
        manifest = msgspec.json.decode(body, type=Manifest)
    except msgspec.DecodeError as exc:
        raise Corruption(f"{where}: {exc}") from exc
    if manifest.format_version not in READABLE_VERSIONS:
        raise Corruption(f"{where}: unsupported manifest format {manifest.format_version}")
    if (manifest.format_version == FORMAT_VERSION) != (body is not data):
        raise Corruption(f"{where}: manifest format {manifest.format_version} in the wrong frame")
    return manifest


def read_manifest(directory: Path) -> Manifest | None:
    """The published manifest, or None for a namespace that has never flushed."""
    path = directory / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return decode_manifest(data, str(path))


def write_manifest(directory: Path, manifest: Manifest) -> None:
    atomic_write(directory / MANIFEST, encode_manifest(manifest))
