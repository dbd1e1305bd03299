"""TLS on every port (docs/TLS.md), with a CA and certificate this module makes itself.

One server started with ``--tls-cert``/``--tls-key``: the REST SDK (``ssl_ca_certs``),
the gRPC SDK (its default https scheme; the CA through ``SSL_CERT_FILE``), curl, the
console and a dedicated read node replica all reach it over TLS; plaintext and clients
that do not trust the CA are refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.grpc import PineconeGRPC

from spruce.config import Settings
from spruce.tls import ClientTLS, certificate_der, is_loopback
from tests.api.helpers import unique
from tests.api.pki import Pki, make_pki
from tests.conftest import API_KEY, LiveServer
from tests.read_capacity.conftest import FAST, dedicated

VECTORS = [("a", [1.0, 0.0]), ("b", [0.0, 1.0]), ("c", [1.0, 1.0])]
TOKEN = "tls-replica-token"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("tls") / "data"
    data_dir.mkdir()
    extra = ["--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--tls-ca", str(pki.ca)]
    # Read capacity changes at once, and a replica started by hand knows the token.
    env = {**FAST, "SPRUCE_REPLICA_TOKEN": TOKEN}
    live = LiveServer(data_dir, extra=extra, ca=pki.ca, env=env)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def pc(tls_server: LiveServer, pki: Pki) -> Pinecone:
    return Pinecone(api_key=API_KEY, host=tls_server.url, ssl_ca_certs=str(pki.ca))


@pytest.fixture(scope="module")
def index_host(pc: Pinecone) -> str:
    name = unique("tls")
    spec = ServerlessSpec(cloud="aws", region="us-east-1")
    pc.create_index(name=name, dimension=2, metric="cosine", spec=spec)
    host: str = pc.describe_index(name).host
    pc.Index(host=host).upsert(vectors=VECTORS)
    return host


def _port(url: str) -> int:
    return int(url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def test_index_hosts_are_https_on_their_own_port(
    tls_server: LiveServer, pc: Pinecone, index_host: str
) -> None:
    assert index_host.startswith("https://127.0.0.1:")
    assert _port(index_host) != tls_server.port
    listed = {i.host for i in pc.list_indexes()}
    assert index_host in listed


def test_rest_sdk(pc: Pinecone, index_host: str) -> None:
    index = pc.Index(host=index_host)
    found = index.query(vector=[1.0, 0.1], top_k=3)
    assert [m.id for m in found.matches] == ["a", "c", "b"]
    fetched = index.fetch(ids=["b"])
    assert list(fetched.vectors["b"].values) == [0.0, 1.0]


def test_grpc_sdk_default_scheme(
    monkeypatch: pytest.MonkeyPatch, tls_server: LiveServer, pki: Pki, index_host: str
) -> None:
    # The gRPC transport (tonic + rustls) takes its roots from SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    monkeypatch.delenv("PINECONE_GRPC_SCHEME", raising=False)
    grpc_pc = PineconeGRPC(api_key=API_KEY, host=tls_server.url, ssl_ca_certs=str(pki.ca))
    index = grpc_pc.Index(host=index_host)
    index.upsert(vectors=[("g", [0.5, -1.0])], namespace="grpc")
    found = index.query(vector=[0.5, -1.0], top_k=1, namespace="grpc")
    assert [m.id for m in found.matches] == ["g"]
    assert index.describe_index_stats().namespaces["grpc"].vector_count == 1


def test_grpc_sdk_refuses_an_unknown_ca(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tls_server: LiveServer, index_host: str
) -> None:
    other = make_pki(tmp_path / "other", common="Another CA")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca))
    monkeypatch.delenv("PINECONE_GRPC_SCHEME", raising=False)
    grpc_pc = PineconeGRPC(api_key=API_KEY, host=tls_server.url, ssl_ca_certs=str(other.ca))
    index = grpc_pc.index(host=index_host, grpc=True)
    with pytest.raises(Exception, match="UnknownIssuer"):
        index.query(vector=[1.0, 0.0], top_k=1)


def test_typescript_sdk(tls_server: LiveServer, pki: Pki, index_host: str) -> None:
    """Pinecone's TypeScript SDK, given the CA as Node takes one (NODE_EXTRA_CA_CERTS)."""
    from tests.ts.test_ts_sdk import SDK_DIR

    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-test-deps.sh needs npm too)"
    assert SDK_DIR.is_dir(), f"the TypeScript SDK is not installed in {SDK_DIR}"
    env = {
        **os.environ,
        "NODE_EXTRA_CA_CERTS": str(pki.ca),
        "SPRUCE_URL": tls_server.url,
        "SPRUCE_API_KEY": API_KEY,
        "SPRUCE_INDEX": index_host.rsplit("/", 1)[1],
        "PINECONE_TS_SDK": str(SDK_DIR),
    }
    script = Path(__file__).parents[1] / "ts" / "tls_smoke.mjs"
    done = subprocess.run(
        [node, str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"host": index_host, "ids": ["a", "c", "b"], "ts": 1}
    # Without the CA, Node refuses the certificate.
    env.pop("NODE_EXTRA_CA_CERTS")
    done = subprocess.run(
        [node, str(script)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "UNABLE_TO_VERIFY_LEAF_SIGNATURE" in done.stderr, done.stderr


def test_curl(tls_server: LiveServer, pki: Pki, index_host: str) -> None:
    def curl(*args: str) -> str:
        cmd = ["curl", "-sS", "--fail", "--cacert", str(pki.ca), "-H", f"Api-Key: {API_KEY}"]
        return subprocess.run([*cmd, *args], check=True, capture_output=True, text=True).stdout

    assert '"indexes"' in curl(f"{tls_server.url}/indexes")
    stats = curl("-X", "POST", "-d", "{}", "-H", "Content-Type: application/json",
                 f"{index_host}/describe_index_stats")  # fmt: skip
    assert '"totalVectorCount":' in stats.replace(" ", "")
    # localhost is in the certificate too.
    assert '"indexes"' in curl(f"https://localhost:{tls_server.port}/indexes")
    # Without the CA curl refuses the certificate (exit 60).
    plain = subprocess.run(
        ["curl", "-sS", f"{tls_server.url}/indexes"], capture_output=True, text=True
    )
    assert plain.returncode == 60


def test_plaintext_is_refused(tls_server: LiveServer, index_host: str) -> None:
    headers = {"Api-Key": API_KEY}
    for port in (tls_server.port, _port(index_host)):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/indexes", headers=headers, timeout=5)


def test_a_client_without_the_ca_is_refused(tls_server: LiveServer, index_host: str) -> None:
    for url in (f"{tls_server.url}/indexes", f"{index_host}/describe_index_stats"):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(url, headers={"Api-Key": API_KEY}, timeout=5)


def test_grpc_over_plaintext_is_refused(
    monkeypatch: pytest.MonkeyPatch, tls_server: LiveServer, pki: Pki, index_host: str
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pinecone")
    grpc_pc = PineconeGRPC(
        api_key=API_KEY, host=tls_server.url, ssl_ca_certs=str(pki.ca), grpc_scheme="http"
    )
    index = grpc_pc.Index(host=index_host)
    with pytest.raises(Exception):  # noqa: B017 -- the transport's own error, whatever it is
        index.query(vector=[1.0, 0.0], top_k=1)


def test_index_ports_choose_http1_unless_only_h2_is_offered(pki: Pki, index_host: str) -> None:
    port = _port(index_host)
    # gRPC offers h2 only; whoever offers both speaks HTTP/1.1 to the REST server.
    cases = [(["h2"], "h2"), (["h2", "http/1.1"], "http/1.1"), (["http/1.1"], "http/1.1")]
    for offered, chosen in cases:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.set_alpn_protocols(offered)
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.selected_alpn_protocol() == chosen


def test_console_over_https(tls_server: LiveServer) -> None:
    page = httpx.get(f"{tls_server.url}/console/", verify=tls_server.verify, timeout=10)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    assert page.url.scheme == "https"


def test_a_dedicated_replica_serves_over_tls(
    tls_server: LiveServer, pc: Pinecone, pki: Pki
) -> None:
    name = unique("tls-rc")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=2, metric="euclidean", spec=spec)
    state = _settle(tls_server, name)
    assert state == "Ready"
    index = pc.Index(host=pc.describe_index(name).host)
    index.upsert(vectors=VECTORS)
    before = _replicas(tls_server, name)
    (replica,) = before
    assert replica["url"].startswith("https://127.0.0.1:")
    assert replica["pid"] > 0  # the server reached it (over TLS: it serves nothing else)
    found = index.query(vector=[1.0, 0.1], top_k=2)
    assert [m.id for m in found.matches] == ["a", "c"]
    (after,) = _replicas(tls_server, name)
    assert after["served"] == replica["served"] + 1
    # The replica presents the server's own certificate, and refuses plaintext.
    port = _port(replica["url"])
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    der = ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port)))
    assert der == certificate_der(pki.cert)
    pc.delete_index(name)


