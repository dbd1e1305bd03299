"""A writer lease on a bucket: at most one holder at a time, taken over once it lapses.

The lease is one small JSON object ``{"holder": ..., "expires": unix seconds}``. It is
taken with a conditional create (absent) or a conditional replace of the ETag read
(lapsed, or already ours), and renewed the same way; a holder whose renewal fails has
lost it and must stop writing. Clocks of the hosts involved should agree to well within
the TTL (NTP), as for any lease.
"""

from __future__ import annotations

import time

import msgspec

from spruce.storage.blob import BlobStore

__all__ = ["Lease"]


class _Body(msgspec.Struct):
    holder: str
    expires: float


class Lease:
    def __init__(self, store: BlobStore, key: str, holder: str, *, ttl: float = 15.0) -> None:
        self.store, self.key, self.holder, self.ttl = store, key, holder, ttl
        self._etag: str | None = None
        self._until = 0.0

    @property
    def held(self) -> bool:
        return self._etag is not None and time.time() < self._until

    def holder_now(self) -> str | None:
        """Who holds it, if anyone does now."""
        found = self.store.get_tagged(self.key)
        if found is None:
            return None
        body = msgspec.json.decode(found[0], type=_Body)
        return body.holder if body.expires > time.time() else None

    def acquire(self) -> bool:
        """Take the lease if it is free, lapsed or ours; renew it if held."""
        if self._etag is not None and self.renew():
            return True
        now = time.time()
        data = msgspec.json.encode(_Body(self.holder, now + self.ttl))
        found = self.store.get_tagged(self.key)
        if found is None:
            etag = self.store.create(self.key, data)
        else:
            current = msgspec.json.decode(found[0], type=_Body)
            if current.holder != self.holder and current.expires > now:
                return False
            etag = self.store.replace(self.key, data, found[1])
        if etag is None:
            return False  # someone else got there first
        self._etag, self._until = etag, now + self.ttl
        return True

    def keep(self) -> bool:
        """Hold it, renewing only when half the TTL is gone (one request per half TTL)."""
        if self.held and self._until - time.time() > self.ttl / 2:
            return True
        return self.acquire()

    def renew(self) -> bool:
        if self._etag is None:
            return False
        now = time.time()
        data = msgspec.json.encode(_Body(self.holder, now + self.ttl))
        etag = self.store.replace(self.key, data, self._etag)
        if etag is None:
            self._etag = None  # taken over: stop writing
            return False
        self._etag, self._until = etag, now + self.ttl
        return True

    def release(self) -> None:
        if self._etag is not None:
            data = msgspec.json.encode(_Body(self.holder, 0.0))
            self.store.replace(self.key, data, self._etag)
            self._etag = None
