"""The console in a browser over TLS (docs/TLS.md): the page, its API calls and an index's
data-plane calls (on the main port's ``/data/...`` path) all go over https.

Chromium is told to trust the test server's key only (``--ignore-certificate-errors-
spki-list``), not to ignore certificate errors in general: it must still see a
certificate for the right key, and every request it makes is https.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pinecone import Pinecone, ServerlessSpec

from tests.api.pki import make_pki
from tests.conftest import API_KEY, LiveServer
from tests.console.conftest import ARGS, CHROMIUM, login

pytest.importorskip("playwright")


def _spki_sha256(cert: Path) -> str:
    public = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture(scope="module")
def tls_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("console-tls")
    pki = make_pki(root / "pki")
    server = LiveServer(
        root / "data", extra=["--tls-cert", str(pki.cert), "--tls-key", str(pki.key)], ca=pki.ca
    )
    server.data_dir.mkdir()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_page(browser: Any, tls_live: LiveServer) -> Iterator[Any]:
    """A browser of its own (the session's has no flag for this key), same Playwright."""
    assert tls_live.ca is not None
    spki = _spki_sha256(tls_live.ca.with_name("server.pem"))
    found = browser.browser_type.launch(
        executable_path=CHROMIUM, args=[*ARGS, f"--ignore-certificate-errors-spki-list={spki}"]
    )
    context = found.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    urls: list[str] = []
    errors: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.requests = urls
    yield page
    context.close()
    found.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def test_the_console_over_https(tls_page: Any, tls_live: LiveServer) -> None:
    pc = Pinecone(api_key=API_KEY, host=tls_live.url, ssl_ca_certs=str(tls_live.ca))
    spec = ServerlessSpec(cloud="aws", region="us-east-1")
    pc.create_index(name="secure", dimension=2, metric="cosine", spec=spec)
    index = pc.Index(host=pc.describe_index("secure").host)
    index.upsert(vectors=[("a", [1.0, 0.0]), ("b", [0.0, 1.0])], namespace="ns")
    login(tls_page, tls_live)
    tls_page.get_by_test_id("index-row-secure").get_by_role("link", name="secure").click()
    tls_page.get_by_test_id("ns-count-ns").wait_for()
    assert tls_page.get_by_test_id("ns-count-ns").inner_text().strip() == "2"
    assert tls_page.url.startswith(f"https://127.0.0.1:{tls_live.port}/console")
    # Every request the page made went over https to the main port.
    assert tls_page.requests
    assert all(u.startswith(f"https://127.0.0.1:{tls_live.port}/") for u in tls_page.requests)
