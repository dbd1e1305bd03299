"""Shared fixtures: a live ``spruce serve`` on loopback and the real SDK pointed at it."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("nightly", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

API_KEY = "test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A ``spruce serve`` subprocess; restart() and kill() keep its data dir."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    #: The CA of a server started with --tls-cert (tests/api/test_tls.py): https then.
    ca: Path | None = None
    #: Settings in the environment of the server process, at every (re)start.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{'http' if self.ca is None else 'https'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx needs to reach this server."""
        return True if self.ca is None else ssl.create_default_context(cafile=str(self.ca))

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-m",
            "spruce.cli",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--api-key",
            API_KEY,
            *self.extra,
        ]
        log = open(self.data_dir.parent / f"server-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                httpx.get(
                    f"{self.url}/indexes",
                    headers={"Api-Key": API_KEY},
                    timeout=1,
                    verify=self.verify,
                )
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session", autouse=True)
def import_roots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Servers started by the tests may import local Parquet from the tests' temporary
    directories (local imports are refused outside the allowed roots)."""
    root = tmp_path_factory.getbasetemp()
    saved = os.environ.get("SPRUCE_IMPORT_ROOTS")
    os.environ["SPRUCE_IMPORT_ROOTS"] = str(root)
    yield root
    if saved is None:
        os.environ.pop("SPRUCE_IMPORT_ROOTS", None)
    else:
        os.environ["SPRUCE_IMPORT_ROOTS"] = saved


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("spruce") / "data")
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def small_flush_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of the test's own that flushes every 5 rows."""
    live = LiveServer(tmp_path / "data", env={"SPRUCE_FLUSH_ROWS": "5"})
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of the test's own, for restarts and crashes."""
    live = LiveServer(tmp_path / "data")
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()
