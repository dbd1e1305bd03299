"""PineconeGRPC clients for a live server (plaintext: Spruce serves no TLS)."""

from __future__ import annotations

import warnings

from pinecone.grpc import PineconeGRPC

from tests.conftest import API_KEY, LiveServer

__all__ = ["grpc_client"]


def grpc_client(server: LiveServer, api_key: str = API_KEY) -> PineconeGRPC:
    # The SDK warns about plaintext gRPC to non-loopback hosts; these are loopback.
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pinecone")
    return PineconeGRPC(api_key=api_key, host=server.url, grpc_scheme="http")
