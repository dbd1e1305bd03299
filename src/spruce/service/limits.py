"""Pinecone's documented limits, in one place."""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from spruce.errors import InvalidArgument, PayloadTooLarge
from spruce.types import Match

__all__ = [
    "MAX_DIMENSION",
    "MAX_ID_LENGTH",
    "MAX_INDEX_NAME",
    "MAX_LIST_LIMIT",
    "MAX_FETCH_BY_METADATA_LIMIT",
    "DEFAULT_FETCH_BY_METADATA_LIMIT",
    "MAX_METADATA_BYTES",
    "MAX_REQUEST_BYTES",
    "MAX_SPARSE_NNZ",
    "MAX_TOP_K",
    "MAX_UPSERT_BATCH",
    "MAX_FETCH_IDS",
    "MAX_DELETE_IDS",
    "MAX_NAMESPACE_LENGTH",
    "MAX_QUERY_RESULT_BYTES",
    "check_query_result",
    "request_too_large",
]

MAX_DIMENSION = 20_000
MAX_INDEX_NAME = 45
MAX_ID_LENGTH = 512
MAX_NAMESPACE_LENGTH = 512
MAX_METADATA_BYTES = 40 * 1024
MAX_UPSERT_BATCH = 1000
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_TOP_K = 10_000
MAX_LIST_LIMIT = 100
MAX_FETCH_BY_METADATA_LIMIT = 10_000
DEFAULT_FETCH_BY_METADATA_LIMIT = 100
MAX_FETCH_IDS = 1000
MAX_DELETE_IDS = 1000
MAX_SPARSE_NNZ = 2048
#: Pinecone's limit on one query's result ("Max result size 4MB").
MAX_QUERY_RESULT_BYTES = 4 * 1024 * 1024


def request_too_large(size: int) -> PayloadTooLarge:
    """The one message for a body over ``MAX_REQUEST_BYTES`` (REST, NDJSON and gRPC)."""
    # Pinecone's wording, in whole MiB rounded up (a body just over 2 MiB is "3MB",
    # never "2MB exceeds ... 2MB").
    mib = 1 << 20
    return PayloadTooLarge(
        f"Request size {-(-size // mib)}MB exceeds the maximum supported size of "
        f"{MAX_REQUEST_BYTES // mib}MB"
    )


def check_query_result(matches: Iterable[Match], *, values_dimension: int = 0) -> None:
    """Refuse a query result over ``MAX_QUERY_RESULT_BYTES``, with Pinecone's advice.

    The size is that of the result as protobuf (what Pinecone's limit measures, and
    the same for REST and gRPC): 4 bytes a value, 8 a sparse entry, metadata as its
    JSON. Counting stops at the limit, before any response is built.
    ``values_dimension``: count each match as carrying that many values (matches of
    ids and scores only, before their vectors are gathered).
    """
    size = 0
    for m in matches:
        size += len(m.id.encode()) + 12  # id, score and framing
        if values_dimension:
            size += 4 * values_dimension + 4
        elif m.values is not None:
            size += 4 * len(m.values) + 4
        if m.sparse is not None:
            size += 8 * len(m.sparse.indices) + 8
        if m.metadata:
            size += len(orjson.dumps(m.metadata)) + 4
        if size > MAX_QUERY_RESULT_BYTES:
            raise InvalidArgument(
                f"The query result is larger than the 4MB ({MAX_QUERY_RESULT_BYTES} bytes) "
                "result size limit. Choose a lower top_k value, or use "
                "include_metadata=False or include_values=False to exclude metadata or "
                "values from the result."
            )
