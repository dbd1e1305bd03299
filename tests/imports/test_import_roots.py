"""Local-path imports only from the allowed roots, with one answer for everything else."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY
from tests.imports.conftest import LiveServer
from tests.imports.helpers import dense, namespaces, run_import, write


def _refusal(uri: str) -> dict[str, object]:
    return {
        "code": 3,
        "message": f'Import source "{uri}" is not allowed or was not found: local paths are '
        "read only under the server's import roots (--import-root, SPRUCE_IMPORT_ROOTS)",
        "details": [],
    }


@pytest.fixture(scope="module")
def roots_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """Allowed: DATA_DIR/import-sources (the default) and one ``--import-root``."""
    base = tmp_path_factory.mktemp("roots")
    named = base / "named-root"
    named.mkdir()
    live = LiveServer(base / "data", env={"SPRUCE_IMPORT_ROOTS": ""})
    live.extra = ["--import-root", str(named)]
    live.data_dir.mkdir(parents=True)
    live.start()
    yield live, named
    live.stop()


def _start(index: Any, uri: str) -> httpx.Response:
    host = str(index.host)
    return httpx.post(
        f"{host}/bulk/imports", headers={"Api-Key": API_KEY}, json={"uri": uri}, timeout=30
    )


def test_outside_the_roots_is_one_answer(
    roots_server: tuple[LiveServer, Path], tmp_path: Path
) -> None:
    live, _ = roots_server
    pc = client(live)
    name = unique("roots")
    index = make_index(pc, name, dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["a"])]})
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    for uri in (
        "/etc/passwd",
        "/etc",
        "/no/such/dir",
        str(tmp_path / "imp"),  # real Parquet, but not under a root
        str(tmp_path / "passwd"),
        (tmp_path / "imp").as_uri(),
        f"{live.data_dir}/import-sources/../catalog.sqlite3",
    ):
        response = _start(index, uri)
        assert response.status_code == 400, uri
        assert response.json() == _refusal(uri)
    for uri in ("/", "/proc/self"):  # refused at once, nothing is walked
        started = time.monotonic()
        response = _start(index, uri)
        assert response.json() == _refusal(uri)
        assert time.monotonic() - started < 1
    assert list(index.list_imports()) == []
    pc.delete_index(name)


def test_allowed_roots_import(roots_server: tuple[LiveServer, Path], tmp_path: Path) -> None:
    live, named = roots_server
    pc = client(live)
    name = unique("roots")
    index = make_index(pc, name, dimension=4)
    default_root = live.data_dir / "import-sources"
    assert default_root.is_dir()  # made on start, for files to be dropped in
    write(default_root / "first", {"one": [dense(["a", "b"])]})
    assert run_import(index, str(default_root / "first")).status == "Completed"
    write(named / "second", {"two": [dense(["c"])]})
    assert run_import(index, (named / "second").as_uri()).status == "Completed"
    assert namespaces(index) == {"one": 2, "two": 1}
    shutil.rmtree(default_root / "first")
    pc.delete_index(name)


def test_symlinks_out_of_a_root_are_refused(
    roots_server: tuple[LiveServer, Path], tmp_path: Path
) -> None:
    live, named = roots_server
    pc = client(live)
    name = unique("roots")
    index = make_index(pc, name, dimension=4)
    write(tmp_path / "outside", {"ns": [dense(["a"])]})
    # A directory link: resolved before the check, so refused at once.
    (named / "linked-dir").symlink_to(tmp_path / "outside")
    uri = str(named / "linked-dir")
    assert _start(index, uri).json() == _refusal(uri)
    # A file link inside a real directory: the job finds it and fails, reading nothing.
    (named / "mixed" / "ns").mkdir(parents=True)
    (named / "mixed" / "ns" / "0.parquet").symlink_to(tmp_path / "outside" / "ns" / "0.parquet")
    done = run_import(index, str(named / "mixed"))
    assert done.status == "Failed"
    assert done.error == "User error: " + str(_refusal(str(named / "mixed"))["message"])
    assert namespaces(index) == {}
    pc.delete_index(name)


def test_missing_directory_inside_a_root_fails_as_an_empty_prefix(
    roots_server: tuple[LiveServer, Path],
) -> None:
    live, named = roots_server
    pc = client(live)
    name = unique("roots")
    index = make_index(pc, name, dimension=4)
    done = run_import(index, str(named / "not-yet"))
    assert done.status == "Failed"
    assert done.error == (
        f'User error: No Parquet files found under "{named / "not-yet"}". Files must be '
        "stored with the specified bucket prefix."
    )
    pc.delete_index(name)
