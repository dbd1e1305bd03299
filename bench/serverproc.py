"""A Spruce server in a child process on a free loopback port, for the bench scripts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["KEY", "free_port", "start_server"]

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``spruce serve`` on ``data_dir``; returns the process and its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data-dir", str(data_dir)]
    cmd += ["--port", str(port), "--api-key", KEY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{url}/indexes", headers={"Api-Key": KEY}, timeout=1)
            return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")
