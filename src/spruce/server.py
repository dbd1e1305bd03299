"""Composition root: builds catalog -> engine -> service -> edges and runs them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette

from spruce.api.rest import build_app
from spruce.catalog import Catalog
from spruce.config import Settings
from spruce.service import Auth, ControlPlane, DataPlane, Services

__all__ = ["Server", "build", "serve"]

log = logging.getLogger("spruce")


@dataclass
class Server:
    settings: Settings
    services: Services
    catalog: Catalog
    app: Starlette
    new_key: str | None

    def close(self) -> None:
        self.services.data.close()
        self.catalog.close()


def build(settings: Settings) -> Server:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(settings.data_dir / "catalog.sqlite3")
    auth = Auth(catalog, dev=settings.dev)
    new_key = auth.bootstrap(settings.api_key)
    data = DataPlane(settings.data_dir, flush_rows=settings.flush_rows)
    control = ControlPlane(catalog, data)
    control.recover()
    services = Services(auth=auth, control=control, data=data, public_base=settings.public_base)
    return Server(settings, services, catalog, build_app(services), new_key)


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = build(settings)
    if server.new_key:
        print(f"Created API key (shown once, keep it): {server.new_key}", flush=True)
    print(f"Spruce listening on {settings.public_base} (data in {settings.data_dir})", flush=True)
    try:
        uvicorn.run(
            server.app,
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
    finally:
        server.close()
