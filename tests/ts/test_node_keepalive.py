"""Idle keep-alive as Node keeps it: a socket idle for longer than uvicorn's default
(5 s) and Node's own (4 s, plus event-loop stalls) is still open and reused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import API_KEY, LiveServer

SCRIPT = Path(__file__).with_name("keepalive.mjs")


def test_node_reuses_a_socket_idle_for_eight_seconds(server: LiveServer) -> None:
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-test-deps.sh needs npm too)"
    env = {**os.environ, "SPRUCE_URL": server.url, "SPRUCE_API_KEY": API_KEY, "IDLE_MS": "8000"}
    out = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(out.stdout) == [
        {"status": 200, "reused": False},
        {"status": 200, "reused": True},
    ]
