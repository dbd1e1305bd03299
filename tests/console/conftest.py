"""Browser fixtures: Debian's chromium driven by Playwright, against a live server.

Chromium comes from ``scripts/install-test-deps.sh`` (``make test`` runs it); Playwright
only drives it (``executable_path``), it never downloads a browser. Without chromium
the tests skip with the reason, except under CI, where they fail: CI installs it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from tests.conftest import API_KEY, LiveServer

CHROMIUM = os.environ.get("SPRUCE_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
#: Each import batch sleeps this long, so a test can watch a bar move and cancel a job.
BATCH_DELAY = "0.25"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: scripts/install-test-deps.sh)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is missing: run scripts/install-test-deps.sh")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        found = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield found
        found.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own (keys on: only API_KEY and keys made by tests)."""
    server = LiveServer(tmp_path_factory.mktemp("console") / "data")
    server.data_dir.mkdir(parents=True)
    with mock.patch.dict(os.environ, {"SPRUCE_IMPORT_BATCH_DELAY": BATCH_DELAY}):
        server.start()
    yield server
    server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser context (empty localStorage); JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    found = context.new_page()
    errors: list[str] = []
    found.on("pageerror", lambda exc: errors.append(str(exc)))
    yield found
    if request.node.stash.get(_FAILED, False):
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        found.screenshot(path=str(ARTIFACTS / f"FAILED-{name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors in the console: {errors}"


def login(page: Any, server: LiveServer, key: str = API_KEY) -> None:
    page.goto(f"{server.url}/console/")
    page.get_by_test_id("login-key").fill(key)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("indexes-list").wait_for()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
