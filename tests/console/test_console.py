"""The web console in a real browser (headless Debian chromium via Playwright).

Each test drives the console the way a user would, checks what it shows against the
SDK's view of the same server, and saves a screenshot to test-artifacts/console/.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pinecone.errors import UnauthorizedError

from tests.api.helpers import client, make_index
from tests.api.test_admin_api import _admin, _credential
from tests.conftest import API_KEY, LiveServer
from tests.console.conftest import login, shot

pytestmark = pytest.mark.timeout(120)


def _cell(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).inner_text()).strip()


def _wait_text(page: Any, testid: str, expected: str, timeout: float = 10) -> None:
    """Waits until the element's text is ``expected`` (pages refresh on a timer)."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        loc = page.get_by_test_id(testid)
        if loc.count():
            seen = str(loc.inner_text()).strip()
            if seen == expected:
                return
        time.sleep(0.1)
    raise AssertionError(f"{testid}: expected {expected!r}, last saw {seen!r}")


def test_login_create_see_counts_configure_and_delete(page: Any, live: LiveServer) -> None:
    pc = client(live)
    page.goto(f"{live.url}/console")
    page.get_by_test_id("login-key").fill("not-a-key")
    page.get_by_test_id("login-submit").click()
    _wait_text(page, "login-error", "This key was rejected.")
    login(page, live)

    # Create a protected index from the form.
    page.get_by_test_id("new-index").click()
    page.get_by_test_id("create-name").fill("films")
    page.get_by_test_id("create-dimension").fill("4")
    page.get_by_test_id("create-metric").select_option("euclidean")
    page.get_by_test_id("create-tags").fill("env=test, team=search")
    page.get_by_test_id("create-protect").check()
    page.get_by_test_id("create-submit").click()
    page.get_by_test_id("index-row-films").wait_for()
    desc = pc.describe_index("films")
    assert (desc.dimension, desc.metric, desc.deletion_protection) == (4, "euclidean", "enabled")
    assert desc.tags == {"env": "test", "team": "search"}

    # Upsert with the SDK; the index page shows the counts, and keeps them fresh.
    index = pc.Index(host=desc.host)
    index.upsert(vectors=[(f"d{i}", [i, 1.0, 0.0, 0.5]) for i in range(7)], namespace="drama")
    index.upsert(vectors=[(f"x{i}", [1.0, i, 0.0, 0.5]) for i in range(3)])
    page.get_by_test_id("index-row-films").get_by_role("link", name="films").click()
    _wait_text(page, "ns-count-drama", "7")
    _wait_text(page, "ns-count-__default__", "3")
    _wait_text(page, "total-records-value", "10")
    index.upsert(vectors=[(f"d{i}", [i, 2.0, 0.0, 0.5]) for i in range(5, 9)], namespace="drama")
    _wait_text(page, "ns-count-drama", "9")  # two new ids, two overwritten
    index.upsert(vectors=[("s", [0.0, 0.0, 1.0, 0.0])], namespace="scratch")
    _wait_text(page, "ns-count-scratch", "1")
    _wait_text(page, "namespace-count-value", "3")
    shot(page, "index")
    page.get_by_test_id("delete-ns-scratch").click()
    page.get_by_test_id("confirm-ok").click()
    page.get_by_test_id("ns-row-scratch").wait_for(state="detached")
    assert "scratch" not in index.describe_index_stats().namespaces

    # Deletion protection guards the delete button; configure turns it off.
    assert page.get_by_test_id("delete-index").is_disabled()
    page.get_by_test_id("configure").click()
    page.get_by_test_id("configure-protection").select_option("disabled")
    page.get_by_test_id("configure-tags").fill("env=prod")
    page.get_by_test_id("configure-rc-mode").select_option("Dedicated")
    page.get_by_test_id("configure-shards").fill("2")
    page.get_by_test_id("configure-replicas").fill("1")
    page.get_by_test_id("configure-save").click()
    page.get_by_test_id("delete-index").and_(page.locator(":enabled")).wait_for()
    desc = pc.describe_index("films")
    assert desc.deletion_protection == "disabled"
    assert desc.tags == {"env": "prod"}  # "team" was removed in the form
    capacity = desc.to_dict()["read_capacity"]
    assert capacity["mode"] == "Dedicated"
    assert capacity["dedicated"]["manual"] == {"shards": 2, "replicas": 1}
    assert _cell(page, "read-capacity").startswith("Dedicated b1 2\N{MULTIPLICATION SIGN}1")

    # Delete: the dialog wants the name typed.
    page.get_by_test_id("delete-index").click()
    assert page.get_by_test_id("confirm-ok").is_disabled()
    page.get_by_test_id("confirm-input").fill("films")
    page.get_by_test_id("confirm-ok").click()
    page.get_by_test_id("indexes-list").wait_for()
    page.get_by_test_id("index-row-films").wait_for(state="detached")
    assert not pc.has_index("films")
    shot(page, "indexes")


