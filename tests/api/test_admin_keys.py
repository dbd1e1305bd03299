"""The admin API for API keys (what the console's keys page uses), decoded with the
SDK's own admin models so the shapes are Pinecone's."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import httpx
import pytest
from pinecone._internal.adapters.admin_adapter import AdminAdapter
from pinecone.errors import UnauthorizedError

from tests.api.helpers import client
from tests.conftest import API_KEY, LiveServer

ROOT = Path(__file__).resolve().parents[2]


def _get(server: LiveServer, path: str, key: str = API_KEY) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Api-Key": key}, timeout=10)


def _project_id(server: LiveServer) -> str:
    res = _get(server, "/admin/projects")
    assert res.status_code == 200
    projects = AdminAdapter.to_project_list(res.content)
    assert len(projects) == 1
    return str(projects[0].id)


def test_project_of_the_key(server: LiveServer) -> None:
    project_id = _project_id(server)
    res = _get(server, f"/admin/projects/{project_id}")
    assert res.status_code == 200
    project = AdminAdapter.to_project(res.content)
    assert (project.id, project.name) == (project_id, "default")
    other = _get(server, "/admin/projects/proj-someone-else")
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"


def test_create_list_use_and_delete_a_key(server: LiveServer) -> None:
    project_id = _project_id(server)
    created = httpx.post(
        f"{server.url}/admin/projects/{project_id}/api-keys",
        headers={"Api-Key": API_KEY},
        json={"name": "ci-key", "roles": ["ProjectEditor"]},
        timeout=10,
    )
    assert created.status_code == 201
    secret = AdminAdapter.to_api_key_with_secret(created.content)
    assert secret.value.startswith("sk-spruce-") and len(secret.value) > 30
    assert secret.key.name == "ci-key" and secret.key.project_id == project_id
    assert [r.value for r in secret.key.roles] == ["ProjectEditor"]
    key_id = secret.key.id

    listed = AdminAdapter.to_api_key_list(
        _get(server, f"/admin/projects/{project_id}/api-keys").content
    )
    by_id = {k.id: k for k in listed}
    assert by_id[key_id].name == "ci-key"
    assert "default" in {k.name for k in listed}  # the key the server started with
    # The listing never carries a secret.
    assert secret.value not in _get(server, f"/admin/projects/{project_id}/api-keys").text

    described = AdminAdapter.to_api_key(_get(server, f"/admin/api-keys/{key_id}").content)
    assert (described.id, described.name) == (key_id, "ci-key")

    # The new key works with the SDK, then stops working once deleted.
    assert client(server, api_key=secret.value).list_indexes() is not None
    gone = httpx.delete(
        f"{server.url}/admin/api-keys/{key_id}", headers={"Api-Key": API_KEY}, timeout=10
    )
    assert gone.status_code == 202
    with pytest.raises(UnauthorizedError):
        client(server, api_key=secret.value).list_indexes()
    assert _get(server, f"/admin/api-keys/{key_id}").status_code == 404
    again = httpx.delete(
        f"{server.url}/admin/api-keys/{key_id}", headers={"Api-Key": API_KEY}, timeout=10
    )
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "name must be a non-empty string"),
        ({"name": "  "}, "name must be a non-empty string"),
        ({"name": "x" * 81}, "name must be at most 80 characters"),
        ({"name": "k", "roles": ["Owner"]}, "roles must be a non-empty list of"),
        ({"name": "k", "roles": []}, "roles must be a non-empty list of"),
        ({"name": "k", "roles": [{"a": 1}]}, "roles must be a non-empty list of"),
        ({"name": "k", "roles": "ProjectEditor"}, "roles must be a non-empty list of"),
    ],
)
def test_bad_create_requests(server: LiveServer, body: dict[str, object], message: str) -> None:
    project_id = _project_id(server)
    res = httpx.post(
        f"{server.url}/admin/projects/{project_id}/api-keys",
        headers={"Api-Key": API_KEY},
        json=body,
        timeout=10,
    )
    assert res.status_code == 400
    assert res.json()["error"]["message"].startswith(message)


def test_admin_needs_a_valid_key(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/admin/projects", timeout=10).status_code == 401
    assert _get(server, "/admin/projects", key="not-a-key").status_code == 401
    project_id = _project_id(server)
    foreign = httpx.post(
        f"{server.url}/admin/projects/proj-someone-else/api-keys",
        headers={"Api-Key": API_KEY},
        json={"name": "x"},
        timeout=10,
    )
    assert foreign.status_code == 404
    assert _get(server, f"/admin/projects/{project_id}/api-keys", key="nope").status_code == 401


def test_console_is_served_with_strict_headers(server: LiveServer) -> None:
    for path in ("/", "/console"):
        res = httpx.get(f"{server.url}{path}", timeout=10)
        assert (res.status_code, res.headers["location"]) == (307, "/console/")
    page = httpx.get(f"{server.url}/console/", timeout=10)
    assert page.status_code == 200 and "<title>Spruce console</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = httpx.get(f"{server.url}/console/js/app.js", timeout=10)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert httpx.get(f"{server.url}/console/nope.js", timeout=10).status_code == 404


def test_every_console_file_is_package_data() -> None:
    """An installed (non-editable) spruce must carry every static file."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["spruce"]
    package = ROOT / "src" / "spruce"
    files = [p for p in (package / "console" / "static").rglob("*") if p.is_file()]
    assert len(files) >= 10
    for path in files:
        relative = path.relative_to(package).as_posix()
        # setuptools globs do not cross "/" with "*"
        assert any(
            fnmatch.fnmatch(relative, g) and relative.count("/") == g.count("/") for g in globs
        ), relative
