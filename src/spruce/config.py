"""Settings for one Spruce server, from defaults, the environment and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass
class Settings:
    """Everything a server needs to start; the CLI fills it in.

    ``advertised_host`` is what ``describe_index`` puts in ``host``: clients
    must be able to reach it, so it defaults to the loopback address.
    """

    data_dir: Path = Path(os.environ.get("SPRUCE_DATA_DIR", "./data"))
    host: str = os.environ.get("SPRUCE_HOST", "127.0.0.1")
    port: int = _env_int("SPRUCE_PORT", 5080)
    advertised_host: str | None = os.environ.get("SPRUCE_ADVERTISED_HOST") or None
    #: Accept any API key (local development); keys are still required to be present.
    dev: bool = os.environ.get("SPRUCE_DEV", "") not in ("", "0", "false")
    #: A key to register on start (so tests and scripts know it in advance).
    api_key: str | None = os.environ.get("SPRUCE_API_KEY") or None
    #: Rows in a namespace memtable before it is flushed to a segment.
    flush_rows: int = _env_int("SPRUCE_FLUSH_ROWS", 20_000)
    #: Threads that run engine calls off the event loop.
    worker_threads: int = _env_int("SPRUCE_WORKER_THREADS", 8)

    @property
    def public_base(self) -> str:
        """Base URL clients use to reach this server."""
        host = self.advertised_host or (
            "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        )
        return f"http://{host}:{self.port}"
