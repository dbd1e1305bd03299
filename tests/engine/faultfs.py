"""A FileSystem (engine/disk/fsutil.py) that fails one chosen call, as LevelDB's fault Env
and SQLite's ioerr tests do: write, fsync, rename/replace fail with EIO (a write first
writes half of what it was given: a torn write), and a read returns a short count."""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from types import FrameType

from spruce.engine.disk.fsutil import FileSystem

__all__ = ["INJECTED", "POINTS", "FaultFS"]

#: Distinct injection points hit by any FaultFS in this process: (operation, call site).
POINTS: set[tuple[str, str]] = set()
#: Faults injected in this process (every FaultFS together).
INJECTED = [0]

FAULTY = ("write", "pwrite", "fsync", "rename", "replace", "read")


def _name(frame: FrameType) -> str:
    return f"{Path(frame.f_code.co_filename).stem}.{frame.f_code.co_name}"


def _site(frame: FrameType) -> str:
    """The engine code that made the call: the fsutil helper, and who called it."""
    here = _name(frame)
    outer: FrameType | None = frame
    while outer is not None and Path(outer.f_code.co_filename).stem == "fsutil":
        outer = outer.f_back
    if outer is None or outer is frame:
        return here
    return f"{_name(outer)} > {here}"


class FaultFS(FileSystem):
    def __init__(self, fail_at: int | None = None, *, errno_: int = errno.EIO) -> None:
        self.fail_at = fail_at  # the 0-based number of the call (over FAULTY ops) to fail
        self.calls = 0
        self.injected: tuple[str, str] | None = None
        self._errno = errno_

    def _tick(self, op: str) -> bool:
        """Count the call; True if this is the one to fail."""
        site = _site(sys._getframe(2))
        n, self.calls = self.calls, self.calls + 1
        if n != self.fail_at:
            return False
        self.injected = (op, site)
        POINTS.add(self.injected)
        INJECTED[0] += 1
        return True

    def _error(self) -> OSError:
        return OSError(self._errno, os.strerror(self._errno))

    def write(self, fd: int, data: memoryview) -> int:
        if self._tick("write"):
            if len(data) > 1:
                os.write(fd, data[: len(data) // 2])
            raise self._error()
        return os.write(fd, data)

    def pwrite(self, fd: int, data: memoryview, offset: int) -> int:
        if self._tick("pwrite"):
            if len(data) > 1:
                os.pwrite(fd, data[: len(data) // 2], offset)
            raise self._error()
        return os.pwrite(fd, data, offset)

    def read(self, fd: int, n: int) -> bytes:
        if self._tick("read"):
            return os.read(fd, max(1, n // 7))  # short, not an error: callers read on
        return os.read(fd, n)

    def fsync(self, fd: int) -> None:
        if self._tick("fsync"):
            raise self._error()
        os.fsync(fd)

    def rename(self, src: Path, dst: Path) -> None:
        if self._tick("rename"):
            raise self._error()
        os.rename(src, dst)

    def replace(self, src: Path, dst: Path) -> None:
        if self._tick("replace"):
            raise self._error()
        os.replace(src, dst)
