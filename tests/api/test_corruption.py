"""Damaged data reaches the client as Pinecone's error, with a request id and no server
paths (REST and gRPC); the server log has the path and the check that failed."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from pinecone.exceptions import PineconeException

from tests.api.helpers import client, make_index
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

H = {"Api-Key": API_KEY}


def test_corrupt_vectors_are_an_error_without_paths(small_flush_server: LiveServer) -> None:
    server = small_flush_server
    pc = client(server)
    index = make_index(pc, "damaged", dimension=4)
    index.upsert(vectors=[(f"v{i}", [float(i), 1.0, 2.0, 3.0]) for i in range(10)])
    deadline = time.monotonic() + 20
    while not (found := list(server.data_dir.rglob("vectors.npy"))):
        assert time.monotonic() < deadline, "no segment was flushed"
        time.sleep(0.1)
    server.stop()
    [vectors] = found
    data = bytearray(vectors.read_bytes())
    data[-3] ^= 0x01  # one bit of v9's last value
    vectors.write_bytes(bytes(data))
    server.start()
    host = pc.describe_index("damaged").host

    r = httpx.get(f"{host}/vectors/fetch", params={"ids": "v9"}, headers=H, timeout=10)
    assert r.status_code == 500
    body = r.json()
    assert body["code"] == 13 and body["details"] == []
    request_id = r.headers["x-pinecone-request-id"]
    assert body["message"] == (
        "Stored data failed an integrity check; the server log has the details "
        f"(request id {request_id})"
    )
    assert "/" not in body["message"]

    with pytest.raises(PineconeException) as sdk_error:  # the SDK over REST
        pc.Index(host=host).fetch(ids=["v9"])
    sdk_id = sdk_error.value.request_id  # type: ignore[attr-defined]
    assert re.fullmatch("[0-9a-f]{32}", sdk_id) and str(server.data_dir) not in str(sdk_error.value)

    with pytest.raises(PineconeException) as caught:
        grpc_client(server).Index(host=host).fetch(ids=["v9"])
    text = str(caught.value)
    assert "integrity check" in text and str(server.data_dir) not in text
    [grpc_id] = re.findall(r"request id ([0-9a-f]{32})", text)

    log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    for rid in (request_id, sdk_id, grpc_id):
        [line] = [x for x in log.splitlines() if f"request id {rid}" in x]
        assert f"{vectors}: CRC-32" in line and "does not match the manifest" in line
