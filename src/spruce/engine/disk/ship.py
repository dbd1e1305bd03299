"""Shipping a namespace to object storage, and mirroring it back on another host.

The bucket holds the namespace directory's files under the same names, so a mirror is
an ordinary namespace directory a ``Follower`` can follow (docs/FORMAT.md):

```
<prefix>/manifest/MANIFEST                  the published manifest, uploaded last
<prefix>/segments/<name>/<file>             the files a manifest names (immutable)
<prefix>/wal/<file>.wal/<offset, 20 digits> WAL bytes from that offset: whole frames
<prefix>/LEASE                              the writer's lease (storage/lease.py)
```

``Publisher.publish`` uploads what changed since its last pass: the segment files the
manifest names, then the manifest, then each WAL file's new complete frames as a chunk
object (a WAL file is the concatenation of its chunks). Files no longer named are
removed after the new manifest is up. ``Mirror.sync`` does the reverse into a local
directory: segment files first, then the manifest, then WAL chunks appended in order;
WAL files the manifest wholly covers are removed. A reader that finds a file gone in
between starts over, exactly as it does against a local writer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from spruce.engine.disk.fsutil import atomic_write
from spruce.engine.disk.manifest import MANIFEST, Manifest, decode_manifest
from spruce.engine.disk.recovery import Layout, wal_files
from spruce.engine.disk.segment import RECORDS, VECTORS, SegmentEntry
from spruce.engine.read.ann import ANN_FILE
from spruce.engine.read.sparse_index import SPARSE_INDEX
from spruce.engine.write.ops import decode_op
from spruce.engine.write.wal import HEADER, scan_frames
from spruce.storage import BlobStore

__all__ = ["IndexMirror", "Mirror", "Publisher"]

_MANIFEST_KEY = f"manifest/{MANIFEST}"


def _named(entry: SegmentEntry) -> list[str]:
    names = [RECORDS]
    if entry.vectors_bytes is not None:
        names.append(VECTORS)
    if entry.ann is not None:
        names.append(entry.ann)
    if entry.deletes is not None:
        names.append(entry.deletes)
    return names


class Publisher:
    """Uploads one namespace directory's published state; one pass per ``publish``."""

    def __init__(self, directory: Path, store: BlobStore) -> None:
        self._layout = Layout(directory)
        self._store = store
        self._uploaded: set[str] = set()
        self._manifest: bytes | None = None
        self._wal: dict[str, int] = {}  # local WAL file -> bytes shipped
        self.lsn = 0  # every op up to this LSN is in the bucket

    def publish(self) -> int:
        """Upload what changed; returns the LSN up to which the bucket now has every op."""
        for _ in range(5):  # a flush published meanwhile: go again, it named new files
            data = self._publish()
            try:
                if (self._layout.manifest / MANIFEST).read_bytes() == data:
                    break
            except FileNotFoundError:
                break
        return self.lsn

    def _publish(self) -> bytes | None:
        layout = self._layout
        try:
            data = (layout.manifest / MANIFEST).read_bytes()
            manifest = decode_manifest(data, _MANIFEST_KEY)
            for entry in manifest.segments:
                directory = layout.segments / entry.name
                names = _named(entry)
                if (directory / SPARSE_INDEX).exists():
                    names.append(SPARSE_INDEX)  # derived, written with the segment
                for name in names:
                    key = f"segments/{entry.name}/{name}"
                    if key not in self._uploaded:
                        self._store.put(key, (directory / name).read_bytes())
                        self._uploaded.add(key)
        except FileNotFoundError:
            return None  # a flush or compaction replaced files: go again
        changed = data != self._manifest
        if changed:
            self._store.put(_MANIFEST_KEY, data)
            self._manifest = data
        lsn = max(self.lsn, manifest.flushed_lsn)
        local = wal_files(layout)
        for path in local:
            pos = self._wal.get(path.name, 0)
            try:
                with open(path, "rb") as f:
                    f.seek(pos)
                    chunk = f.read()
            except FileNotFoundError:
                continue
            start = 0
            if pos == 0:
                if len(chunk) < len(HEADER):
                    break
                start = len(HEADER)
            payloads, end = scan_frames(chunk, start, str(path))
            if end > 0 and (payloads or pos == 0):
                self._store.put(f"wal/{path.name}/{pos:020d}", chunk[:end])
                self._wal[path.name] = pos + end
            if payloads:
                lsn = max(lsn, decode_op(payloads[-1]).lsn)
        if changed:
            self._collect(manifest, {p.name for p in local})
        self.lsn = lsn
        return data

    def _collect(self, manifest: Manifest, wal_names: set[str]) -> None:
        """Remove what the uploaded manifest no longer names (and WAL files gone here)."""
        keep = {f"segments/{e.name}/{n}" for e in manifest.segments for n in _named(e)}
        keep |= {f"segments/{e.name}/{SPARSE_INDEX}" for e in manifest.segments}
        for key in self._store.keys("segments/"):
            if key not in keep:
                self._store.delete(key)
                self._uploaded.discard(key)
        for key in self._store.keys("wal/"):
            if key.split("/")[1] not in wal_names:
                self._store.delete(key)
        self._wal = {k: v for k, v in self._wal.items() if k in wal_names}