def test_query_playground_matches_the_sdk(page: Any, live: LiveServer) -> None:
    pc = client(live)
    index = make_index(pc, "playground", dimension=4)
    index.upsert(
        vectors=[
            {
                "id": f"v{i}",
                "values": [1.0, i / 10, (i % 3) / 3, 0.25],
                "metadata": {"genre": "ab"[i % 2], "n": i},
            }
            for i in range(20)
        ],
        namespace="docs",
    )
    login(page, live)
    page.goto(f"{live.url}/console/#/indexes/playground/query?namespace=docs")
    assert page.get_by_test_id("query-namespace").input_value() == "docs"

    def run_and_read() -> list[tuple[str, str]]:
        page.get_by_test_id("query-run").click()
        page.get_by_test_id("query-summary").filter(has_text="match").wait_for()
        rows = page.get_by_test_id("results-table").locator("tbody tr")
        return [
            (_cell(page, f"result-id-{i}"), _cell(page, f"result-score-{i}"))
            for i in range(rows.count())
        ]

    def expected(res: Any) -> list[tuple[str, str]]:
        return [(m.id, f"{m.score:.6f}") for m in res.matches]

    page.get_by_test_id("query-vector").fill("[1, 0.45, 0.5, 0.25]")
    page.get_by_test_id("query-topk").fill("5")
    got = run_and_read()
    sdk = index.query(vector=[1, 0.45, 0.5, 0.25], top_k=5, namespace="docs")
    assert got == expected(sdk) and len(got) == 5

    page.get_by_test_id("query-filter").fill('{"genre": {"$eq": "b"}, "n": {"$gte": 5}}')
    got = run_and_read()
    sdk = index.query(
        vector=[1, 0.45, 0.5, 0.25],
        top_k=5,
        namespace="docs",
        filter={"genre": {"$eq": "b"}, "n": {"$gte": 5}},
        include_metadata=True,
    )
    assert got == expected(sdk) and len(got) == 5
    assert all(m.metadata["genre"] == "b" and m.metadata["n"] >= 5 for m in sdk.matches)
    assert '"genre": "b"' in _cell(page, "result-0")  # metadata is shown
    shot(page, "query")

    page.get_by_test_id("query-mode").select_option("id")
    page.get_by_test_id("query-id").fill("v7")
    page.get_by_test_id("query-filter").fill("")
    got = run_and_read()
    assert got == expected(index.query(id="v7", top_k=5, namespace="docs"))
    assert got[0][0] == "v7"

    page.get_by_test_id("query-filter").fill('{"genre": ')
    page.get_by_test_id("query-run").click()
    page.get_by_test_id("query-error").filter(has_text="Filter is not valid JSON").wait_for()
    page.get_by_test_id("query-filter").fill('{"genre": {"$near": 1}}')
    page.get_by_test_id("query-run").click()
    page.get_by_test_id("query-error").filter(has_text="$near").wait_for()


def _parquet(root: Path, namespace: str, files: int, rows: int) -> int:
    folder = root / namespace
    folder.mkdir(parents=True)
    for f in range(files):
        table = pa.table(
            {
                "id": [f"{namespace}-{f}-{i}" for i in range(rows)],
                "values": pa.array(
                    [[float(f), float(i), 1.0, 0.5] for i in range(rows)], pa.list_(pa.float32())
                ),
                "metadata": [json.dumps({"file": f, "row": i}) for i in range(rows)],
            }
        )
        pq.write_table(table, folder / f"part-{f:03}.parquet")
    return files * rows


