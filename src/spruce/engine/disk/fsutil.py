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
    "FileSystem",
    "atomic_write",
    "current",
    "disk_full",
    "full_disk_as_storage_full",
    "fsync_dir",
    "read_file",
    "remove_tree",
    "temp_name",
    "use_filesystem",
    "verify_crc32",
    "write_synced",
    "write_synced_parts",
]


class FileSystem:
    """The engine's file operations, like LevelDB's Env: tests swap in one that fails
    (tests/engine/faultfs.py). The default is the OS, one method call away."""

    def open(self, path: Path, flags: int, mode: int = 0o644) -> int:
        return os.open(path, flags, mode)

    def write(self, fd: int, data: memoryview) -> int:
        return os.write(fd, data)

    def pwrite(self, fd: int, data: memoryview, offset: int) -> int:
        return os.pwrite(fd, data, offset)

    def read(self, fd: int, n: int) -> bytes:
        return os.read(fd, n)

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)

    def close(self, fd: int) -> None:
        os.close(fd)

    def rename(self, src: Path, dst: Path) -> None:
        os.rename(src, dst)

    def replace(self, src: Path, dst: Path) -> None:
        os.replace(src, dst)

    def remove(self, path: Path) -> None:
        os.unlink(path)


_current = FileSystem()


def current() -> FileSystem:
    return _current


@contextlib.contextmanager
def use_filesystem(fs: FileSystem) -> Iterator[FileSystem]:
    """Route the engine's file operations through ``fs`` for the duration (tests)."""
    global _current
    saved, _current = _current, fs
    try:
        yield fs
    finally:
        _current = saved


def read_file(path: Path) -> bytes:
    """The whole file; a short read just means reading on."""
    fs = _current
    fd = fs.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := fs.read(fd, 1 << 20):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        fs.close(fd)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (creations, renames, removals) durable."""
    fs = _current
    fd = fs.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fs.fsync(fd)
    finally:
        fs.close(fd)


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
    fs = _current
    with full_disk_as_storage_full():
        fd = fs.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for part in parts:
                view = memoryview(part).cast("B")
                while view:
                    view = view[fs.write(fd, view) :]
            fs.fsync(fd)
        finally:
            fs.close(fd)


def temp_name(prefix: str) -> str:
    """A fresh dot-file name: readers skip names starting with '.'."""
    return f".{prefix}-{uuid.uuid4().hex}"


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either old or new contents."""
    tmp = path.parent / temp_name("tmp")
    try:
        write_synced(tmp, data)
        _current.replace(tmp, path)
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
