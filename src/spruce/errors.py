"""The one error tree of Spruce.

Every failure a client can see is a ``SpruceError``; the edges (``api/rest``,
``api/grpc``) map each class to a status code and nothing else does::

    SpruceError
     ├── InvalidArgument      bad input (400 / INVALID_ARGUMENT)
     ├── Unauthenticated      missing or unknown API key (401)
     ├── PermissionDenied     e.g. deletion protection (403)
     ├── NotFound             unknown index, namespace, import (404)
     ├── AlreadyExists        index name taken (409)
     ├── FailedPrecondition   state forbids the call (400 / FAILED_PRECONDITION)
     ├── ResourceExhausted    quotas and system limits (429)
     ├── PayloadTooLarge      request bigger than the limit (413)
     ├── StorageFull          the data disk is full; nothing was written (403)
     ├── Unavailable          paused or shutting down (503)
     ├── Unimplemented        not supported by this server (501)
     ├── MethodNotAllowed     a served route, another HTTP method (405)
     ├── Corruption           on-disk data failed a checksum (500)
     └── Internal             anything else (500)
"""

from __future__ import annotations

import logging
import uuid

__all__ = [
    "AlreadyExists",
    "Corruption",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "ResourceExhausted",
    "SpruceError",
    "StorageFull",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "client_message",
]


class SpruceError(Exception):
    """Base of every error a client can see; ``message`` is sent verbatim."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(SpruceError):
    pass


class Unauthenticated(SpruceError):
    pass


class PermissionDenied(SpruceError):
    pass


class NotFound(SpruceError):
    pass


class AlreadyExists(SpruceError):
    pass


class FailedPrecondition(SpruceError):
    pass


class ResourceExhausted(SpruceError):
    pass


class PayloadTooLarge(SpruceError):
    pass


class StorageFull(SpruceError):
    """The disk under the data directory is full (ENOSPC) or over quota (EDQUOT).

    Raised only once the failed step is undone, so the message can say that nothing
    was written; reads and deletes keep working.
    """

    DEFAULT = "Storage is full: the server's data disk has no space left; nothing was written"

    def __init__(self, message: str = DEFAULT) -> None:
        super().__init__(message)


class Unavailable(SpruceError):
    pass


class Unimplemented(SpruceError):
    pass


class MethodNotAllowed(SpruceError):
    pass


class Corruption(SpruceError):
    pass


class Internal(SpruceError):
    pass


_log = logging.getLogger(__name__)


def client_message(exc: SpruceError) -> tuple[str, str | None]:
    """What a client is told about ``exc``, and the request id it was logged under.

    Server-side failures (``Corruption``, ``Internal``) carry details meant for the
    operator (file paths, the check that failed): those go to the log under a fresh
    request id, and the client gets only the id. Both edges answer through this.
    """
    if not isinstance(exc, Corruption | Internal):
        return exc.message, None
    request_id = uuid.uuid4().hex
    _log.error("%s (request id %s): %s", type(exc).__name__, request_id, exc.message, exc_info=exc)
    if isinstance(exc, Corruption):
        text = "Stored data failed an integrity check; the server log has the details"
        return f"{text} (request id {request_id})", request_id
    return f"Internal server error (request id {request_id})", request_id
