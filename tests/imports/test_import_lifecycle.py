"""Imports across cancels, crashes and restarts; system limits; the ``spruce import`` CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.imports.conftest import start_server
from tests.imports.helpers import dense, namespaces, run_import, wait, write

# Each small file is one batch, and the server sleeps this long after each batch.
DELAY = "0.1"


def _many_files(root: Path, spaces: dict[str, int]) -> int:
    """``spaces``: namespace -> number of 3-row files; returns the number of records."""
    total = 0
    for name, files in spaces.items():
        tables = [dense([f"{name}-{f}-{r}" for r in range(3)], seed=f) for f in range(files)]
        write(root, {name: tables})
        total += 3 * files
    return total


def _until(index: Any, import_id: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = index.describe_import(import_id)
        if check(state):
            return state
        time.sleep(0.02)
    raise AssertionError(f"import {import_id} never reached the expected state: {state}")


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "slow", {"SPRUCE_IMPORT_BATCH_DELAY": DELAY})
    yield live
    live.stop()


def test_cancel_leaves_no_namespace(slow_server: LiveServer, tmp_path: Path) -> None:
    pc = client(slow_server)
    index = make_index(pc, unique("cancel"), dimension=4)
    _many_files(tmp_path / "imp", {"a": 20, "b": 20})
    started = index.start_import(uri=str(tmp_path / "imp"))
    _until(index, started.id, lambda s: s.status == "InProgress" and s.records_imported > 0)
    assert namespaces(index) == {}  # nothing visible while it runs
    index.cancel_import(started.id)
    state = wait(index, started.id)
    assert state.status == "Cancelled"
    assert state.finished_at is not None
    time.sleep(0.5)  # the runner notices at its next batch and cleans up
    assert namespaces(index) == {}
    staging = slow_server.data_dir / "imports"
    assert not staging.exists() or list(staging.iterdir()) == []
    # A second cancel changes nothing.
    index.cancel_import(started.id)
    assert index.describe_import(started.id).status == "Cancelled"


def test_job_survives_kill_and_restart(slow_server: LiveServer, tmp_path: Path) -> None:
    pc = client(slow_server)
    name = unique("crash")
    index = make_index(pc, name, dimension=4)
    total = _many_files(tmp_path / "imp", {"a": 12, "b": 12})
    started = index.start_import(uri=str(tmp_path / "imp"), error_mode="abort")
    # Past the first namespace (checkpointed), inside the second.
    _until(index, started.id, lambda s: s.records_imported > 3 * 14)
    assert namespaces(index) == {}
    slow_server.kill()
    slow_server.start()
    pc = client(slow_server)
    index = pc.Index(host=pc.describe_index(name).host)
    resumed = index.describe_import(started.id)
    assert resumed.status in ("InProgress", "Completed")
    if resumed.status == "InProgress":
        assert namespaces(index) == {}  # never half-visible, across the crash too
    done = wait(index, started.id)
    assert (done.status, done.records_imported) == ("Completed", total)
    assert namespaces(index) == {"a": 36, "b": 36}
    ids = sorted(v.id for page in index.list(namespace="b") for v in page.vectors)
    assert ids == sorted(f"b-{f}-{r}" for f in range(12) for r in range(3))


def test_deleting_the_index_abandons_its_import(slow_server: LiveServer, tmp_path: Path) -> None:
    pc = client(slow_server)
    name = unique("gone")
    index = make_index(pc, name, dimension=4)
    _many_files(tmp_path / "imp", {"a": 15})
    started = index.start_import(uri=str(tmp_path / "imp"))
    _until(index, started.id, lambda s: s.records_imported > 0)
    indexes = slow_server.data_dir / "indexes"
    before = {p.name for p in indexes.iterdir()}
    pc.delete_index(name)
    staging = slow_server.data_dir / "imports"
    deadline = time.monotonic() + 30
    while staging.exists() and list(staging.iterdir()):
        assert time.monotonic() < deadline, "the import never stopped"
        time.sleep(0.05)
    # The runner gave up at publishing: the deleted index's directory stays gone.
    after = {p.name for p in indexes.iterdir() if not p.name.startswith(".")}  # .trash
    assert len(before - after) == 1 and after <= before


# -- limits ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    root = tmp_path_factory.mktemp("limits")
    write(root / "probe", {"ns": [dense(["a"])]})
    small = (root / "probe" / "ns" / "0.parquet").stat().st_size
    env = {
        "SPRUCE_IMPORT_MAX_NAMESPACES": "2",
        "SPRUCE_IMPORT_MAX_FILES": "3",
        "SPRUCE_IMPORT_MAX_FILE_BYTES": "20000",
        "SPRUCE_IMPORT_MAX_NAMESPACE_BYTES": str(small * 3 // 2),
    }
    live = start_server(root, env)
    yield live, small
    live.stop()


def test_exceeds_system_limit(limits: tuple[LiveServer, int], tmp_path: Path) -> None:
    live, small = limits
    pc = client(live)
    index = make_index(pc, unique("limits"), dimension=4)
    one = dense(["a"])
    write(tmp_path / "spaces", {"n1": [one], "n2": [one], "n3": [one]})
    write(tmp_path / "files", {"n1": [one, one], "n2": [one, one]})
    big = dense([f"r{i}" for i in range(300)], dimension=32)
    write(tmp_path / "big", {"n1": [big]}, compression="none")
    big_size = (tmp_path / "big" / "n1" / "0.parquet").stat().st_size
    write(tmp_path / "space", {"n1": [dense(["a"]), dense(["b"], seed=1)]})
    sizes = [(tmp_path / "space" / "n1" / f"{n}.parquet").stat().st_size for n in (0, 1)]
    assert big_size > 20_000 and sum(sizes) > small * 3 // 2
    limit = small * 3 // 2
    expected = {
        "spaces": "the import has 3 namespaces, more than the 2 allowed per import",
        "files": "the import has 4 files, more than the 3 allowed per import",
        "big": f'"{tmp_path}/big/n1/0.parquet" is {big_size} bytes, more than the 20000 '
        "bytes allowed per file",
        "space": f'namespace "n1" has {sum(sizes)} bytes of files, more than the {limit} bytes '
        "allowed per namespace",
    }
    for directory, detail in expected.items():
        done = run_import(index, tmp_path / directory)
        assert (done.status, done.error) == (
            "Failed",
            f"User error: Exceeds system limit: {detail}",
        )
    assert namespaces(index) == {}


# -- CLI --------------------------------------------------------------------------------------


def _cli(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spruce.cli", *args, "--url", server.url, "--api-key", API_KEY],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_import(import_server: LiveServer, tmp_path: Path) -> None:
    pc = client(import_server)
    name = unique("cli")
    index = make_index(pc, name, dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["a", "b", "c"])]})
    done = _cli(import_server, "import", str(tmp_path / "imp"), "--index", name)
    assert done.returncode == 0, done.stderr
    jobs = list(index.list_imports())
    assert len(jobs) == 1 and jobs[0].status == "Completed"
    assert done.stdout.strip() == (f"Import {jobs[0].id} completed: 3 records into index {name}.")
    assert "100%" in done.stderr  # the progress bar
    assert namespaces(index) == {"ns": 3}

    again = _cli(import_server, "import", str(tmp_path / "imp"), "--index", name)
    assert again.returncode == 1
    assert again.stderr.strip().endswith(
        'failed: User error: The namespace "ns" already exists. Imports are only allowed '
        "into nonexistent namespaces."
    )
    detached = _cli(
        import_server, "import", str(tmp_path / "nothing"), "--index", name, "--no-wait"
    )
    assert detached.returncode == 0
    assert wait(index, detached.stdout.strip()).status == "Failed"
    missing = _cli(import_server, "import", str(tmp_path), "--index", "no-such-index")
    assert missing.returncode == 2
    assert "404" in missing.stderr
    pc.delete_index(name)


def test_cli_integrations(import_server: LiveServer) -> None:
    added = _cli(
        import_server,
        "integration",
        "add",
        "cli-creds",
        "--provider",
        "aws",
        "--credential",
        "access_key_id=AK",
        "--credential",
        "secret_access_key=SK",
    )
    assert added.returncode == 0, added.stderr
    integration_id = added.stdout.strip()
    listed = _cli(import_server, "integration", "list")
    assert f"{integration_id}  aws    cli-creds  (access_key_id,secret_access_key)" in (
        listed.stdout
    )
    assert _cli(import_server, "integration", "delete", integration_id).returncode == 0
    assert integration_id not in _cli(import_server, "integration", "list").stdout
