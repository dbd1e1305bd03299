"""All namespaces of one index, one directory each under the index root.

Namespace names are arbitrary unicode, so they are encoded into directory names
(``encode_name``; rules in docs/FORMAT.md). Namespaces are opened on first ``get`` and
then cached; listing them is one directory scan, so an index with 100,000 namespaces
costs nothing until a namespace is used. At most ``max_open`` stay open: beyond that the
least recently used are closed once idle (a tenant that wrote once does not hold memory
for the life of the server). Their record counts come from each closed
namespace's ``COUNT`` file (``count``), so listing them with counts opens none either.

A namespace directory is built under a temporary dot-name and renamed into place, so it
either exists complete or not at all; dropping renames it away first for the same reason.

Over 400 lines on purpose: one lock guards the open set, creation, adoption and drops,
and the rules that need it read best beside each other.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from spruce.engine.disk.countfile import read_count
from spruce.engine.disk.fsutil import (
    fsync_dir,
    full_disk_as_storage_full,
    remove_tree,
    temp_name,
    write_synced,
)
from spruce.engine.disk.nsfile import new_namespace_file, read_namespace_file, write_namespace_file
from spruce.engine.disk.recovery import Layout
from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Metric, Namespace
from spruce.errors import Corruption, InvalidArgument

T = TypeVar("T")
log = logging.getLogger(__name__)

__all__ = ["IndexStore", "decode_name", "encode_name"]

_RETRY_DAMAGED_S = 30.0
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")
_PREFIX = "ns-"
_HASHED_PREFIX = "nh-"
# Encoded names longer than this become a hash, keeping under the 255-byte name limit.
_MAX_ENCODED = 200
NAME_FILE = "NAME"


def encode_name(name: str) -> str:
    """The directory name for a namespace.

    ``ns-`` + the UTF-8 bytes with ``[a-z0-9_-]`` kept and every other byte as ``%XX``
    (upper-case hex). Upper-case letters are escaped too, so names that differ only in
    case stay distinct on case-insensitive filesystems. Too-long results become
    ``nh-`` + SHA-256 hex of the UTF-8 name, with the name itself in ``<dir>/NAME``.
    """
    try:
        raw = name.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgument("namespace name is not valid unicode") from exc
    encoded = "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in raw)
    if len(encoded) > _MAX_ENCODED:
        return _HASHED_PREFIX + hashlib.sha256(raw).hexdigest()
    return _PREFIX + encoded


def decode_name(directory: str) -> str | None:
    """The namespace name for an ``ns-`` directory, or None if it is not one."""
    if not directory.startswith(_PREFIX):
        return None
    encoded = directory[len(_PREFIX) :]
    out = bytearray()
    i = 0
    while i < len(encoded):
        ch = encoded[i]
        if ch == "%":
            hex_digits = encoded[i + 1 : i + 3]
            if len(hex_digits) != 2 or hex_digits.upper() != hex_digits:
                return None
            try:
                out.append(int(hex_digits, 16))
            except ValueError:
                return None
            i += 3
        elif ch in _SAFE:
            out.append(ord(ch))
            i += 1
        else:
            return None
    try:
        name = out.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if encode_name(name) == directory else None


class IndexStore:
    """All namespaces of one index under ``root/<encoded-namespace>/``, opened lazily, cached."""

    def __init__(
        self,
        root: Path,
        *,
        dimension: int | None,
        metric: Metric,
        flush_rows: int = 20_000,
        options: EngineOptions | None = None,
        max_open: int = 10_000,
        evict_idle_s: float = 300.0,
    ) -> None:
        self.root = root
        self.dimension = dimension
        self.metric: Metric = metric
        self.flush_rows = flush_rows
        self.options = options
        self._lock = threading.Lock()
        # Open namespaces, least recently used first, with when each was last handed out.
        self._open: OrderedDict[str, Namespace] = OrderedDict()
        self._used: dict[str, float] = {}
        # Each namespace's schema (nsfile.py) once read: it never changes while it exists.
        self._filterable: dict[str, frozenset[str] | None] = {}
        self._max_open = max_open
        # Only a namespace unused this long is closed: whoever got it from ``get`` last
        # is done with it (requests hold one for milliseconds).
        self._evict_idle_s = evict_idle_s
        # Namespaces found damaged, with when: each open verifies every byte (seconds at
        # a million rows) under the store lock, so a damaged one is not retried on
        # every request, only after ``_RETRY_DAMAGED_S`` (time to repair it by hand).
        self._damaged: dict[str, tuple[float, Corruption]] = {}
        if not root.is_dir():
            # exist_ok: the control plane creates the directory on its own thread too.
            root.mkdir(parents=True, exist_ok=True)
            fsync_dir(root.parent)
        # Leftovers of a create or drop that a crash interrupted.
        for entry in os.scandir(root):
            if entry.name.startswith(".tmp-") or entry.name.startswith(".trash-"):
                remove_tree(Path(entry.path))

    def _dir(self, namespace: str) -> Path:
        return self.root / encode_name(namespace)

    def get(self, namespace: str, *, create: bool) -> Namespace | None:
        with self._lock:
            ns = self._open.get(namespace)
            if ns is not None and not ns.failed:
                self._open.move_to_end(namespace)
                self._used[namespace] = time.monotonic()
                return ns
            path = self._dir(namespace)
            if not path.is_dir():
                if not create:
                    return None
                self._create(namespace, path)
            elif path.name.startswith(_HASHED_PREFIX):
                stored = (path / NAME_FILE).read_bytes().decode("utf-8", "replace")
                if stored != namespace:
                    raise Corruption(f"{path}: holds namespace {stored!r}, not {namespace!r}")
            damaged = self._damaged.get(namespace)
            if damaged is not None and time.monotonic() - damaged[0] < _RETRY_DAMAGED_S:
                raise damaged[1]
            try:
                ns = self._open_namespace(path)
            except Corruption as exc:
                self._damaged[namespace] = (time.monotonic(), exc)
                raise
            self._damaged.pop(namespace, None)
            self._open[namespace] = ns
            self._open.move_to_end(namespace)
            self._used[namespace] = time.monotonic()
            self._evict_locked()
            return ns

    def _open_namespace(self, path: Path) -> Namespace:
        return Namespace.open(
            path,
            dimension=self.dimension,
            metric=self.metric,
            flush_rows=self.flush_rows,
            options=self.options,
        )

    def _evict_locked(self) -> None:
        """Close least recently used namespaces while more than ``max_open`` are open and
        the oldest has been idle for ``evict_idle_s``; the caller holds the store lock.
        Closing leaves each one's ``COUNT`` file, so listing them stays cheap."""
        now = time.monotonic()
        while len(self._open) > self._max_open:
            name, ns = next(iter(self._open.items()))
            if now - self._used.get(name, now) < self._evict_idle_s:
                return  # every other open namespace was used more recently still
            del self._open[name]
            self._used.pop(name, None)
            ns.close()

    @property
    def open_count(self) -> int:
        return len(self._open)

    def open_namespaces(self) -> list[tuple[str, Namespace]]:
        """The namespaces open now (for metrics: looking opens none)."""
        with self._lock:
            return [(name, ns) for name, ns in self._open.items() if not ns.failed]

    def damaged(self) -> dict[str, str]:
        """Namespaces whose last open found damage, with what (for ``/ready``)."""
        with self._lock:
            return {name: exc.message for name, (_, exc) in self._damaged.items()}

    def create(self, namespace: str, *, filterable: Sequence[str] | None = None) -> bool:
        """Create an empty namespace whose schema indexes only ``filterable`` (None: every
        field); False, changing nothing, if it exists already."""
        with self._lock:
            path = self._dir(namespace)
            if path.is_dir():
                return False
            self._create(namespace, path, filterable)
            return True

    def filterable(self, namespace: str) -> frozenset[str] | None:
        """The metadata fields the namespace's schema indexes for filtering; None when it
        has no schema (every field is) or does not exist."""
        with self._lock:
            if namespace in self._filterable:
                return self._filterable[namespace]
            info = read_namespace_file(self._dir(namespace))
            fields = None if info is None or info.filterable is None else frozenset(info.filterable)
            if info is not None:  # a namespace not created yet is not remembered
                self._filterable[namespace] = fields
            return fields

    def _create(self, namespace: str, path: Path, filterable: Sequence[str] | None = None) -> None:
        tmp = self._stage(namespace, path, filterable)
        try:
            with full_disk_as_storage_full():
                # Opening writes the initial manifest and WAL file inside the temporary dir.
                Namespace.open(tmp, dimension=self.dimension, metric=self.metric).close()
            self._publish_staged(tmp, path)
        except BaseException:
            remove_tree(tmp)
            raise

    def _stage(self, namespace: str, path: Path, filterable: Sequence[str] | None) -> Path:
        """A new namespace's directory under a temporary name (removed at the next start
        if a crash leaves it): its NAME and NAMESPACE files, not yet reachable."""
        tmp = self.root / temp_name("tmp")
        try:
            with full_disk_as_storage_full():  # undone below: nothing was written
                Layout(tmp).ensure()
                if path.name.startswith(_HASHED_PREFIX):
                    write_synced(tmp / NAME_FILE, namespace.encode("utf-8"))
                write_namespace_file(tmp, new_namespace_file(filterable))
        except BaseException:
            remove_tree(tmp)
            raise
        return tmp

    def _publish_staged(self, tmp: Path, path: Path) -> None:
        with full_disk_as_storage_full():
            fsync_dir(tmp)
            os.rename(tmp, path)
        fsync_dir(self.root)

    def create_with(self, namespace: str, write: Callable[[Namespace], T]) -> T:
        """Apply ``write`` to the namespace, creating it if needed so that it appears only
        with its first acknowledged write: the new namespace is built and written under a
        temporary name, and renamed into place once ``write`` returned."""
        with self._lock:
            path = self._dir(namespace)
            if not path.is_dir():
                tmp = self._stage(namespace, path, None)
                try:
                    staged = self._open_namespace(tmp)
                    try:
                        result = write(staged)
                    finally:
                        staged.close()  # reopened from its final path on the next use
                    self._publish_staged(tmp, path)
                except BaseException:
                    remove_tree(tmp)
                    raise
                return result
        ns = self.get(namespace, create=True)
        assert ns is not None
        return write(ns)

    def names(self) -> list[str]:
        out: list[str] = []
        for entry in os.scandir(self.root):
            name = decode_name(entry.name)
            if name is None and entry.name.startswith(_HASHED_PREFIX):
                try:
                    name = (Path(entry.path) / NAME_FILE).read_bytes().decode("utf-8")
                except OSError:
                    name = None
                except UnicodeDecodeError:
                    name = ""  # cannot hash to the directory name: reported below
                # The directory is named by the SHA-256 of the name: that checks NAME.
                if name is not None and encode_name(name) != entry.name:
                    log.error("%s: NAME does not hash to the directory name", entry.path)
                    name = None
            if name is not None and entry.is_dir():
                out.append(name)
        return sorted(out)

    def drop(self, namespace: str) -> bool:
        with self._lock:
            ns = self._open.pop(namespace, None)
            self._used.pop(namespace, None)
            self._filterable.pop(namespace, None)
            self._damaged.pop(namespace, None)
            if ns is not None:
                ns.close()
            path = self._dir(namespace)
            if not path.is_dir():
                return False
            # Renamed away first: the namespace stops existing atomically, even if the
            # recursive delete below is interrupted.
            trash = self.root / temp_name("trash")
            os.rename(path, trash)
            fsync_dir(self.root)
            remove_tree(trash)
            return True

    def adopt(
        self, built: Mapping[str, Path], *, replace_if_empty: Collection[str] = ()
    ) -> str | None:
        """Publish namespace directories built elsewhere (``engine.bulk``), all or none.

        Returns the name of a namespace that already exists, having moved nothing, or
        None once every directory is renamed into place. A namespace in
        ``replace_if_empty`` that exists but holds no records is replaced rather than
        counted as existing. Each built directory must be on this index's filesystem.
        Holding the store lock keeps concurrent creates out until all are in place.
        """
        trash: list[Path] = []
        with self._lock:
            replace: list[str] = []
            for name in built:
                if not self._dir(name).is_dir():
                    continue
                if name not in replace_if_empty or self._count_locked(name) != 0:
                    return name
                replace.append(name)
            for name in replace:
                ns = self._open.pop(name, None)
                self._used.pop(name, None)
                self._filterable.pop(name, None)
                if ns is not None:
                    ns.close()
                trash.append(self.root / temp_name("trash"))
                os.rename(self._dir(name), trash[-1])
            for name, source in built.items():
                self._damaged.pop(name, None)
                target = self._dir(name)
                if target.name.startswith(_HASHED_PREFIX):
                    write_synced(source / NAME_FILE, name.encode("utf-8"))
                write_namespace_file(source, new_namespace_file())
                fsync_dir(source)
                os.rename(source, target)
            fsync_dir(self.root)
        for path in trash:
            remove_tree(path)
        return None

    def count(self, namespace: str) -> int | None:
        """Live records in ``namespace`` (None if it does not exist), exact like
        ``Namespace.count``, without opening a namespace that is not open already.

        An open namespace counts itself. A closed one answers from the ``COUNT`` file its
        last clean close left (engine/disk/countfile.py) while that is still exact, so listing
        100,000 namespaces with their counts opens none of them. Otherwise (a crash, or
        data from before COUNT files) it is opened, counted and closed again, which
        writes the file for next time; keeping it open instead would leave every
        namespace of the index in memory after one listing.
        """
        with self._lock:
            return self._count_locked(namespace)

    def _count_locked(self, name: str) -> int | None:
        """``count``; the caller holds the store lock, so nothing opens the namespace
        meanwhile."""
        ns = self._open.get(name)
        if ns is not None and not ns.failed:
            return ns.count()
        path = self._dir(name)
        if ns is None:
            # Tried first: it is the common case, and a present COUNT proves the
            # directory exists without another stat.
            persisted = read_count(path)
            if persisted is not None:
                return persisted
        if not path.is_dir():
            return None
        ns = self._open_namespace(path)
        try:
            return ns.count()
        finally:
            ns.close()

    def close(self) -> None:
        with self._lock:
            for ns in self._open.values():
                ns.close()
            self._open.clear()
            self._used.clear()