def test_a_replica_started_by_hand_joins_over_tls(
    tls_server: LiveServer, pc: Pinecone, pki: Pki
) -> None:
    """A replica on "another host" (shared files here): it serves HTTPS with a certificate
    of its own CA's, joins the server over https checking it with --tls-ca, and the
    server checks the replica with its --tls-ca in turn."""
    name = unique("tls-far")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=2, metric="euclidean", spec=spec)
    assert _settle(tls_server, name) == "Ready"
    index = pc.Index(host=pc.describe_index(name).host)
    index.upsert(vectors=VECTORS)
    (root,) = [
        p
        for p in (tls_server.data_dir / "indexes").iterdir()
        if (p / "INDEX").is_file() and f'"name":"{name}"' in (p / "INDEX").read_text()
    ]
    cmd = [sys.executable, "-m", "spruce.replica", "--root", str(root), "--dimension", "2"]
    cmd += ["--metric", "euclidean", "--join", tls_server.url, "--index", name]
    cmd += ["--api-key", API_KEY, "--tls-cert", str(pki.cert), "--tls-key", str(pki.key)]
    cmd += ["--tls-ca", str(pki.ca)]
    env = {**os.environ, "SPRUCE_REPLICA_TOKEN": TOKEN}
    far = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    try:
        assert far.stdout is not None
        assert far.stdout.readline().decode().startswith("SPRUCE-REPLICA-READY")
        deadline = time.monotonic() + 60
        while not any(r.get("remote") for r in _replicas(tls_server, name)):
            assert time.monotonic() < deadline and far.poll() is None
            time.sleep(0.2)
        remote = next(r for r in _replicas(tls_server, name) if r["remote"])
        assert remote["url"].startswith("https://127.0.0.1:")
        assert remote["pid"] == far.pid  # the server reached it over TLS
        for _ in range(6):  # round-robin: both replicas answer, the same answer
            found = index.query(vector=[1.0, 0.1], top_k=2)
            assert [m.id for m in found.matches] == ["a", "c"]
        served = {r["remote"]: r["served"] for r in _replicas(tls_server, name)}
        assert served[True] >= 3 and served[False] >= 3, served
    finally:
        far.terminate()
        far.wait(timeout=30)
    pc.delete_index(name)


