"""The outermost ASGI layer: request body limits, and no exception reaches the server.

Starlette's ``ServerErrorMiddleware`` sends the 500 of an unexpected exception and then
re-raises it; uvicorn, seeing an exception after a response started, closes the
connection, so a client lost its keep-alive socket (and the request it had already
written on it) to every 500. Here the exception stops: a response that was not started
becomes Pinecone's 500 body, one that was sent leaves the connection as it is.

Bodies: a ``Content-Length`` above the limit is refused before a byte of the body is
read; a chunked body is counted as it arrives and refused once it passes the limit.
Both answers close the connection, since the rest of the body is never read.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spruce.api.rest.errors import error_response
from spruce.service.limits import MAX_REQUEST_BYTES, request_too_large

__all__ = ["Edge"]

log = logging.getLogger(__name__)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class Edge:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        data_plane = str(scope.get("path", "")).startswith("/data/")
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _send_error(send, request_too_large(declared), data_plane, close=True)
            return
        state = _State()

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state.received += len(message.get("body", b""))
                if state.received > self.max_body_bytes:
                    state.overflow = True
                    raise request_too_large(state.received)
            return message

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state.started = True
                if state.overflow:  # the unread rest of the body would be the next request
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state.complete = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except Exception as exc:
            if state.complete:
                return  # the error's response went out; keep the connection
            if state.started:
                raise  # half a response: only closing the connection ends it
            await _send_error(send, exc, data_plane, close=state.overflow)


class _State:
    __slots__ = ("complete", "overflow", "received", "started")

    def __init__(self) -> None:
        self.received = 0
        self.overflow = False
        self.started = False
        self.complete = False


async def _send_error(send: Send, exc: BaseException, data_plane: bool, *, close: bool) -> None:
    response = error_response(exc, data_plane=data_plane)
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": bytes(response.body)})
