"""The manifest: which segments (and deletion bitmaps) make up a namespace, as of an LSN.

It is the single commit point of a flush: everything it names is written and fsync'd
first, then ``manifest/MANIFEST`` is replaced atomically. Files it does not name are
garbage from an unfinished flush and are removed on open.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from spruce.engine.fsutil import atomic_write
from spruce.engine.segment import SegmentEntry
from spruce.errors import Corruption

__all__ = ["FORMAT_VERSION", "MANIFEST", "Manifest", "read_manifest", "write_manifest"]

FORMAT_VERSION = 2
# Version 1 had no HNSW fields in segment entries; it reads as version 2 without them.
READABLE_VERSIONS = frozenset({1, 2})
MANIFEST = "MANIFEST"


class Manifest(msgspec.Struct, kw_only=True):
    format_version: int = FORMAT_VERSION
    dimension: int | None
    metric: str
    # Every op with LSN <= flushed_lsn is reflected in the segments and bitmaps below.
    flushed_lsn: int = 0
    segments: list[SegmentEntry] = msgspec.field(default_factory=list)


def read_manifest(directory: Path) -> Manifest | None:
    """The published manifest, or None for a namespace that has never flushed."""
    path = directory / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        manifest = msgspec.json.decode(data, type=Manifest)
    except msgspec.DecodeError as exc:
        raise Corruption(f"{path}: {exc}") from exc
    if manifest.format_version not in READABLE_VERSIONS:
        raise Corruption(f"{path}: unsupported manifest format {manifest.format_version}")
    return manifest


def write_manifest(directory: Path, manifest: Manifest) -> None:
    manifest.format_version = FORMAT_VERSION
    atomic_write(directory / MANIFEST, msgspec.json.format(msgspec.json.encode(manifest)))
