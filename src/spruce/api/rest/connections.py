"""uvicorn's HTTP/1 protocol with bounds on what a connection may hold.

uvicorn arms its keep-alive timer only after a response, so a connection that never
sends a request, or stops halfway through its headers or body, is held for ever, and
it keeps no count of connections. This subclass adds, per connection:

* ``header_timeout``: from the connection's opening, or from the first byte of a
  request after a keep-alive wait, until its headers are complete;
* ``body_timeout``: from the end of the headers until the end of the body;
* ``keep_alive``: idle time between requests. Clients keep pooled sockets for seconds
  (Node's fetch 4 s plus event-loop stalls) and write the next request on them without
  warning, so the server must not close first: tens of seconds, as nginx's 75 s.

and per server (the main port and every index port share one count):
``max_connections``. A connection past it closes the longest-idle keep-alive connection
to make room, or is answered 503 and closed when every connection is busy.

An idle TLS connection is aborted rather than closed (docs/TLS.md): closing sends a
close_notify and asyncio then waits up to 30 s for the client's, which a pooled,
unread socket never sends, so the connection would still count, and hold a shutdown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "bounded_protocol"]


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = 30.0
    body_timeout: float = 60.0
    keep_alive: float = 75.0
    max_connections: int = 1000


_BUSY_BODY = orjson.dumps(
    {"code": 14, "message": "Too many connections; retry later", "details": []}
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n"
) + _BUSY_BODY


class _Bounded(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._idle_since = 0.0
        self._fresh = True  # no byte received yet

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._idle_since = self.loop.time()
        if len(self.connections) > self.limits.max_connections and not self._evict_idle():
            transport.write(_BUSY)
            transport.close()
            return
        self._arm(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._fresh = False
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a new connection's clock keeps running
            self._arm(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.limits.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is the WebSocket protocol's from now on
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = self.loop.time()

    def shutdown(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self._drop()
        else:
            super().shutdown()

    def timeout_keep_alive_handler(self) -> None:
        if not self.transport.is_closing():
            self._drop()

    # -- helpers -------------------------------------------------------------------

    def _is_idle(self) -> bool:
        """Waiting for a request: before the first one, or between two (keep-alive)."""
        if self.timeout_keep_alive_task is not None:
            return True
        return self._fresh

    def _evict_idle(self) -> bool:
        idle = [
            c
            for c in self.connections
            if c is not self and isinstance(c, _Bounded) and c._is_idle()
        ]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c._idle_since)
        oldest._drop()
        return True

    def _drop(self) -> None:
        """Close a connection that has nothing to send (see the module's docstring)."""
        if self.transport.get_extra_info("sslcontext") is not None:
            self.transport.abort()
        else:
            self.transport.close()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self._drop()


def bounded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """uvicorn's ``http=`` protocol class with these limits."""
    return type("BoundedHttpProtocol", (_Bounded,), {"limits": limits})
