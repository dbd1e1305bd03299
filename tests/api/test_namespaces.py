"""The namespaces API and ``delete_all`` as Pinecone's spec and guides describe them, over
raw HTTP, the SDK's REST client and PineconeGRPC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

HEADERS = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2025-10"}


@pytest.fixture(params=["rest", "grpc"])
def pc(server: LiveServer, request: pytest.FixtureRequest) -> Any:
    return client(server) if request.param == "rest" else grpc_client(server)


@pytest.fixture
def host(server: LiveServer) -> Iterator[str]:
    """A fresh 4-dimension index's REST host."""
    pc = client(server)
    name = unique("ns")
    yield str(make_index(pc, name, dimension=4).host)
    pc.delete_index(name)


def test_delete_namespace_answers_200_with_a_json_body(host: str) -> None:
    """2025-10 spec: 200 with a DeleteResponse (``{}``), which the TypeScript SDK parses."""
    up = httpx.post(
        f"{host}/vectors/upsert",
        headers=HEADERS,
        json={"vectors": [{"id": "a", "values": [1, 0, 0, 0]}], "namespace": "gone"},
    )
    assert up.status_code == 200
    response = httpx.delete(f"{host}/namespaces/gone", headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    missing = httpx.delete(f"{host}/namespaces/gone", headers=HEADERS)
    assert missing.status_code == 404
