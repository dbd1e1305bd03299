"""One TCP port per index, serving both protocols of its host.

The SDK's gRPC client keeps only ``host:port`` of the host ``describe_index``
returns (the path is dropped, ``:path`` is always ``/VectorService/<Method>``),
so the port itself must name the index. The REST client dials the same host
and keeps its ``/data/{project}/{index}`` path. Each index therefore gets a
listening socket whose connections are sorted by their first bytes:

* ``PRI * HTTP/2.0`` (the HTTP/2 preface, gRPC's h2c) is piped to the private
  gRPC server; the pipe's local port is recorded so the servicer can ``locate``
  the index from the call's peer address.
* anything else is handed, socket and all, to the REST server's own protocol
  (uvicorn's): no copy, no second hop.

With TLS (docs/TLS.md) the port terminates it first, offering ALPN ``http/1.1``
and ``h2`` (gRPC clients offer only ``h2``), and sorts the decrypted bytes the
same way; the pipe to the private gRPC server stays plaintext on loopback.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from spruce.catalog import IndexRow
from spruce.errors import Unavailable

__all__ = ["IndexPorts"]

log = logging.getLogger(__name__)

_PREFACE = b"PRI"  # enough of "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": no HTTP/1 method starts so
_TLS = b"\x16\x03"  # a TLS ClientHello: the SDK's default grpc_scheme is https


@dataclass(eq=False)
class _Listener:
    sock: socket.socket
    port: int
    project: str
    name: str
    server: asyncio.AbstractServer | None = None
    serving: bool = False
    closed: bool = False
    warned_tls: bool = False


class IndexPorts:
    """Implements ``service.endpoints.Endpoints``; ``start`` runs on the REST loop."""

    def __init__(
        self,
        host: str,
        first_port: int,
        *,
        reserved: set[int] | None = None,
        tries: int = 1000,
        first_bytes_timeout: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._host = host
        #: Set: every port serves TLS only (a plaintext client fails its handshake).
        self.tls = tls
        #: A connection that sends nothing for this long is closed before it is sorted.
        self.first_bytes_timeout = first_bytes_timeout
        self._first = first_port
        self._reserved = reserved or set()
        self._tries = tries
        self._lock = threading.Lock()
        self._by_uid: dict[str, _Listener] = {}
        self._pipes: dict[int, tuple[str, str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._rest: Callable[[], asyncio.BaseProtocol] | None = None
        self._grpc_port = 0

    # -- Endpoints (any thread) ------------------------------------------------

    def open(self, row: IndexRow) -> int:
        with self._lock:
            found = self._by_uid.get(row.uid)
            if found is not None:
                return found.port
            sock = self._bind(row.spec.get("port"))
            listener = _Listener(sock, sock.getsockname()[1], row.project_id, row.name)
            self._by_uid[row.uid] = listener
            loop = self._loop
        if loop is not None:
            asyncio.run_coroutine_threadsafe(self._serve(listener), loop)
        return listener.port

    def close(self, row: IndexRow) -> None:
        with self._lock:
            listener = self._by_uid.pop(row.uid, None)
            loop = self._loop
        if listener is None:
            return
        if loop is None:
            listener.closed = True
            listener.sock.close()
        else:
            loop.call_soon_threadsafe(self._unserve, listener)

    def _bind(self, preferred: object) -> socket.socket:
        """The stored port if it is free, else the first free one from ``first_port``."""
        held = self._reserved | {listener.port for listener in self._by_uid.values()}
        candidates = [preferred] if isinstance(preferred, int) and preferred > 0 else []
        candidates += [p for p in range(self._first, self._first + self._tries) if p < 65536]
        for port in candidates:
            if port in held:
                continue
            try:
                return self._listen(port)
            except OSError:
                continue
        try:
            return self._listen(0)
        except OSError as exc:
            raise Unavailable(f"No port is free for the index: {exc}") from None

    def _listen(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.create_server((self._host, port), family=family, backlog=256)
        sock.setblocking(False)
        return sock

    # -- serving (on the REST server's loop) ----------------------------------------

    async def start(self, rest: Callable[[], asyncio.BaseProtocol], grpc_port: int) -> None:
        """Serve every opened port: HTTP/1 goes to ``rest()``, HTTP/2 to ``grpc_port``."""
        self._rest = rest
        self._grpc_port = grpc_port
        with self._lock:
            self._loop = asyncio.get_running_loop()
            pending = list(self._by_uid.values())
        for listener in pending:
            await self._serve(listener)

    def stop(self) -> None:
        """Stop accepting; connections already handed over finish with their servers."""
        with self._lock:
            listeners = list(self._by_uid.values())
            self._loop = None
        for listener in listeners:
            self._unserve(listener)

    async def _serve(self, listener: _Listener) -> None:
        if listener.closed or listener.serving:
            return
        listener.serving = True
        loop = asyncio.get_running_loop()
        listener.server = await loop.create_server(
            lambda: _Sniffer(self, listener),
            sock=listener.sock,
            ssl=self.tls,
            # A silent client is closed after the same time with or without TLS.
            ssl_handshake_timeout=self.first_bytes_timeout if self.tls is not None else None,
        )
        if listener.closed:
            listener.server.close()

    def _unserve(self, listener: _Listener) -> None:
        if listener.closed:
            return
        listener.closed = True
        if listener.server is not None:
            listener.server.close()
        elif not listener.serving:
            listener.sock.close()

    # -- what the gRPC servicer asks --------------------------------------------------

    def locate(self, peer: str) -> tuple[str, str] | None:
        """The (project, index) of a gRPC call, from its peer ``ipv4:127.0.0.1:PORT``."""
        try:
            port = int(peer.rsplit(":", 1)[1])
        except (IndexError, ValueError):
            return None
        return self._pipes.get(port)

    # -- connection handling --------------------------------------------------------

    def hand_to_rest(self, transport: asyncio.Transport, head: bytes) -> None:
        assert self._rest is not None
        protocol = cast(asyncio.Protocol, self._rest())
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if not transport.is_closing():  # refused: the server holds too many connections
            protocol.data_received(head)

    async def pipe_to_grpc(self, sniffer: _Sniffer, transport: asyncio.Transport) -> None:
        loop = asyncio.get_running_loop()
        index = (sniffer.listener.project, sniffer.listener.name)
        try:
            upstream, back = await loop.create_connection(
                lambda: _Pipe(transport), "127.0.0.1", self._grpc_port
            )
        except OSError:
            log.exception("cannot reach the gRPC server")
            transport.close()
            return
        if sniffer.lost:
            upstream.close()
            return
        # Recorded before any byte reaches the gRPC server, so no call can miss it.
        port = upstream.get_extra_info("sockname")[1]
        self._pipes[port] = index
        back.on_lost = lambda: self._forget(port, index)
        upstream.write(bytes(sniffer.head))
        pipe = _Pipe(upstream)
        transport.set_protocol(pipe)
        transport.resume_reading()

    def _forget(self, port: int, index: tuple[str, str]) -> None:
        if self._pipes.get(port) is index:
            del self._pipes[port]

    def warn_tls(self, listener: _Listener) -> None:
        if not listener.warned_tls:
            listener.warned_tls = True
            log.warning(
                "A TLS connection reached index %s on port %d; Spruce serves plaintext. "
                'For gRPC use Pinecone(grpc_scheme="http") or PINECONE_GRPC_SCHEME=http, '
                "or start Spruce with --tls-cert and --tls-key (docs/TLS.md).",
                listener.name,
                listener.port,
            )


class _Sniffer(asyncio.Protocol):
    """Holds a new connection until its first bytes say which protocol it speaks."""

    def __init__(self, ports: IndexPorts, listener: _Listener) -> None:
        self.ports = ports
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.lost = False
        self.decided = False
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.ports.first_bytes_timeout, self._silent)

    def _silent(self) -> None:
        if not self.decided and self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        if self.decided:  # bytes that raced pause_reading(); keep them in order
            self.head += data
            return
        self.head += data
        if len(self.head) < len(_PREFACE) and _PREFACE.startswith(self.head):
            return
        self.decided = True
        if self.timer is not None:
            self.timer.cancel()
        head = bytes(self.head)
        if head.startswith(_PREFACE):
            self.transport.pause_reading()
            task = asyncio.get_running_loop().create_task(self._to_grpc())
            task.add_done_callback(_log_failure)
        elif head.startswith(_TLS):
            self.ports.warn_tls(self.listener)
            self.transport.close()
        else:
            self.ports.hand_to_rest(self.transport, head)

    async def _to_grpc(self) -> None:
        assert self.transport is not None
        await self.ports.pipe_to_grpc(self, self.transport)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.timer is not None:
            self.timer.cancel()


class _Pipe(asyncio.Protocol):
    """Copies one side of a piped connection to the other, with back-pressure."""

    def __init__(self, peer: asyncio.Transport) -> None:
        self.peer = peer
        self.on_lost: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        self.peer.write(data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.peer.close()
        if self.on_lost is not None:
            self.on_lost()

    def pause_writing(self) -> None:
        if not self.peer.is_closing():
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if not self.peer.is_closing():
            self.peer.resume_reading()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("piping a gRPC connection failed", exc_info=task.exception())
