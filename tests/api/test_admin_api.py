"""The Admin API driven by the SDK's own ``pinecone.Admin``, pointed at a live server
(``host`` and ``oauth_url``), with a credential made by ``spruce admin create-credential``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pinecone import Admin
from pinecone.errors import (
    ApiError,
    ForbiddenError,
    NotFoundError,
    PineconeError,
    UnauthorizedError,
)

from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

DATA = {"dimension": 2, "metric": "cosine"}


def _credential(data_dir: Path) -> tuple[str, str]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "spruce.cli",
            "admin",
            "create-credential",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    ).stdout
    pairs = dict(line.split("=", 1) for line in out.strip().splitlines())
    return pairs["PINECONE_CLIENT_ID"], pairs["PINECONE_CLIENT_SECRET"]


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("admin") / "data")
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def creds(admin_server: LiveServer) -> tuple[str, str]:
    return _credential(admin_server.data_dir)


def _admin(server: LiveServer, creds: tuple[str, str]) -> Admin:
    return Admin(
        client_id=creds[0],
        client_secret=creds[1],
        host=server.url,
        oauth_url=f"{server.url}/oauth/token",
    )


def _bearer(server: LiveServer, creds: tuple[str, str]) -> dict[str, str]:
    res = httpx.post(
        f"{server.url}/oauth/token",
        json={"client_id": creds[0], "client_secret": creds[1], "grant_type": "client_credentials"},
    )
    return {"Authorization": f"Bearer {res.json()['access_token']}"}


def test_token_endpoint_and_key_file(admin_server: LiveServer, creds: tuple[str, str]) -> None:
    res = httpx.post(
        f"{admin_server.url}/oauth/token",
        json={"client_id": creds[0], "client_secret": creds[1], "grant_type": "client_credentials"},
    )
    assert res.status_code == 200
    body = res.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 1800)
    key_file = admin_server.data_dir / "admin-token.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    wrong = httpx.post(
        f"{admin_server.url}/oauth/token",
        json={"client_id": creds[0], "client_secret": "nope", "grant_type": "client_credentials"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    with pytest.raises(ApiError) as raised:
        Admin(
            client_id=creds[0],
            client_secret="wrong",
            host=admin_server.url,
            oauth_url=f"{admin_server.url}/oauth/token",
        )
    assert raised.value.status_code == 401
    forged = httpx.get(
        f"{admin_server.url}/admin/projects", headers={"Authorization": "Bearer spt1.e30.xx"}
    )
    assert forged.status_code == 401
    # The credential's secret is stored hashed, never in the clear.
    assert creds[1].encode() not in (admin_server.data_dir / "catalog.sqlite3").read_bytes()


def test_projects_and_keys_through_the_sdk(
    admin_server: LiveServer, creds: tuple[str, str]
) -> None:
    admin = _admin(admin_server, creds)
    before = {p.id for p in admin.projects.list()}
    made = admin.projects.create(name="search", max_pods=3, force_encryption_with_cmek=False)
    assert (made.name, made.max_pods, made.organization_id) == ("search", 3, "spruce")
    assert made.created_at is not None and made.id not in before
    assert admin.projects.describe(project_id=made.id) == made
    assert {p.id for p in admin.projects.list()} == before | {made.id}
    renamed = admin.projects.update(project_id=made.id, name="search-2", max_pods=4)
    assert (renamed.name, renamed.max_pods) == ("search-2", 4)

    key = admin.api_keys.create(project_id=made.id, name="viewer", roles=["DataPlaneViewer"])
    assert [r.value for r in key.key.roles] == ["DataPlaneViewer"]
    assert [k.id for k in admin.api_keys.list(project_id=made.id)] == [key.key.id]
    assert admin.api_keys.describe(api_key_id=key.key.id).name == "viewer"
    changed = admin.api_keys.update(api_key_id=key.key.id, name="editor", roles=["ProjectEditor"])
    assert (changed.name, [r.value for r in changed.roles]) == ("editor", ["ProjectEditor"])

    # The key reaches its own project only: the default project's indexes are not its.
    pc = client(admin_server, api_key=key.value)
    pc.indexes.create(
        name="in-search", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
    )
    assert [i.name for i in pc.indexes.list()] == ["in-search"]
    assert "in-search" not in [i.name for i in client(admin_server).indexes.list()]

    with pytest.raises(ApiError) as held:
        admin.projects.delete(project_id=made.id)
    assert held.value.status_code == 400 and "still has 1 index" in held.value.message
    pc.indexes.delete("in-search")
    admin.api_keys.delete(api_key_id=key.key.id)
    with pytest.raises(UnauthorizedError):  # indexes.list() is lazy: list() sends it
        list(client(admin_server, api_key=key.value).indexes.list())
    admin.projects.delete(project_id=made.id)
    with pytest.raises(NotFoundError):
        admin.projects.describe(project_id=made.id)


def test_role_matrix(admin_server: LiveServer, creds: tuple[str, str]) -> None:
    """Each role against a control-plane read and write and a data-plane read and write."""
    admin = _admin(admin_server, creds)
    default = next(p for p in admin.projects.list() if p.name == "default")
    name = unique("roles")
    client(admin_server).indexes.create(
        name=name, spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
    )
    host = client(admin_server).indexes.describe(name).host
    expected = {  # role -> (control read, control write, data read, data write)
        "ProjectEditor": (True, True, True, True),
        "ProjectViewer": (True, False, True, False),
        "ControlPlaneEditor": (True, True, False, False),
        "ControlPlaneViewer": (True, False, False, False),
        "DataPlaneEditor": (False, False, True, True),
        "DataPlaneViewer": (False, False, True, False),
    }
    for role, wanted in expected.items():
        made = admin.api_keys.create(project_id=default.id, name=role, roles=[role])
        h = {"Api-Key": made.value}
        got = (
            httpx.get(f"{admin_server.url}/indexes", headers=h).status_code,
            httpx.patch(
                f"{admin_server.url}/indexes/{name}", headers=h, json={"tags": {"r": role}}
            ).status_code,
            httpx.post(f"{host}/query", headers=h, json={"vector": [1, 0], "topK": 1}).status_code,
            httpx.post(
                f"{host}/vectors/upsert",
                headers=h,
                json={"vectors": [{"id": "a", "values": [1, 0]}]},
            ).status_code,
        )
        assert tuple(s < 300 for s in got) == wanted, (role, got)
        assert all(s in (200, 403) for s in got), (role, got)
        denied = httpx.get(f"{admin_server.url}/indexes", headers=h) if not wanted[0] else None
        if denied is not None:
            assert denied.json()["error"]["code"] == "FORBIDDEN"
        admin.api_keys.delete(api_key_id=made.key.id)
    client(admin_server).indexes.delete(name)


def test_keys_manage_only_their_project(admin_server: LiveServer, creds: tuple[str, str]) -> None:
    admin = _admin(admin_server, creds)
    other = admin.projects.create(name=unique("other"))
    h = {"Api-Key": API_KEY}
    assert httpx.get(f"{admin_server.url}/admin/projects/{other.id}", headers=h).status_code == 404
    listed = httpx.get(f"{admin_server.url}/admin/projects", headers=h).json()["data"]
    assert [p["name"] for p in listed] == ["default"]
    made = httpx.post(f"{admin_server.url}/admin/projects", headers=h, json={"name": "x"})
    assert made.status_code == 403
    viewer = admin.api_keys.create(project_id=listed[0]["id"], name="v", roles=["ProjectViewer"])
    with pytest.raises(ForbiddenError):
        client(admin_server, api_key=viewer.value).indexes.create(
            name="nope", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
        )
    own = httpx.get(f"{admin_server.url}/admin/projects", headers={"Api-Key": viewer.value})
    assert own.status_code == 403  # managing keys needs ProjectEditor
    admin.api_keys.delete(api_key_id=viewer.key.id)
    admin.projects.delete(project_id=other.id)


def test_audit_log_and_restart(admin_server: LiveServer, creds: tuple[str, str]) -> None:
    admin = _admin(admin_server, creds)
    made = admin.projects.create(name=unique("audited"))
    key = admin.api_keys.create(project_id=made.id, name="k")
    pc = client(admin_server, api_key=key.value)
    pc.indexes.create(
        name="a1", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
    )
    with pytest.raises(ApiError):
        pc.indexes.create(
            name="a1", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
        )
    pc.indexes.delete("a1")

    admin_server.restart()
    admin = _admin(admin_server, creds)  # credentials and token key survive the restart
    assert admin.projects.describe(project_id=made.id).name == made.name
    assert admin.api_keys.describe(api_key_id=key.key.id).name == "k"
    bearer = _bearer(admin_server, creds)
    url = f"{admin_server.url}/admin/audit-log?project_id={made.id}"
    entries = httpx.get(url, headers=bearer).json()["data"]
    seen = [(e["actor"], e["action"], e["target"], e["status"]) for e in entries]
    assert seen == [
        (creds[0], "admin.create_project", "", 201),
        (creds[0], "admin.create_key", made.id, 201),
        (key.key.id, "indexes.create_index", "", 201),
        (key.key.id, "indexes.create_index", "", 409),
        (key.key.id, "indexes.delete_index", "a1", 202),
    ]
    assert all(e["time"].endswith("Z") and e["project_id"] == made.id for e in entries)
    first = httpx.get(url + "&limit=2", headers=bearer).json()
    assert len(first["data"]) == 2
    rest = httpx.get(
        url + f"&limit=10&paginationToken={first['pagination']['next']}", headers=bearer
    ).json()
    assert [e["id"] for e in first["data"] + rest["data"]] == [e["id"] for e in entries]
    assert "pagination" not in rest
    # A key reads its own project's entries only.
    mine = httpx.get(f"{admin_server.url}/admin/audit-log", headers={"Api-Key": key.value}).json()
    assert [e["id"] for e in mine["data"]] == [e["id"] for e in entries]
    bad = httpx.get(f"{admin_server.url}/admin/audit-log?limit=0", headers=bearer)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "INVALID_ARGUMENT"


def test_grpc_enforces_data_plane_roles(admin_server: LiveServer, creds: tuple[str, str]) -> None:
    admin = _admin(admin_server, creds)
    default = next(p for p in admin.projects.list() if p.name == "default")
    name = unique("grpc-roles")
    rest = client(admin_server)
    rest.indexes.create(
        name=name, spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}, **DATA
    )
    host = rest.indexes.describe(name).host
    viewer = admin.api_keys.create(project_id=default.id, name="gv", roles=["DataPlaneViewer"])
    index = grpc_client(admin_server, api_key=viewer.value).Index(host=host)
    assert index.describe_index_stats().total_vector_count == 0
    with pytest.raises(PineconeError) as raised:
        index.upsert(vectors=[("a", [1.0, 0.0])])
    assert "(DataPlaneViewer) do not allow writes to the data plane" in str(raised.value)
    admin.api_keys.delete(api_key_id=viewer.key.id)
    rest.indexes.delete(name)
