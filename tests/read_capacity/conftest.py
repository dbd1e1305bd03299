"""Servers with dedicated read nodes tuned for tests, and helpers to watch them change.

Each module gets its own ``spruce serve`` whose environment sets what it tests: short
rate-of-change windows, a small shard capacity. Replica processes are real (each a
``python -m spruce.replica`` child of the server).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone

from tests.api.helpers import client
from tests.conftest import API_KEY, LiveServer

#: Rate-of-change windows off: every transition can be tested back to back.
FAST = {"SPRUCE_RC_MODE_INTERVAL_S": "0", "SPRUCE_RC_SCALE_INTERVAL_S": "0"}


def start(data_dir: Path, env: dict[str, str]) -> LiveServer:
    data_dir.mkdir(parents=True)
    live = LiveServer(data_dir, env=env)
    live.start()
    return live


@pytest.fixture(scope="module")
def rc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start(tmp_path_factory.mktemp("rc") / "data", FAST)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def pc(rc_server: LiveServer) -> Pinecone:
    return client(rc_server)


def dedicated(shards: int = 1, replicas: int = 1, node_type: str = "b1") -> dict[str, Any]:
    return {
        "mode": "Dedicated",
        "dedicated": {
            "node_type": node_type,
            "scaling": "Manual",
            "manual": {"shards": shards, "replicas": replicas},
        },
    }


def raw_describe(server: LiveServer, name: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/indexes/{name}",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def settle(server: LiveServer, name: str, timeout: float = 60.0) -> dict[str, Any]:
    """The describe body once its read capacity is Ready or Error."""
    deadline = time.monotonic() + timeout
    while True:
        body = raw_describe(server, name)
        if body["read_capacity"]["status"]["state"] in ("Ready", "Error"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"read capacity still {body['read_capacity']['status']}")
        time.sleep(0.1)


def replicas(server: LiveServer, name: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/indexes/{name}/read_capacity/replicas", headers={"Api-Key": API_KEY}
    )
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()["replicas"]
    return found
