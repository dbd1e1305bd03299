"""TLS contexts for every socket Spruce serves or dials (docs/TLS.md).

The server, its index ports and its read replicas all present one certificate
(``--tls-cert``/``--tls-key``). Index ports offer ALPN ``http/1.1`` and ``h2``:
gRPC clients require ``h2`` to be selected, REST clients get ``http/1.1``, and
the decrypted bytes are sorted the same way as plaintext ones.

Replicas the server starts itself present the server's own certificate, and the
server accepts exactly that certificate from them (``PinnedHTTPSConnection``):
it need not name the loopback address they listen on, nor be signed by a CA the
server trusts. Replicas on other hosts, and replicas joining a server, verify
the usual way, against ``--tls-ca`` or the system's roots.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INDEX_ALPN",
    "ClientTLS",
    "PinnedHTTPSConnection",
    "ServerTLS",
    "certificate_der",
    "is_loopback",
]

#: What an index port offers, in the server's order of preference: gRPC clients offer
#: only h2 and get it; a client offering both (curl, browsers) gets HTTP/1.1, which
#: the REST server speaks (it has no HTTP/2).
INDEX_ALPN = ("http/1.1", "h2")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the port on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name, "0.0.0.0", "::" and "" all reach other machines


def certificate_der(cert_file: Path) -> bytes:
    """The DER of the first (leaf) certificate in a PEM file."""
    text = cert_file.read_text()
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        raise ValueError(f"{cert_file} holds no PEM certificate")
    return ssl.PEM_cert_to_DER_cert(text[begin : end + len("-----END CERTIFICATE-----")])


@dataclass(frozen=True)
class ServerTLS:
    """The certificate and key every port of this server presents."""

    cert: Path
    key: Path

    def context(self, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.cert, self.key)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx

    def pin(self) -> bytes:
        """SHA-256 of the leaf certificate: what replicas started by this server show."""
        return hashlib.sha256(certificate_der(self.cert)).digest()


@dataclass(frozen=True)
class ClientTLS:
    """How a client of a replica or of the server checks the peer.

    ``pin``: accept exactly the certificate with this SHA-256 (the server's own, for
    the replicas it started). Otherwise verify the chain and host name against
    ``ca`` (a PEM bundle), or the system's roots when it is None.
    """

    ca: Path | None = None
    pin: bytes | None = None

    def context(self) -> ssl.SSLContext:
        if self.pin is not None:
            # The pin is checked after the handshake (which proves the peer holds the
            # certificate's key), so chain and name checks would only add failures.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=None if self.ca is None else str(self.ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def connection(self, host: str, port: int, timeout: float) -> http.client.HTTPSConnection:
        return PinnedHTTPSConnection(host, port, timeout=timeout, tls=self)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that, with ``tls.pin`` set, refuses any other certificate."""

    def __init__(self, host: str, port: int, *, timeout: float, tls: ClientTLS) -> None:
        super().__init__(host, port, timeout=timeout, context=tls.context())
        self._pin = tls.pin

    def connect(self) -> None:
        super().connect()
        if self._pin is None:
            return
        assert isinstance(self.sock, ssl.SSLSocket)
        der = self.sock.getpeercert(binary_form=True) or b""
        if not hmac.compare_digest(hashlib.sha256(der).digest(), self._pin):
            self.sock.close()
            raise ssl.SSLCertVerificationError(
                f"{self.host}:{self.port} presented a certificate other than this server's"
            )
