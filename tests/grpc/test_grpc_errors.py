"""Every error class has a gRPC status, and it is the code REST's data plane reports."""

from __future__ import annotations

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


def test_unknown_exception_is_internal() -> None:
    assert status_for(RuntimeError("boom")) == (
        grpc.StatusCode.INTERNAL,
        "Internal server error",
    )
