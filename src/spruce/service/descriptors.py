"""``<data>/indexes/<uid>/INDEX``: each index's catalog row, kept beside its data.

The catalog (SQLite) is the source of truth for indexes while it exists. Every write
of an index row also replaces its descriptor atomically, so that when
``catalog.sqlite3`` is lost the server rebuilds the index rows from them at start
(``rebuild``) instead of starting empty while the data stays on disk. API keys, import
jobs and storage integrations are not kept here and cannot be rebuilt (docs/RELIABILITY.md).

Byte format (docs/FORMAT.md section 10): one header line ``SPRCINDEX 1 <crc32 hex>
<length>`` and then the JSON; a damaged descriptor is reported and skipped, never
guessed at.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from typing import Any

import msgspec

from spruce.catalog import Catalog, IndexRow
from spruce.engine.disk.fsutil import atomic_write

__all__ = ["DESCRIPTOR", "IndexDescriptors"]

log = logging.getLogger(__name__)

DESCRIPTOR = "INDEX"
_MAGIC = b"SPRCINDEX"
_VERSION = 1


class _Descriptor(msgspec.Struct, kw_only=True):
    project_id: str
    project_name: str
    name: str
    uid: str
    state: str
    created_at: float
    spec: dict[str, Any]


def encode(row: IndexRow, project_name: str) -> bytes:
    body = msgspec.json.encode(
        _Descriptor(
            project_id=row.project_id,
            project_name=project_name,
            name=row.name,
            uid=row.uid,
            state=row.state,
            created_at=row.created_at,
            spec=row.spec,
        )
    )
    return b"%s %d %08x %d\n" % (_MAGIC, _VERSION, zlib.crc32(body), len(body)) + body


def decode(data: bytes) -> tuple[IndexRow, str]:
    """The row and its project's name; ValueError if the file is damaged or foreign."""
    head, _, body = data.partition(b"\n")
    parts = head.split(b" ")
    if len(parts) != 4 or parts[0] != _MAGIC or parts[1] != b"%d" % _VERSION:
        raise ValueError("not a version 1 index descriptor")
    if int(parts[3]) != len(body) or int(parts[2], 16) != zlib.crc32(body):
        raise ValueError("CRC-32 or length of the descriptor does not match its header")
    try:
        d = msgspec.json.decode(body, type=_Descriptor)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from exc
    return IndexRow(d.project_id, d.name, d.uid, d.state, d.created_at, d.spec), d.project_name


class IndexDescriptors:
    """The catalog's ``IndexListener``: writes and removes descriptors under ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def saved(self, row: IndexRow, project_name: str) -> None:
        directory = self._root / row.uid
        directory.mkdir(parents=True, exist_ok=True)
        atomic_write(directory / DESCRIPTOR, encode(row, project_name))

    def deleted(self, row: IndexRow) -> None:
        (self._root / row.uid / DESCRIPTOR).unlink(missing_ok=True)

    def backfill(self, catalog: Catalog) -> None:
        """Write the descriptors that are missing (indexes created by older versions)."""
        for row in catalog.list_indexes():
            if not (self._root / row.uid / DESCRIPTOR).exists():
                self.saved(row, catalog.project_name(row.project_id))

    def rebuild(self, catalog: Catalog) -> int:
        """Restore the index rows of a catalog that was lost; returns how many."""
        if not self._root.is_dir():
            return 0
        restored = 0
        for directory in sorted(p for p in self._root.iterdir() if p.is_dir()):
            path = directory / DESCRIPTOR
            try:
                row, project_name = decode(path.read_bytes())
                if row.uid != directory.name:
                    raise ValueError(f"names index {row.uid}, found in {directory.name}")
            except FileNotFoundError:
                if not directory.name.startswith("."):
                    log.error(
                        "catalog rebuild: %s holds index data but no %s; it is not served "
                        "(left as it is)",
                        directory,
                        DESCRIPTOR,
                    )
                continue
            except ValueError as exc:
                log.error("catalog rebuild: %s is damaged (%s); index not restored", path, exc)
                continue
            catalog.restore_index(row, project_name)
            restored += 1
            log.warning(
                "catalog rebuild: restored index %r (project %s, uid %s) from %s",
                row.name,
                row.project_id,
                row.uid,
                path,
            )
        return restored
