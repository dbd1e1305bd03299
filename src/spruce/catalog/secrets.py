"""Storage integration secrets, encrypted at rest (AES-256-GCM).

The key is ``SPRUCE_SECRET_KEY`` (32 bytes, URL-safe base64) when set, else the file
``secret.key`` beside the catalog, created on first use with mode 0600. A stored value
is ``enc:v1:`` + base64(12-byte nonce + ciphertext + tag); the integration's id is the
associated data, so a ciphertext copied onto another row does not decrypt. The format
is in docs/FORMAT.md ("Catalog secrets").
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from spruce.errors import FailedPrecondition, Internal

__all__ = ["KEY_FILE", "PREFIX", "SecretBox"]

KEY_FILE = "secret.key"
PREFIX = "enc:v1:"
_NONCE = 12


def _decode_key(text: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise FailedPrecondition(f"{origin} must be 32 bytes in URL-safe base64")
    return key


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    @classmethod
    def open(cls, directory: Path, env_key: str | None = None) -> SecretBox:
        """The key from ``env_key`` if given, else ``directory/secret.key`` (made if absent)."""
        if env_key:
            return cls(_decode_key(env_key, "SPRUCE_SECRET_KEY"))
        path = directory / KEY_FILE
        try:
            return cls(_decode_key(path.read_text(), KEY_FILE))
        except FileNotFoundError:
            pass
        text = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode() + "\n"
        tmp = directory / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, text.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process wrote first
        except FileExistsError:
            pass
        except OSError:  # no hard links on this filesystem
            if not path.exists():
                os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return cls(_decode_key(path.read_text(), KEY_FILE))

    def seal(self, plaintext: str, row_id: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), row_id.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def unseal(self, stored: str, row_id: str) -> str:
        if not is_sealed(stored):
            return stored  # a row from before encryption, until the migration reaches it
        raw = base64.b64decode(stored[len(PREFIX) :])
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], row_id.encode()).decode()
        except InvalidTag:
            raise Internal(
                "Storage integration credentials cannot be decrypted with this server's "
                "secret key (SPRUCE_SECRET_KEY or secret.key in the data directory)"
            ) from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