class Mirror:
    """A local copy of a published namespace, for a ``Follower`` to follow."""

    def __init__(self, store: BlobStore, directory: Path) -> None:
        self._store = store
        self._layout = Layout(directory)
        self._manifest: bytes | None = None

    def sync(self) -> bool:
        """Bring the copy up to date with the bucket; False if nothing is published."""
        data = self._store.get(_MANIFEST_KEY)
        if data is None:
            return False
        layout = self._layout
        layout.ensure()
        manifest = decode_manifest(data, _MANIFEST_KEY)
        if data != self._manifest:
            for entry in manifest.segments:
                directory = layout.segments / entry.name
                names = _named(entry)
                if f"segments/{entry.name}/{SPARSE_INDEX}" in self._store.keys(
                    f"segments/{entry.name}/"
                ):
                    names.append(SPARSE_INDEX)
                for name in names:
                    if not (directory / name).exists():
                        blob = self._store.get(f"segments/{entry.name}/{name}")
                        if blob is None:
                            return True  # replaced meanwhile: the next sync sees why
                        directory.mkdir(parents=True, exist_ok=True)
                        atomic_write(directory / name, blob)
            atomic_write(layout.manifest / MANIFEST, data)
            self._manifest = data
            named = {e.name: set(_named(e)) | {SPARSE_INDEX} for e in manifest.segments}
            for directory in layout.segments.iterdir():
                if directory.name not in named:
                    shutil.rmtree(directory, ignore_errors=True)
                    continue
                for file in directory.iterdir():
                    if file.name not in named[directory.name] and file.name != ANN_FILE:
                        file.unlink(missing_ok=True)
        self._sync_wal(manifest.flushed_lsn)
        return True

    def _sync_wal(self, flushed: int) -> None:
        chunks: dict[str, list[int]] = {}
        for key in self._store.keys("wal/"):
            _, name, at = key.split("/")
            chunks.setdefault(name, []).append(int(at))
        for name in sorted(chunks):
            path = self._layout.wal / name
            size = path.stat().st_size if path.exists() else 0
            for offset in sorted(chunks[name]):
                if offset < size:
                    continue
                if offset > size:
                    break  # not contiguous yet
                blob = self._store.get(f"wal/{name}/{offset:020d}")
                if blob is None:
                    break  # removed meanwhile: a newer manifest covers it
                with open(path, "ab") as f:
                    f.write(blob)
                size += len(blob)
        # A WAL file is wholly covered once a later one starts at or before flushed + 1.
        names = sorted({p.name for p in wal_files(self._layout)} | set(chunks))
        starts = [int(n.split(".")[0]) for n in names]
        for i, name in enumerate(names[:-1]):
            if starts[i + 1] <= flushed + 1:
                (self._layout.wal / name).unlink(missing_ok=True)


class IndexMirror:
    """Mirrors of every namespace an index has published under ``store``."""

    def __init__(self, store: BlobStore, root: Path) -> None:
        self._store = store
        self.root = root
        self._mirrors: dict[str, Mirror] = {}

    def sync(self) -> None:
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        for name in self._store.children(""):
            if name.startswith(("ns-", "nh-")):
                mirror = self._mirrors.get(name)
                if mirror is None:
                    mirror = self._mirrors[name] = Mirror(self._store.child(name), root / name)
                mirror.sync()
        for entry in os.listdir(root):
            if entry.startswith(("ns-", "nh-")) and entry not in self._mirrors:
                shutil.rmtree(root / entry, ignore_errors=True)
