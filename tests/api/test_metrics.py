"""``/metrics`` during a known SDK workload: Pinecone's counters move by exactly the
operations done; ``/health`` and ``/ready`` answer orchestrators."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer
from tests.grpc.helpers import grpc_client

DOCS = Path(__file__).parents[2] / "docs"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(server: LiveServer, headers: dict[str, str] | None = None) -> Samples:
    r = httpx.get(
        f"{server.url}/metrics",
        headers={"Authorization": f"Bearer {API_KEY}"} if headers is None else headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample ``name`` whose labels include ``labels``; 0 if there is none."""
    found = [v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls]
    assert len(found) <= 1, (name, labels, found)
    return found[0] if found else 0.0


def test_counters_move_by_exactly_the_operations_done(server: LiveServer) -> None:
    pc = client(server)
    name = unique("metrics")
    index = make_index(pc, name, dimension=8)
    mine = {"index_name": name, "cloud": "aws", "region": "us-east-1"}
    before = scrape(server)

    for batch in range(3):
        rows = [
            (f"b{batch}-{i}", [float(i + 1), 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]) for i in range(4)
        ]
        index.upsert(vectors=rows, namespace="ns")
    for _ in range(5):
        index.query(vector=[1.0] * 8, top_k=3, namespace="ns")
    for _ in range(2):
        index.fetch(ids=["b0-0", "b1-1"], namespace="ns")
    index.update(id="b0-0", set_metadata={"genre": "drama"}, namespace="ns")
    index.delete(ids=["b2-3"], namespace="ns")
    index.list_paginated(namespace="ns", limit=5)

    after = scrape(server)

    def moved(metric: str, **labels: str) -> float:
        return value(after, metric, **mine, **labels) - value(before, metric, **mine, **labels)

    done = {"upsert": 3, "query": 5, "fetch": 2, "update": 1, "delete": 1, "list": 1}
    for op, times in done.items():
        assert moved(f"pinecone_db_op_{op}_count") == times, op
        assert moved(f"pinecone_db_op_{op}_duration_sum") > 0, op
        # Spruce's histogram counts the same requests, in every bucket up to +Inf.
        assert moved("spruce_db_op_duration_seconds_count", op=op) == times, op
        assert moved("spruce_db_op_duration_seconds_bucket", op=op, le="+Inf") == times, op
        ms = 1000 * moved("spruce_db_op_duration_seconds_sum", op=op)
        assert ms == pytest.approx(moved(f"pinecone_db_op_{op}_duration_sum"))
    # Reads: 1 RU per query (a tiny namespace), per fetch of 2 ids, per list page.
    assert moved("pinecone_db_read_unit_count") == 5 + 2 + 1
    # Writes: Pinecone's minimum of 5 WU for each of 3 upserts, the update, the delete.
    assert moved("pinecone_db_write_unit_count") == 5 * 5

    assert value(after, "pinecone_db_record_total", **mine, capacity_mode="serverless") == 11
    assert value(after, "pinecone_db_storage_size_bytes", **mine) > 0
    assert value(after, "spruce_open_namespaces", **mine) == 1
    # 20,000 rows before a flush: everything is in the memtable, in no graph.
    assert value(after, "spruce_memtable_rows", **mine, namespace="ns") == 11
    assert value(after, "spruce_segments", **mine, namespace="ns") == 0
    assert value(after, "spruce_unindexed_rows", **mine, namespace="ns") == 11
    # One WAL append (one fsync) per write request: 3 upserts, the update, the delete.
    fsyncs = value(after, "spruce_wal_fsync_seconds_count") - value(
        before, "spruce_wal_fsync_seconds_count"
    )
    assert fsyncs == 5


def test_grpc_requests_count_the_same(server: LiveServer) -> None:
    name = unique("metrics-grpc")
    make_index(client(server), name, dimension=4)
    pc = grpc_client(server)
    index = pc.Index(host=pc.describe_index(name).host)
    before = scrape(server)
    index.upsert(vectors=[("a", [1.0, 2.0, 3.0, 4.0]), ("b", [4.0, 3.0, 2.0, 1.0])])
    for _ in range(2):
        index.query(vector=[1.0, 2.0, 3.0, 4.0], top_k=1)
    index.fetch(ids=["a"])
    after = scrape(server)
    for op, times in {"upsert": 1, "query": 2, "fetch": 1, "delete": 0}.items():
        metric, mine = f"pinecone_db_op_{op}_count", {"index_name": name}
        assert value(after, metric, **mine) - value(before, metric, **mine) == times, op
    assert value(after, "pinecone_db_record_total", index_name=name) == 2


