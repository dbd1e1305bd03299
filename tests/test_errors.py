"""Every error class has an HTTP mapping, and the two body shapes are Pinecone's."""

from __future__ import annotations

import orjson
import pytest

from spruce import errors
from spruce.api.rest.errors import HTTP_STATUS, error_response


def _all_errors() -> list[type[errors.SpruceError]]:
    found: list[type[errors.SpruceError]] = []
    pending = [errors.SpruceError]
    while pending:
        cls = pending.pop()
        found.extend(cls.__subclasses__())
        pending.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", _all_errors(), ids=lambda c: c.__name__)
def test_every_error_is_mapped(cls: type[errors.SpruceError]) -> None:
    assert cls in HTTP_STATUS
    assert cls.__name__ in errors.__all__


def test_control_plane_shape() -> None:
    response = error_response(errors.NotFound("Resource x not found"), data_plane=False)
    assert response.status_code == 404
    assert orjson.loads(response.body) == {
        "error": {"code": "NOT_FOUND", "message": "Resource x not found"},
        "status": 404,
    }


def test_data_plane_shape() -> None:
    response = error_response(errors.InvalidArgument("bad"), data_plane=True)
    assert response.status_code == 400
    assert orjson.loads(response.body) == {"code": 3, "message": "bad", "details": []}


def test_unknown_exception_is_internal() -> None:
    response = error_response(RuntimeError("boom"), data_plane=False)
    assert response.status_code == 500
    assert orjson.loads(response.body)["error"]["code"] == "INTERNAL"


def test_storage_full_shape() -> None:
    response = error_response(errors.StorageFull(), data_plane=True)
    assert response.status_code == 403
    assert orjson.loads(response.body) == {
        "code": 8,
        "message": errors.StorageFull.DEFAULT,
        "details": [],
    }
    assert "nothing was written" in errors.StorageFull.DEFAULT