def test_a_plaintext_replica_cannot_join_a_tls_server(tls_server: LiveServer, pc: Pinecone) -> None:
    name = unique("tls-plain")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=2, metric="euclidean", spec=spec)
    assert _settle(tls_server, name) == "Ready"
    response = httpx.post(
        f"{tls_server.url}/indexes/{name}/read_capacity/replicas",
        json={"url": "http://127.0.0.1:9"},
        headers={"Api-Key": API_KEY},
        verify=tls_server.verify,
    )
    assert response.status_code == 400
    assert "url must be https://HOST:PORT" in response.text
    pc.delete_index(name)


def test_the_replica_pin_refuses_another_certificate(
    tls_server: LiveServer, tmp_path: Path, pki: Pki
) -> None:
    """What the server accepts from its replicas: exactly its own certificate."""
    own = hashlib.sha256(certificate_der(pki.cert)).digest()
    conn = ClientTLS(pin=own).connection("127.0.0.1", tls_server.port, 5)
    conn.request("GET", "/indexes", headers={"Api-Key": API_KEY})
    assert conn.getresponse().status == 200
    conn.close()
    other = make_pki(tmp_path / "other")
    wrong = hashlib.sha256(certificate_der(other.cert)).digest()
    conn = ClientTLS(pin=wrong).connection("127.0.0.1", tls_server.port, 5)
    with pytest.raises(ssl.SSLCertVerificationError, match="other than this server's"):
        conn.request("GET", "/indexes")
    conn.close()


