"""The only place SpruceErrors become gRPC status codes.

The codes agree with the ``code`` that REST's data plane puts in its error body
(``api/rest/errors.py``), so a client sees the same code on either protocol.
The SDK turns NOT_FOUND, INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED and
ALREADY_EXISTS into the same exception classes as the matching HTTP statuses.
"""

from __future__ import annotations

import grpc

from spruce import errors

__all__ = ["GRPC_STATUS", "status_for"]

GRPC_STATUS: dict[type[errors.SpruceError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    # The SDK retries RESOURCE_EXHAUSTED with backoff, as it should for quotas.
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    # Not RESOURCE_EXHAUSTED: retrying an oversized request cannot succeed.
    errors.PayloadTooLarge: grpc.StatusCode.INVALID_ARGUMENT,
    errors.StorageFull: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unimplemented: grpc.StatusCode.UNIMPLEMENTED,
    errors.MethodNotAllowed: grpc.StatusCode.UNIMPLEMENTED,
    errors.Corruption: grpc.StatusCode.INTERNAL,
    errors.Internal: grpc.StatusCode.INTERNAL,
}


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a failed call answers with; unknown errors are logged."""
    if not isinstance(exc, errors.SpruceError):
        internal = errors.Internal(f"unhandled error in a gRPC call: {exc!r}")
        internal.__cause__ = exc  # logged with its traceback by client_message
        exc = internal
    return GRPC_STATUS[type(exc)], errors.client_message(exc)[0]
