"""The only place SpruceErrors become HTTP statuses and Pinecone's error bodies.

Pinecone answers in two shapes: the control plane as
``{"error": {"code": "NOT_FOUND", "message": ...}, "status": 404}``, the data
plane (a gRPC gateway) as ``{"code": 5, "message": ..., "details": []}``.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response

from spruce import errors

__all__ = ["HTTP_STATUS", "error_response"]

#: class -> (HTTP status, control-plane code, gRPC code number)
HTTP_STATUS: dict[type[errors.SpruceError], tuple[int, str, int]] = {
    errors.InvalidArgument: (400, "INVALID_ARGUMENT", 3),
    errors.Unauthenticated: (401, "UNAUTHENTICATED", 16),
    errors.PermissionDenied: (403, "FORBIDDEN", 7),
    errors.NotFound: (404, "NOT_FOUND", 5),
    errors.AlreadyExists: (409, "ALREADY_EXISTS", 6),
    errors.FailedPrecondition: (400, "FAILED_PRECONDITION", 9),
    errors.ResourceExhausted: (429, "RESOURCE_EXHAUSTED", 8),
    errors.PayloadTooLarge: (413, "PAYLOAD_TOO_LARGE", 3),
    # Pinecone answers a full index with 403; the body's code matches gRPC's.
    errors.StorageFull: (403, "FORBIDDEN", 8),
    errors.Unavailable: (503, "UNAVAILABLE", 14),
    errors.Unimplemented: (501, "UNIMPLEMENTED", 12),
    # Pinecone's control-plane codes have no METHOD_NOT_ALLOWED; UNIMPLEMENTED is gRPC's.
    errors.MethodNotAllowed: (405, "UNIMPLEMENTED", 12),
    errors.Corruption: (500, "INTERNAL", 13),
    errors.Internal: (500, "INTERNAL", 13),
}


def error_response(
    exc: BaseException, *, data_plane: bool, headers: dict[str, str] | None = None
) -> Response:
    if not isinstance(exc, errors.SpruceError):
        internal = errors.Internal(f"unhandled error: {exc!r}")
        internal.__cause__ = exc  # logged with its traceback by client_message
        exc = internal
    status, code, grpc_code = HTTP_STATUS[type(exc)]
    message, request_id = errors.client_message(exc)
    if data_plane:
        body = {"code": grpc_code, "message": message, "details": []}
    else:
        body = {"error": {"code": code, "message": message}, "status": status}
    if request_id is not None:
        # The header the SDK reads into its exceptions' request_id.
        headers = {**(headers or {}), "x-pinecone-request-id": request_id}
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
