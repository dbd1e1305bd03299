"""Pinecone routes this server lacks, and wrong methods, answer in Pinecone's error shape."""

from __future__ import annotations

import httpx
import pytest
from pinecone.errors import ApiError

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}
COLLECTIONS = (
    "Collections are not supported by this server. Pinecone recommends backups instead of "
    "collections for serverless indexes, and every index here is serverless."
)
ASSISTANT = "Pinecone Assistant is not supported by this server"


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/collections", COLLECTIONS),
        ("POST", "/collections", COLLECTIONS),
        ("GET", "/collections/movies", COLLECTIONS),
        ("DELETE", "/collections/movies", COLLECTIONS),
        ("GET", "/assistant/assistants", ASSISTANT),
        ("POST", "/assistant/assistants", ASSISTANT),
        ("PATCH", "/assistant/assistants/helper", ASSISTANT),
        ("DELETE", "/assistant/assistants/helper", ASSISTANT),
        ("POST", "/assistant/chat/helper", ASSISTANT),
        ("GET", "/assistant/files/helper", ASSISTANT),
    ],
)
def test_unsupported_routes_say_so(
    server: LiveServer, method: str, path: str, message: str
) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=H, json={})
    assert response.status_code == 501
    assert response.json() == {
        "error": {"code": "UNIMPLEMENTED", "message": message},
        "status": 501,
    }


def test_sdk_collection_calls_get_the_message(server: LiveServer) -> None:
    pc = client(server)
    with pytest.raises(ApiError) as info:
        pc.list_collections()
    assert info.value.status_code == 501
    assert "Pinecone recommends backups" in str(info.value)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/indexes", "GET, HEAD, POST"),
        ("DELETE", "/indexes", "GET, HEAD, POST"),
        ("POST", "/indexes/some-index", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/embed", "POST"),
        ("POST", "/models", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_control_plane(
    server: LiveServer, method: str, path: str, allow: str
) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=H)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json() == {
        "error": {
            "code": "UNIMPLEMENTED",
            "message": f"Method {method} is not allowed on {path}; allowed: {allow}",
        },
        "status": 405,
    }


def test_wrong_method_is_405_data_plane(server: LiveServer) -> None:
    pc = client(server)
    name = unique("methods")
    host = str(make_index(pc, name, dimension=2).host)
    try:
        path = host[host.index("/data/") :]
        for method, route, allow in [
            ("GET", "/query", "POST"),
            ("DELETE", "/vectors/upsert", "POST"),
            ("PUT", "/describe_index_stats", "GET, HEAD, POST"),
        ]:
            response = httpx.request(method, f"{host}{route}", headers=H)
            assert response.status_code == 405
            assert response.headers["allow"] == allow
            assert response.json() == {
                "code": 12,
                "message": f"Method {method} is not allowed on {path}{route}; allowed: {allow}",
                "details": [],
            }
    finally:
        pc.delete_index(name)
