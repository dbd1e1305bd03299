"""Every error class has a gRPC status, and it is the code REST's data plane reports."""

from __future__ import annotations

import re

import grpc
import pytest

from spruce import errors
from spruce.api.grpc.errors import GRPC_STATUS, status_for
from spruce.api.rest.errors import HTTP_STATUS
from tests.test_errors import _all_errors


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda c: c.__name__)
def test_every_error_is_mapped(cls: type[errors.SpruceError]) -> None:
    assert cls in GRPC_STATUS
    # REST's data-plane body carries a gRPC code number: both edges must agree.
    assert GRPC_STATUS[cls].value[0] == HTTP_STATUS[cls][2]


def test_status_and_message() -> None:
    assert status_for(errors.NotFound("Namespace x not found")) == (
        grpc.StatusCode.NOT_FOUND,
        "Namespace x not found",
    )
    assert status_for(errors.PayloadTooLarge("big"))[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert status_for(errors.StorageFull())[0] == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_unknown_exception_is_internal() -> None:
    code, message = status_for(RuntimeError("boom"))
    assert code == grpc.StatusCode.INTERNAL
    assert re.fullmatch(r"Internal server error \(request id [0-9a-f]{32}\)", message)


def test_corruption_names_no_path(caplog: pytest.LogCaptureFixture) -> None:
    exc = errors.Corruption("/srv/data/ns-a/segments/1/vectors.npy: CRC-32 mismatch")
    code, message = status_for(exc)
    assert code == grpc.StatusCode.INTERNAL and "/srv" not in message
    [request_id] = re.findall(r"request id ([0-9a-f]{32})", message)
    assert f"request id {request_id}" in caplog.text and "vectors.npy: CRC-32" in caplog.text
