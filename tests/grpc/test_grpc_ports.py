"""Index ports: stable across restarts, re-chosen when taken, closed on delete, and
the servicer's index lookup (project isolation, unknown connections)."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from spruce.api.grpc.servicer import VectorService
from spruce.catalog import Catalog
from spruce.errors import NotFound
from spruce.service import Auth, ControlPlane, DataPlane, IndexRequest, Services
from tests.api.helpers import client, make_index
from tests.conftest import LiveServer
from tests.grpc.helpers import grpc_client


def _port(host: str) -> int:
    port = urlsplit(host).port
    assert port is not None
    return port


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_port_survives_restart_and_moves_when_taken(fresh_server: LiveServer) -> None:
    pc = grpc_client(fresh_server)
    make_index(pc, "kept", dimension=2).upsert(vectors=[("a", [1, 0])])
    host = pc.describe_index("kept").host
    assert _port(host) != fresh_server.port
    fresh_server.restart()
    assert pc.describe_index("kept").host == host
    assert set(pc.Index(host=host).fetch(ids=["a"]).vectors) == {"a"}

    fresh_server.stop()
    squatter = socket.create_server(("127.0.0.1", _port(host)))
    try:
        fresh_server.start()
        moved = pc.describe_index("kept").host
        assert _port(moved) != _port(host)
        assert set(pc.Index(host=moved).fetch(ids=["a"]).vectors) == {"a"}
        assert set(client(fresh_server).Index(host=moved).fetch(ids=["a"]).vectors) == {"a"}
    finally:
        squatter.close()


def test_delete_closes_the_port(server: LiveServer) -> None:
    pc = client(server)
    make_index(pc, "short-lived", dimension=2)
    port = _port(pc.describe_index("short-lived").host)
    assert not _refused(port)
    pc.delete_index("short-lived")
    deadline = time.monotonic() + 5
    while not _refused(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _refused(port)


def test_tls_hello_is_closed_not_served(server: LiveServer) -> None:
    """The SDK's default grpc_scheme is https; such a connection is dropped at once."""
    pc = client(server)
    make_index(pc, "tls-probe", dimension=2)
    try:
        port = _port(pc.describe_index("tls-probe").host)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05hello")
            assert sock.recv(100) == b""
    finally:
        pc.delete_index("tls-probe")


@pytest.fixture
def services(tmp_path: Path) -> Services:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    data = DataPlane(tmp_path, flush_rows=100)
    auth = Auth(catalog, dev=False)
    auth.bootstrap("key-a")
    other = catalog.ensure_project("other")
    catalog.add_key(other, "key-b")
    control = ControlPlane(catalog, data)
    control.create(auth.default_project, IndexRequest(name="idx", dimension=2))
    return Services(auth=auth, control=control, data=data, public_base="http://x")


def test_a_key_only_reaches_its_own_projects_indexes(services: Services) -> None:
    owner = services.auth.default_project
    located = {"ipv4:127.0.0.1:4000": (owner, "idx")}
    with ThreadPoolExecutor(1) as pool:
        servicer = VectorService(services, located.get, pool)
        assert servicer._index("key-a", "ipv4:127.0.0.1:4000").name == "idx"
        with pytest.raises(NotFound, match="Index idx not found"):
            servicer._index("key-b", "ipv4:127.0.0.1:4000")
        with pytest.raises(NotFound, match="describe_index"):
            servicer._index("key-a", "ipv4:127.0.0.1:4001")
