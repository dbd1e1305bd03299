"""Bearer tokens for the admin API: what ``POST /oauth/token`` trades credentials for.

A token is ``spt1.`` + base64url(JSON ``{"sub": client_id, "exp": unix seconds}``) +
``.`` + base64url(HMAC-SHA256 over the two parts before it). The HMAC key is 32 random
bytes in ``admin-token.key`` beside the catalog (mode 0600, made on first start), so
tokens survive a restart and nothing else can mint them. Pinecone's are JWTs from its
login service; the SDK treats them as opaque strings, and so may every client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

import orjson

__all__ = ["KEY_FILE", "TOKEN_SECONDS", "TokenSigner"]

KEY_FILE = "admin-token.key"
#: Pinecone's tokens last 30 minutes; the SDK renews them 5 minutes ahead.
TOKEN_SECONDS = 1800
_PREFIX = "spt1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _load_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    try:  # O_EXCL: of two first starts, one writes the key and both read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as out:
        out.write(key)
        out.flush()
        os.fsync(out.fileno())
    return key


class TokenSigner:
    def __init__(self, data_dir: Path) -> None:
        self._key = _load_key(data_dir / KEY_FILE)

    def _mac(self, signed: str) -> str:
        return _b64(hmac.new(self._key, signed.encode(), hashlib.sha256).digest())

    def mint(self, client_id: str, seconds: int = TOKEN_SECONDS) -> str:
        claims = _b64(orjson.dumps({"sub": client_id, "exp": int(time.time()) + seconds}))
        signed = f"{_PREFIX}.{claims}"
        return f"{signed}.{self._mac(signed)}"

    def subject(self, token: str) -> str | None:
        """The token's client id, if the token is ours, intact and not expired."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        signed = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._mac(signed), parts[2]):
            return None
        try:
            claims = orjson.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
            return None
        expires = claims.get("exp")
        if not isinstance(expires, int) or expires <= time.time():
            return None
        return str(claims["sub"])