def test_scraping_needs_a_key(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/metrics", timeout=10)
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "UNAUTHENTICATED",
            "message": "API key is missing. Pass it in the Api-Key header (the SDK does this "
            "for you).",
        },
        "status": 401,
    }
    for headers in ({"Authorization": "Bearer wrong"}, {"Api-Key": "wrong"}):
        r = httpx.get(f"{server.url}/metrics", headers=headers, timeout=10)
        assert r.status_code == 401
        assert r.json() == {
            "error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"},
            "status": 401,
        }
    # The SDK's header works as well as a bearer token.
    assert "spruce_wal_fsync_seconds_count" in {n for n, _ in scrape(server, {"Api-Key": API_KEY})}


def test_health_and_ready_need_no_key(server: LiveServer) -> None:
    r = httpx.get(f"{server.url}/health", timeout=10)
    assert (r.status_code, r.json()) == (200, {"status": "ok"})
    r = httpx.get(f"{server.url}/ready", timeout=10)
    assert (r.status_code, r.json()) == (200, {"status": "ready"})


def test_flushes_are_counted_and_damage_makes_the_server_not_ready(
    small_flush_server: LiveServer,
) -> None:
    server = small_flush_server
    pc = client(server)
    index = make_index(pc, "damaged", dimension=4)
    index.upsert(vectors=[(f"v{i}", [float(i), 1.0, 2.0, 3.0]) for i in range(10)])
    deadline = time.monotonic() + 20
    while not (found := list(server.data_dir.rglob("vectors.npy"))):
        assert time.monotonic() < deadline, "no segment was flushed"
        time.sleep(0.1)
    while value(scrape(server), "spruce_flush_duration_seconds_count") < 1:
        assert time.monotonic() < deadline, "the flush was not counted"
        time.sleep(0.1)
    # A namespace's first write is made in a staging directory that is closed and then
    # published (IndexStore.create_with); a read opens the published namespace.
    assert len(index.fetch(ids=["v0"]).vectors) == 1
    samples = scrape(server)
    assert value(samples, "spruce_background_rows_total", kind="flush") == 10
    assert value(samples, "spruce_flush_duration_seconds_count") == 1  # one batch, one freeze
    assert value(samples, "spruce_segments", index_name="damaged", namespace="__default__") >= 1

    server.stop()
    [vectors] = found
    data = bytearray(vectors.read_bytes())
    data[-3] ^= 0x01
    vectors.write_bytes(bytes(data))
    server.start()
    assert httpx.get(f"{server.url}/ready", timeout=10).status_code == 200  # not opened yet
    host = pc.describe_index("damaged").host
    r = httpx.get(f"{host}/vectors/fetch", params={"ids": "v9"}, headers={"Api-Key": API_KEY})
    assert r.status_code == 500

    r = httpx.get(f"{server.url}/ready", timeout=10)
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready"
    [reason] = body["reasons"]
    assert reason.startswith("index damaged: namespace '__default__' cannot be recovered: ")
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200


def test_the_grafana_dashboard_uses_only_exported_names(server: LiveServer) -> None:
    pc = client(server)
    index = make_index(pc, unique("dash"), dimension=8)
    index.upsert(vectors=[("a", [1.0] * 8)])
    index.query(vector=[1.0] * 8, top_k=1)
    r = httpx.get(f"{server.url}/metrics", headers={"Api-Key": API_KEY}, timeout=10)
    exported = set()
    for family in text_string_to_metric_families(r.text):
        exported.add(family.name)
        exported |= {s.name for s in family.samples}
    dashboard = json.loads((DOCS / "grafana" / "spruce.json").read_text())
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(?:pinecone|spruce)_[a-z_]+", target["expr"])
    }
    assert len(used) >= 20
    assert used - exported == set()
    # And every Spruce and Pinecone family the server exports is documented.
    documented = (DOCS / "OPERATIONS.md").read_text()
    families = {n for n in exported if n.startswith(("pinecone_", "spruce_"))}
    missing = set()
    for name in families:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        op = re.sub(r"^pinecone_db_op_[a-z]+_", "pinecone_db_op_<op>_", name)
        if not any(f"`{n}`" in documented for n in (name, base, f"{base}_total", op)):
            missing.add(name)
    assert missing == set()
