"""gRPC-only scenarios for the SDK's PineconeGRPC client; the shared data-plane
scenarios run over both transports in tests/api/test_data_plane.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pinecone import ApiError, NotFoundError, ServerlessSpec, UnauthorizedError
from pinecone.grpc import GrpcIndex, PineconeGRPC

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client


@pytest.fixture
def pc(server: LiveServer) -> PineconeGRPC:
    return grpc_client(server)


@pytest.fixture
def index(pc: PineconeGRPC) -> Iterator[Any]:
    name = unique("grpc")
    idx = make_index(pc, name, dimension=4)
    assert isinstance(idx, GrpcIndex)
    yield idx
    pc.delete_index(name)


def test_scheme_from_the_environment(
    server: LiveServer, index: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pinecone's code untouched: only PINECONE_GRPC_SCHEME=http is set."""
    monkeypatch.setenv("PINECONE_GRPC_SCHEME", "http")
    plain = PineconeGRPC(api_key=API_KEY, host=server.url).Index(host=index.host)
    plain.upsert(vectors=[("env", [1, 0, 0, 0])])
    assert set(plain.fetch(ids=["env"]).vectors) == {"env"}


def test_concurrent_batches(index: Any) -> None:
    vectors = [(f"b{i}", [1, i, 0, 0]) for i in range(50)]
    result = index.upsert(vectors=vectors, batch_size=5)
    assert result.upserted_count == 50
    assert index.describe_index_stats().total_vector_count == 50


def test_sparse_and_hybrid_values_round_trip(pc: PineconeGRPC) -> None:
    name = unique("grpc-hybrid")
    index = make_index(pc, name, dimension=2, metric="dotproduct")
    try:
        index.upsert(
            vectors=[
                {
                    "id": "h1",
                    "values": [1, 0],
                    "sparse_values": {"indices": [7, 3], "values": [0.5, 2.0]},
                },
                {"id": "h2", "values": [0, 1]},
            ]
        )
        got = index.fetch(ids=["h1"]).vectors["h1"]
        assert got.sparse_values is not None
        assert (got.sparse_values.indices, got.sparse_values.values) == ([3, 7], [2.0, 0.5])
        result = index.query(
            vector=[1, 0],
            sparse_vector={"indices": [3], "values": [1.0]},
            top_k=2,
            include_values=True,
        )
        assert [m.id for m in result.matches] == ["h1", "h2"]
        assert result.matches[0].score == pytest.approx(3.0)
        assert result.matches[0].sparse_values is not None
    finally:
        pc.delete_index(name)


def test_errors_are_the_sdk_classes_rest_gives(server: LiveServer, index: Any) -> None:
    with pytest.raises(ApiError) as bad:
        index.query(vector=[1, 0], top_k=3)
    assert bad.value.status_code == 400
    assert "dimension 2 does not match the dimension of the index 4" in bad.value.message
    with pytest.raises(NotFoundError):
        index.describe_namespace(namespace="nope")
    with pytest.raises(NotFoundError):
        index.update(id="ghost", values=[1, 0, 0, 0])
    stranger = grpc_client(server, api_key="not-a-key").Index(host=index.host)
    with pytest.raises(UnauthorizedError):
        stranger.fetch(ids=["a"])


def test_one_host_serves_rest_and_grpc(server: LiveServer, index: Any) -> None:
    """The host describe_index returns works unchanged for both clients, and the
    main port's path-prefix host keeps working for REST."""
    rest_pc = client(server)
    rest = rest_pc.Index(host=index.host)
    rest.upsert(vectors=[("r", [0, 0, 1, 0], {"via": "rest"})], namespace="both")
    index.upsert(vectors=[("g", [0, 0, 0, 1], {"via": "grpc"})], namespace="both")
    assert set(rest.fetch(ids=["r", "g"], namespace="both").vectors) == {"r", "g"}
    assert set(index.fetch(ids=["r", "g"], namespace="both").vectors) == {"r", "g"}
    path = index.host.split("/", 3)[3]
    main_port = rest_pc.Index(host=f"{server.url}/{path}")
    assert main_port.describe_index_stats().namespaces["both"].vector_count == 2


def test_sparse_index(pc: PineconeGRPC) -> None:
    name = unique("grpc-sparse")
    pc.create_index(
        name=name,
        metric="dotproduct",
        vector_type="sparse",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    index = pc.Index(host=pc.describe_index(name).host)
    try:
        index.upsert(
            vectors=[
                {"id": "s1", "sparse_values": {"indices": [1, 9], "values": [1.0, 2.0]}},
                {"id": "s2", "sparse_values": {"indices": [9], "values": [0.5]}},
            ]
        )
        result = index.query(sparse_vector={"indices": [9], "values": [2.0]}, top_k=2)
        assert [(m.id, m.score) for m in result.matches] == [("s1", 4.0), ("s2", 1.0)]
        got = index.fetch(ids=["s2"]).vectors["s2"]
        assert got.values == [] and got.sparse_values is not None
        assert (got.sparse_values.indices, got.sparse_values.values) == ([9], [0.5])
        stats = index.describe_index_stats()
        assert (stats.dimension, stats.total_vector_count) == (None, 2)
    finally:
        pc.delete_index(name)
