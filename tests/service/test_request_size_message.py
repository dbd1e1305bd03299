"""The 413 message is Pinecone's, with the size in whole MiB rounded up."""

from __future__ import annotations

import pytest

from spruce.service.limits import MAX_REQUEST_BYTES, request_too_large

MIB = 1 << 20


@pytest.mark.parametrize(
    ("size", "shown"),
    [(MAX_REQUEST_BYTES + 1, 3), (3 * MIB, 3), (3 * MIB + 1, 4), (100_000_000, 96)],
)
def test_size_rounded_up_to_whole_mib(size: int, shown: int) -> None:
    assert request_too_large(size).message == (
        f"Request size {shown}MB exceeds the maximum supported size of 2MB"
    )