def _job_id(index: Any, uri: str) -> str:
    """The id of the import of ``uri`` (the page starts it; the SDK finds it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for job in index.list_imports():
            if job.uri == uri:
                return str(job.id)
        time.sleep(0.1)
    raise AssertionError(f"no import of {uri}")


def test_imports_progress_to_100_and_cancel(page: Any, live: LiveServer, tmp_path: Path) -> None:
    pc = client(live)
    index = make_index(pc, "imports", dimension=4)
    host = pc.describe_index("imports").host
    probe = httpx.get(f"{host}/bulk/imports", headers={"Api-Key": API_KEY}, timeout=10)
    if probe.status_code in (404, 501):
        pytest.skip(f"this server has no bulk import API yet ({probe.status_code})")
    total = _parquet(tmp_path / "small", "books", files=6, rows=50)
    _parquet(tmp_path / "large", "slow", files=60, rows=10)

    login(page, live)
    page.goto(f"{live.url}/console/#/indexes/imports/imports")
    uri = (tmp_path / "small").as_uri()
    page.get_by_test_id("import-uri").fill(uri)
    page.get_by_test_id("import-start").click()
    job = _job_id(index, uri)

    # Watch the bar until the job is done: it must end at 100% and Completed.
    bar = page.get_by_test_id(f"import-progress-{job}")
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = page.get_by_test_id(f"import-row-{job}")
        if row.count():
            status = row.get_attribute("data-status")
            statuses.append((status, bar.get_attribute("aria-valuenow")))
            if status not in ("Pending", "InProgress"):
                break
        time.sleep(0.1)
    assert statuses[-1] == ("Completed", "100.0"), statuses
    assert any(s in ("Pending", "InProgress") for s, _ in statuses), statuses
    assert _cell(page, f"import-records-{job}") == f"{total:,}"
    assert re.fullmatch(r"100%", str(bar.inner_text()).strip())
    assert index.describe_index_stats().namespaces["books"].vector_count == total
    shot(page, "imports-completed")

    # A second, slower import: cancel it from the page while it runs.
    slow_uri = (tmp_path / "large").as_uri()
    page.get_by_test_id("import-uri").fill(slow_uri)
    page.get_by_test_id("import-start").click()
    slow = _job_id(index, slow_uri)
    page.get_by_test_id(f"cancel-{slow}").click()
    page.get_by_test_id("confirm-ok").click()
    _wait_text(page, f"import-status-{slow}", "Cancelled", timeout=20)
    assert page.get_by_test_id(f"cancel-{slow}").count() == 0
    assert index.describe_import(id=slow).status == "Cancelled"
    assert "slow" not in index.describe_index_stats().namespaces
    shot(page, "imports-cancelled")


def test_api_keys_page(page: Any, live: LiveServer) -> None:
    login(page, live)
    page.goto(f"{live.url}/console/#/keys")
    page.get_by_test_id("key-row-default").wait_for()
    page.get_by_test_id("key-name").fill("ci-console")
    page.get_by_test_id("key-create").click()
    secret = _cell(page, "new-key-value")
    assert secret.startswith("sk-spruce-")
    page.get_by_test_id("key-row-ci-console").wait_for()
    assert client(live, api_key=secret).list_indexes() is not None
    shot(page, "keys")

    page.get_by_test_id("delete-key-ci-console").click()
    page.get_by_test_id("confirm-ok").click()
    page.get_by_test_id("key-row-ci-console").wait_for(state="detached")
    with pytest.raises(UnauthorizedError):
        client(live, api_key=secret).list_indexes()

    # A new key can replace the one the console uses.
    page.get_by_test_id("key-name").fill("browser")
    page.get_by_test_id("key-create").click()
    page.get_by_test_id("new-key-value").filter(has_not_text=secret).wait_for()
    fresh = _cell(page, "new-key-value")
    page.get_by_test_id("use-new-key").click()
    page.locator("#session-key").filter(has_text=f"{fresh[:6]}…{fresh[-4:]}").wait_for()
    assert page.evaluate("localStorage.getItem('spruce.apiKey')") == fresh
    page.get_by_test_id("key-row-browser").wait_for()


def test_text_query_on_an_integrated_index(page: Any, live: LiveServer) -> None:
    from tests.embeddings.reference import SENTENCES

    pc = client(live)
    login(page, live)
    page.get_by_test_id("new-index").click()
    page.get_by_test_id("create-name").fill("books")
    page.get_by_test_id("create-kind").select_option("integrated")
    page.get_by_test_id("create-model").fill("all-MiniLM-L6-v2")
    page.get_by_test_id("create-field").fill("chunk_text")
    page.get_by_test_id("create-submit").click()
    page.get_by_test_id("index-row-books").wait_for()
    assert page.get_by_test_id("index-row-books").locator("td").nth(2).inner_text() == "integrated"
    desc = pc.describe_index("books")
    assert desc.embed.model == "all-MiniLM-L6-v2"
    assert desc.embed.field_map == {"text": "chunk_text"}
    pc.Index(host=desc.host).upsert_records(
        namespace="facts",
        records=[
            {"_id": k, "chunk_text": text, "n": i} for i, (k, text) in enumerate(SENTENCES.items())
        ],
    )
    page.goto(f"{live.url}/console/#/indexes/books/query?namespace=facts")
    assert page.get_by_test_id("query-mode").input_value() == "text"
    page.get_by_test_id("query-text").fill("How do plants make food from light?")
    page.get_by_test_id("query-topk").fill("3")
    page.get_by_test_id("query-run").click()
    page.get_by_test_id("query-summary").filter(has_text="3 match").wait_for(timeout=60_000)
    assert _cell(page, "result-id-0") == "photosynthesis"
    assert SENTENCES["photosynthesis"] in _cell(page, "result-0")
    shot(page, "query-text")


def test_project_switcher(page: Any, live: LiveServer) -> None:
    """Log in with keys of two projects; the switcher moves between them."""
    admin = _admin(live, _credential(live.data_dir))
    other = admin.projects.create(name="second")
    key = admin.api_keys.create(project_id=other.id, name="console")
    make_index(client(live, api_key=key.value), "only-in-second", dimension=2)
    login(page, live)
    assert not page.get_by_test_id("project-switcher").is_visible()
    page.locator("#session-change").click()
    page.get_by_test_id("login-key").fill(key.value)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("indexes-list").wait_for()
    page.get_by_text("only-in-second").wait_for()
    switcher = page.get_by_test_id("project-switcher")
    switcher.wait_for()
    shot(page, "project-switcher")
    switcher.select_option(label="default")
    page.get_by_text("project default").wait_for()
    assert page.get_by_text("only-in-second").count() == 0
    switcher.select_option(label="second")
    page.get_by_text("only-in-second").wait_for()
    client(live, api_key=key.value).delete_index("only-in-second")
