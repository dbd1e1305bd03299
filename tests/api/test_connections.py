"""Connection handling on a live server: body limits, timeouts, the connection cap,
keep-alive, and 500s that keep the connection; on the main port and an index port."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import h11
import httpx
import orjson
import pytest

from tests.api.helpers import client, make_index
from tests.conftest import API_KEY, LiveServer

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 20


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(
        tmp_path_factory.mktemp("bounds") / "data",
        extra=[
            "--header-timeout",
            str(HEADER_TIMEOUT),
            "--body-timeout",
            str(BODY_TIMEOUT),
            "--max-connections",
            str(MAX_CONNECTIONS),
        ],
    )
    live.data_dir.mkdir(parents=True)
    mp = pytest.MonkeyPatch()
    mp.setenv("SPRUCE_TEST_FAULTS", "1")
    try:
        live.start()
    finally:
        mp.undo()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def index_port(bounded: LiveServer) -> int:
    pc = client(bounded)
    make_index(pc, "conn", dimension=2)
    port = urlsplit(pc.describe_index("conn").host).port
    assert port is not None
    return port


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _request(
    method: str, target: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Api-Key: {API_KEY}"]
    lines += [f"{k}: {v}" for k, v in headers or [("Content-Length", str(len(body)))]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _read_response(sock: socket.socket, conn: h11.Connection) -> tuple[int, dict[str, str], bytes]:
    status, headers, body = 0, {}, b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(sock.recv(65536))
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return status, headers, body
        elif isinstance(event, h11.ConnectionClosed):
            raise ConnectionError("closed before a response")


def _closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading and dropping what it sends)."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        raise AssertionError(f"still open after {seconds} s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


def _client_conn() -> h11.Connection:
    conn = h11.Connection(h11.CLIENT)
    # h11 tracks our side too; the raw bytes we send are not passed through it.
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    return conn


def _next_cycle(conn: h11.Connection) -> None:
    conn.start_next_cycle()
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())


# -- 500s keep the connection ------------------------------------------------------


def test_500_keeps_the_connection(bounded: LiveServer) -> None:
    with _connect(bounded.port) as sock:
        conn = _client_conn()
        sock.sendall(_request("POST", "/_test/fail"))
        status, headers, body = _read_response(sock, conn)
        assert status == 500
        payload = orjson.loads(body)
        assert payload["status"] == 500
        assert payload["error"]["code"] == "INTERNAL"
        # The request id ties the answer to the server's log entry (no paths, no detail).
        assert payload["error"]["message"].startswith("Internal server error (request id ")
        assert headers.get("connection") != "close"
        _next_cycle(conn)
        sock.sendall(_request("GET", "/indexes"))
        status, _, body = _read_response(sock, conn)
        assert status == 200
        assert "indexes" in orjson.loads(body)


def test_500_keeps_the_connection_with_httpx(bounded: LiveServer) -> None:
    """Two requests on one pooled connection: the second is not reset."""
    limits = httpx.Limits(max_connections=1)
    with httpx.Client(base_url=bounded.url, limits=limits, headers={"Api-Key": API_KEY}) as http:
        first = http.post("/_test/fail")
        assert first.status_code == 500
        assert first.json()["error"]["code"] == "INTERNAL"
        peer = first.extensions["network_stream"].get_extra_info("client_addr")
        second = http.get("/indexes")
        assert second.status_code == 200
        assert second.extensions["network_stream"].get_extra_info("client_addr") == peer


# -- request bodies ------------------------------------------------------------------


def test_declared_large_body_refused_before_it_is_read(
    bounded: LiveServer, index_port: int
) -> None:
    for port in (bounded.port, index_port):
        with _connect(port) as sock:
            sock.sendall(
                _request("POST", "/vectors/upsert", headers=[("Content-Length", "100000000")])
            )
            sock.sendall(b'{"vectors": [')  # and nothing more: the answer must not wait
            sock.settimeout(5)
            status, headers, body = _read_response(sock, _client_conn())
            assert status == 413
            assert headers["connection"] == "close"
            assert orjson.loads(body) == {
                "error": {
                    "code": "PAYLOAD_TOO_LARGE",
                    "message": "Request size 96MB exceeds the maximum supported size of 2MB",
                },
                "status": 413,
            }


def test_declared_large_body_data_plane_shape(bounded: LiveServer) -> None:
    project = client(bounded).describe_index("conn").host.rsplit("/", 2)[-2]
    with _connect(bounded.port) as sock:
        target = f"/data/{project}/conn/vectors/upsert"
        sock.sendall(_request("POST", target, headers=[("Content-Length", "100000000")]))
        sock.settimeout(5)
        status, _, body = _read_response(sock, _client_conn())
    assert status == 413
    assert orjson.loads(body) == {
        "code": 3,
        "message": "Request size 96MB exceeds the maximum supported size of 2MB",
        "details": [],
    }


def test_chunked_body_capped_while_streaming(bounded: LiveServer) -> None:
    with _connect(bounded.port) as sock:
        sock.sendall(_request("POST", "/indexes", headers=[("Transfer-Encoding", "chunked")]))
        chunk = b"x" * 65536
        for _ in range(40):  # 2.5 MB, then the body stops without its last chunk
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.settimeout(5)
        status, headers, body = _read_response(sock, _client_conn())
        assert status == 413
        assert headers["connection"] == "close"
        message = orjson.loads(body)["error"]["message"]
        # Refused once past the limit: what had arrived then, in whole MiB rounded up.
        assert message == "Request size 3MB exceeds the maximum supported size of 2MB"


# -- timeouts --------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["main", "index"])
@pytest.mark.parametrize(
    ("sent", "limit"),
    [
        (b"", HEADER_TIMEOUT),
        (b"POST /indexes HTTP/1.1\r\nHost: 127.0.0.1\r\n", HEADER_TIMEOUT),
        (
            b"POST /indexes HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",
            BODY_TIMEOUT,
        ),
    ],
    ids=["silent", "half-headers", "half-body"],
)
def test_stalled_connections_are_closed(
    bounded: LiveServer, index_port: int, where: str, sent: bytes, limit: float
) -> None:
    with _connect(bounded.port if where == "main" else index_port) as sock:
        if sent:
            sock.sendall(sent)
        waited = _closed_within(sock, limit + 3)
        assert waited >= limit - 0.5


def test_idle_keep_alive_outlives_client_pools(server: LiveServer) -> None:
    """Default settings: a connection idle for 6 s (uvicorn's default closes at 5 s,
    Node's pool reuses for 4 s plus stalls) still takes the next request."""
    with _connect(server.port) as sock:
        conn = _client_conn()
        sock.sendall(_request("GET", "/indexes"))
        assert _read_response(sock, conn)[0] == 200
        time.sleep(6)
        _next_cycle(conn)
        sock.sendall(_request("GET", "/indexes"))
        assert _read_response(sock, conn)[0] == 200


def _is_closed(sock: socket.socket) -> bool:
    sock.settimeout(0.3)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# -- the connection cap -------------------------------------------------------------------


def test_idle_connections_make_room(bounded: LiveServer) -> None:
    idle: list[socket.socket] = []
    newer: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = _connect(bounded.port)
            conn = _client_conn()
            sock.sendall(_request("GET", "/indexes"))
            assert _read_response(sock, conn)[0] == 200
            idle.append(sock)
        for _ in range(5):  # each new one (kept open) closes the longest-idle one
            sock = _connect(bounded.port)
            sock.sendall(_request("GET", "/indexes"))
            assert _read_response(sock, _client_conn())[0] == 200
            newer.append(sock)
        time.sleep(0.2)
        closed = [_is_closed(sock) for sock in idle]
        assert closed == [True] * 5 + [False] * (MAX_CONNECTIONS - 5)
    finally:
        for sock in idle + newer:
            sock.close()


def test_busy_connections_cap_new_ones(bounded: LiveServer, index_port: int) -> None:
    busy = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = _connect(bounded.port)
            sock.sendall(b"GET /indexes HTTP/1.1\r\n")  # mid-request: not idle
            busy.append(sock)
        time.sleep(0.2)
        for port in (bounded.port, index_port):
            with _connect(port) as sock:
                sock.sendall(_request("GET", "/indexes"))
                status, headers, body = _read_response(sock, _client_conn())
                assert status == 503
                assert headers["connection"] == "close"
                assert orjson.loads(body) == {
                    "code": 14,
                    "message": "Too many connections; retry later",
                    "details": [],
                }
    finally:
        for sock in busy:
            sock.close()
    time.sleep(0.2)
    assert httpx.get(f"{bounded.url}/indexes", headers={"Api-Key": API_KEY}).status_code == 200
