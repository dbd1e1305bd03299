"""``<ns>/NAMESPACE``: what a namespace is given when it is created, for its whole life.

Two things, both fixed at creation (Pinecone's metadata indexing "cannot be changed
after namespace creation"):

- ``incarnation``: a random id. A namespace that is dropped and created again under
  the same name starts over at LSN 0, possibly in a directory with the same inode
  number; a follower (dedicated read replicas) compares incarnations to notice that it
  is following a different namespace now, instead of serving the old one's records.
- ``filterable``: the metadata fields the namespace's schema declares, or None when it
  was created without one (every field can then be filtered on).

The file is written into the namespace's temporary directory before it is renamed into
place, so it exists exactly when the namespace does. Namespaces created before this
file existed have none: no schema, and no incarnation (followers then compare inode
numbers only). Byte format: docs/FORMAT.md section 9.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from pathlib import Path

import msgspec

from spruce.engine.disk.fsutil import write_synced
from spruce.errors import Corruption

__all__ = [
    "NAMESPACE_FILE",
    "NAMESPACE_VERSION",
    "NamespaceFile",
    "new_namespace_file",
    "read_incarnation",
    "read_namespace_file",
    "write_namespace_file",
]

NAMESPACE_FILE = "NAMESPACE"
NAMESPACE_VERSION = 1


class NamespaceFile(msgspec.Struct, kw_only=True):
    format_version: int = NAMESPACE_VERSION
    incarnation: str
    filterable: list[str] | None = None


def new_namespace_file(filterable: Collection[str] | None = None) -> NamespaceFile:
    return NamespaceFile(
        incarnation=uuid.uuid4().hex,
        filterable=None if filterable is None else sorted(filterable),
    )


def write_namespace_file(directory: Path, info: NamespaceFile) -> None:
    """Create the file, fsync'd; the caller fsyncs ``directory`` (it is a temporary one)."""
    write_synced(directory / NAMESPACE_FILE, msgspec.json.encode(info))


def read_namespace_file(directory: Path) -> NamespaceFile | None:
    """The namespace's file, or None if it has none (created before the file existed)."""
    path = directory / NAMESPACE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        info = msgspec.json.decode(data, type=NamespaceFile)
    except msgspec.DecodeError as exc:
        raise Corruption(f"{NAMESPACE_FILE} of a namespace: {exc}") from exc
    if info.format_version != NAMESPACE_VERSION:
        raise Corruption(f"{NAMESPACE_FILE}: unsupported format {info.format_version}")
    return info


def read_incarnation(directory: Path) -> str | None:
    """The incarnation id, or None without a file (or without the directory)."""
    try:
        info = read_namespace_file(directory)
    except (Corruption, NotADirectoryError):
        return None
    return None if info is None else info.incarnation
