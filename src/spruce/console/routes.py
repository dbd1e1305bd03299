"""``/console``: the static files, with headers that keep them fresh and inert."""

from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["STATIC_DIR", "routes"]

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles only from this origin and no inline code, so text from records
# (metadata, names) can never run even if a bug rendered it as markup; API calls
# go to this origin too (index hosts are reached by their path, see js/api.js).
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate every load (StaticFiles answers 304 by ETag): an upgraded server
    # never runs with a cached mix of old and new modules.
    "Cache-Control": "no-cache",
}


class _WithHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers[name] = value
            await send(message)

        await self._app(scope, receive, send_with_headers)


async def _to_console(request: Request) -> Response:
    return RedirectResponse(url="/console/", status_code=307)


routes: list[BaseRoute] = [
    Route("/", _to_console, methods=["GET"]),
    Route("/console", _to_console, methods=["GET"]),
    Mount("/console", app=_WithHeaders(StaticFiles(directory=STATIC_DIR, html=True))),
]
