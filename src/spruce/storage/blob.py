"""A bucket, as far as Spruce needs one: get, put, conditional put, list keys, delete.

Conditional writes carry the writer lease (``lease.py``): ``create`` succeeds only if
the key is absent (S3 ``If-None-Match: *``), ``replace`` only if the key still has the
ETag the caller read (``If-Match``). obstore's local filesystem store has no
``If-Match``; for ``file://`` stores ``replace`` takes an exclusive ``flock`` on a
sidecar file and compares ETags itself, which is atomic between processes of one host.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import obstore
from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError
from obstore.store import LocalStore, S3Store

from spruce.errors import InvalidArgument

__all__ = ["BlobStore", "StoreOptions", "open_store"]


@dataclass(frozen=True)
class StoreOptions:
    """Endpoint overrides (emulators); credentials come from the usual AWS variables."""

    s3_endpoint: str | None = None
    s3_region: str = "us-east-1"


class BlobStore:
    """Keys are relative to the store's prefix, ``/``-separated."""

    def __init__(self, store: S3Store | LocalStore, prefix: str, local: Path | None) -> None:
        self._store = store
        self.prefix = prefix.strip("/")
        self._local = local  # the root of a file:// store (for replace's lock)
        self.url = ""

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def child(self, prefix: str) -> BlobStore:
        """The same bucket under ``prefix`` (relative to this one's)."""
        out = BlobStore(self._store, self._key(prefix), self._local)
        out.url = f"{self.url.rstrip('/')}/{prefix.strip('/')}"
        return out

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(obstore.get(self._store, self._key(key)).bytes())
        except (NotFoundError, FileNotFoundError):
            return None

    def get_tagged(self, key: str) -> tuple[bytes, str] | None:
        try:
            result = obstore.get(self._store, self._key(key))
        except (NotFoundError, FileNotFoundError):
            return None
        etag = result.meta.get("e_tag") or ""
        return bytes(result.bytes()), etag

    def put(self, key: str, data: bytes) -> None:
        obstore.put(self._store, self._key(key), data)

    def create(self, key: str, data: bytes) -> str | None:
        """Write ``key`` if it does not exist; its ETag, or None if it existed."""
        try:
            result = obstore.put(self._store, self._key(key), data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return None
        return result["e_tag"] or ""

    def replace(self, key: str, data: bytes, etag: str) -> str | None:
        """Overwrite ``key`` if it still has ``etag``; the new ETag, or None if not."""
        if self._local is None:
            try:
                result = obstore.put(self._store, self._key(key), data, mode={"e_tag": etag})
            except (PreconditionError, NotFoundError):
                return None
            return result["e_tag"] or ""
        lock = self._local / (self._key(key) + ".lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = obstore.head(self._store, self._key(key)).get("e_tag")
            except (NotFoundError, FileNotFoundError):
                return None
            if current != etag:
                return None
            return obstore.put(self._store, self._key(key), data)["e_tag"] or ""
        finally:
            os.close(fd)

    def keys(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (relative to the store's prefix), sorted."""
        base = self._key(prefix)
        cut = len(self.prefix) + 1 if self.prefix else 0
        found = obstore.list(self._store, base or None).collect()
        return sorted(o["path"][cut:] for o in found if not o["path"].endswith(".lock"))

    def children(self, prefix: str = "") -> list[str]:
        """The names one level below ``prefix`` (like directory entries), sorted."""
        base = self._key(prefix).rstrip("/")
        found = obstore.list_with_delimiter(self._store, base or None)
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in found["common_prefixes"])

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            obstore.delete(self._store, self._key(key))


def open_store(url: str, options: StoreOptions | None = None) -> BlobStore:
    """``s3://bucket/prefix`` or ``file:///path``."""
    options = options or StoreOptions()
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise InvalidArgument(f"{url}: no bucket")
        endpoint = options.s3_endpoint
        store: S3Store | LocalStore = S3Store(
            parsed.netloc,
            region=options.s3_region,
            endpoint=endpoint,
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        out = BlobStore(store, parsed.path, None)
    elif parsed.scheme == "file":
        root = Path(parsed.path)
        root.mkdir(parents=True, exist_ok=True)
        out = BlobStore(LocalStore(root), "", root)
    else:
        raise InvalidArgument(f"{url}: object storage must be s3:// or file://")
    out.url = url
    return out
