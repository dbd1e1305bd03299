"""Helpers for SDK-driven tests."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

from pinecone import Pinecone, ServerlessSpec

from tests.conftest import API_KEY, LiveServer

_names = itertools.count()


def client(server: LiveServer, api_key: str = API_KEY) -> Pinecone:
    warnings.filterwarnings("ignore", category=RuntimeWarning, module="pinecone")
    return Pinecone(api_key=api_key, host=server.url)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def make_index(pc: Pinecone, name: str, dimension: int = 8, **kwargs: Any) -> Any:
    pc.create_index(
        name=name,
        dimension=dimension,
        metric=kwargs.pop("metric", "cosine"),
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        **kwargs,
    )
    return pc.Index(host=pc.describe_index(name).host)
