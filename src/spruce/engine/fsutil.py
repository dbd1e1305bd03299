"""Small durable-filesystem helpers shared by the WAL, segments and manifest.

Every file the engine publishes is written completely, fsync'd, and only then made
reachable (by a rename, or by a manifest that names it); the directory holding the
new name is fsync'd too, or a crash could forget the name while keeping the data.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import shutil
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

from spruce.errors import Corruption, StorageFull

__all__ = [
    "atomic_write",
    "disk_full",
    "full_disk_as_storage_full",
    "fsync_dir",
    "remove_tree",
    "temp_name",
    "verify_crc32",
    "write_synced",
    "write_synced_parts",
]


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (creations, renames, removals) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(exc: BaseException) -> bool:
    """Did ``exc`` come from a full disk (or an exhausted quota)?"""
    return isinstance(exc, StorageFull) or (isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS)


@contextlib.contextmanager
def full_disk_as_storage_full() -> Iterator[None]:
    """Turn ENOSPC/EDQUOT into ``StorageFull``; the caller undoes the step it guards."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            raise StorageFull() from exc
        raise


def write_synced(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` and fsync it (the caller fsyncs the directory).
    A full disk raises ``StorageFull``; the caller removes the partial file."""
    write_synced_parts(path, [data])


def write_synced_parts(path: Path, parts: list[bytes | memoryview]) -> None:
    """``write_synced`` of the concatenation, without building it in memory."""
    with full_disk_as_storage_full():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)


def temp_name(prefix: str) -> str:
    """A fresh dot-file name: readers skip names starting with '.'."""
    return f".{prefix}-{uuid.uuid4().hex}"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either old or new contents."""
    tmp = path.parent / temp_name("tmp")
    try:
        write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_tree(path: Path) -> None:
    """Remove a file or directory tree if present."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=False)
    else:
        path.unlink(missing_ok=True)


def verify_crc32(path: Path, expected: int | None) -> None:
    """Check the CRC-32 of the whole file, reading it through a mapping so that the
    pages verified are the ones a later ``mmap`` of the file serves (no copy in memory).
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            crc = 0
        else:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                mapped.madvise(mmap.MADV_SEQUENTIAL)
                crc = zlib.crc32(mapped)
    if expected is None or crc != expected:
        want = "none" if expected is None else f"{expected:08x}"
        raise Corruption(f"{path}: CRC-32 {crc:08x} does not match the manifest's {want}")