def _raw(server: LiveServer, path: str) -> Any:
    response = httpx.get(
        f"{server.url}{path}",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"},
        verify=server.verify,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def _settle(server: LiveServer, name: str) -> str:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        state: str = _raw(server, f"/indexes/{name}")["read_capacity"]["status"]["state"]
        if state in ("Ready", "Error"):
            return state
        time.sleep(0.2)
    raise AssertionError("read capacity did not settle")


def _replicas(server: LiveServer, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _raw(server, f"/indexes/{name}/read_capacity/replicas")[
        "replicas"
    ]
    return found


def test_plaintext_off_loopback_warns(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra=["--host", "0.0.0.0", "--no-index-ports"])
    live.data_dir.mkdir()
    live.start()
    live.stop()
    log = (tmp_path / f"server-{live.port}.log").read_text()
    # Once in the log and once on stderr (both land in this file).
    assert log.count("without TLS: API keys and records cross the network") == 2
    assert "WARNING: Spruce is listening on 0.0.0.0 without TLS" in log


def test_plaintext_on_loopback_does_not_warn(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra=["--no-index-ports"])
    live.data_dir.mkdir()
    live.start()
    live.stop()
    assert "without TLS" not in (tmp_path / f"server-{live.port}.log").read_text()


def test_half_a_tls_configuration_is_refused(tmp_path: Path, pki: Pki) -> None:
    cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data-dir", str(tmp_path / "d")]
    done = subprocess.run(
        [*cmd, "--tls-cert", str(pki.cert)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "give both --tls-cert and --tls-key" in done.stderr
    assert not (tmp_path / "d").exists()  # refused before anything was made


def test_idle_tls_connections_do_not_hold_a_shutdown(tmp_path: Path, pki: Pki) -> None:
    """Closing an idle TLS connection waits for the client's close_notify, which a pooled
    socket never sends; the server aborts them instead, so it stops at once (uvicorn
    would give up only after its 5 s grace)."""
    extra = ["--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--no-index-ports"]
    live = LiveServer(tmp_path / "data", extra=extra, ca=pki.ca)
    live.data_dir.mkdir()
    live.start()
    with httpx.Client(verify=live.verify, headers={"Api-Key": API_KEY}) as pooled:
        assert pooled.get(f"{live.url}/indexes").status_code == 200  # kept alive, idle
        started = time.monotonic()
        live.stop()
        assert time.monotonic() - started < 3.0


def test_the_spruce_cli_reaches_a_tls_server(tls_server: LiveServer, pki: Pki) -> None:
    """``spruce integration``/``import`` take the server's CA from SPRUCE_TLS_CA."""
    cmd = [sys.executable, "-m", "spruce.cli", "integration", "list"]
    cmd += ["--url", tls_server.url, "--api-key", API_KEY]
    env = {k: v for k, v in os.environ.items() if k not in ("SSL_CERT_FILE", "SPRUCE_TLS_CA")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in done.stderr + done.stdout
    env["SPRUCE_TLS_CA"] = str(pki.ca)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_every_port_has_the_same_tls_settings(
    tls_server: LiveServer, pki: Pki, index_host: str
) -> None:
    """Clients limited to TLS 1.2 and an AEAD suite are served on both ports; others
    get TLS 1.3."""
    for port in (tls_server.port, _port(index_host)):
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.2"
            assert tls.cipher()[0] == "ECDHE-ECDSA-AES128-GCM-SHA256"
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() == "TLSv1.3"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.4", False),
        ("spruce.example.com", False),
    ],
)
def test_which_binds_warn(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_settings_base_url(tmp_path: Path, pki: Pki) -> None:
    settings = Settings(data_dir=tmp_path, host="::1", port=5080)
    settings.tls_cert = settings.tls_key = None
    assert settings.public_base == "http://[::1]:5080"
    settings.tls_cert, settings.tls_key = pki.cert, pki.key
    assert settings.public_base == "https://[::1]:5080"
    settings.advertised_host = "db.example.com"
    assert settings.public_base == "https://db.example.com:5080"
    settings.tls_key = None
    with pytest.raises(ValueError, match="give both"):
        _ = settings.tls
