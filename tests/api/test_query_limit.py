"""Pinecone's 4 MB query result limit, over REST and gRPC, against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import grpc
import httpx
import numpy as np
import pytest

from spruce.api.grpc.proto import db_data_2025_10_pb2 as pb
from spruce.api.grpc.proto import db_data_2025_10_pb2_grpc as pb_grpc
from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer

DIM = 1000
ROWS = 1100
MESSAGE = (
    "The query result is larger than the 4MB (4194304 bytes) result size limit. Choose a "
    "lower top_k value, or use include_metadata=False or include_values=False to exclude "
    "metadata or values from the result."
)


@pytest.fixture(scope="module")
def big(server: LiveServer) -> Iterator[Any]:
    pc = client(server)
    name = unique("result-size")
    index = make_index(pc, name, dimension=DIM)
    rng = np.random.default_rng(7)
    values = rng.random((ROWS, DIM), dtype=np.float32) + 0.01
    for start in range(0, ROWS, 100):
        index.upsert(
            vectors=[
                {"id": f"r{i:04d}", "values": values[i].tolist(), "metadata": {"n": i}}
                for i in range(start, start + 100)
            ]
        )
    yield index
    pc.delete_index(name)


def _query(index: Any, top_k: int, values: bool, metadata: bool = False) -> httpx.Response:
    body = {
        "vector": [1.0] * DIM,
        "topK": top_k,
        "includeValues": values,
        "includeMetadata": metadata,
    }
    return httpx.post(f"{index.host}/query", headers={"Api-Key": API_KEY}, json=body, timeout=60)


def test_result_over_4mb_refused_over_rest(big: Any) -> None:
    # 1,100 matches of 1,000 float32 values: 4.4 MB as protobuf.
    response = _query(big, ROWS, values=True)
    assert response.status_code == 400
    assert response.json() == {"code": 3, "message": MESSAGE, "details": []}


def test_result_under_4mb_served(big: Any) -> None:
    # 1,000 matches: 4.02 MB, under 4 MiB.
    response = _query(big, 1000, values=True, metadata=True)
    assert response.status_code == 200
    matches = response.json()["matches"]
    assert len(matches) == 1000
    assert all(len(m["values"]) == DIM for m in matches)
    # Without values the whole index fits.
    response = _query(big, ROWS, values=False, metadata=True)
    assert response.status_code == 200
    assert len(response.json()["matches"]) == ROWS


def test_result_over_4mb_refused_over_grpc(big: Any) -> None:
    req = pb.QueryRequest(vector=[1.0] * DIM, top_k=ROWS, include_values=True)
    with grpc.insecure_channel(urlparse(big.host).netloc) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Query(req, metadata=(("api-key", API_KEY),))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.value.details() == MESSAGE
