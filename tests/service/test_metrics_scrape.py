"""``spruce.metrics`` in process, on a real catalog and data plane: a scrape shows the
caller's project only, and counts exactly the calls made to each index, even when two
projects' indexes share a name."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from spruce.catalog import Catalog
from spruce.metrics import Metrics
from spruce.service import ControlPlane, DataPlane, IndexRequest

OPS = ("upsert", "query", "fetch", "list")


def _scrape(metrics: Metrics, project: str) -> dict[tuple[str, str], float]:
    """(metric, index_name) -> value, for the per-index Pinecone series."""
    out = {}
    for family in text_string_to_metric_families(metrics.exposition(project).decode()):
        for s in family.samples:
            if s.name.startswith("pinecone_") and "index_name" in s.labels:
                out[(s.name, s.labels["index_name"])] = s.value
    return out


@settings(max_examples=15, deadline=None)
@given(calls=st.lists(st.tuples(st.sampled_from(OPS), st.booleans()), max_size=12))
def test_each_project_sees_exactly_its_own_calls(calls: list[tuple[str, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / "catalog.sqlite3")
        data = DataPlane(Path(tmp), flush_rows=1000)
        metrics = Metrics(catalog, data, None)
        control = ControlPlane(catalog, data)
        projects = [catalog.ensure_project("a"), catalog.ensure_project("b")]
        rows = [control.create(p, IndexRequest(name="same", dimension=2)) for p in projects]
        # An index of another name in project b only.
        control.create(projects[1], IndexRequest(name="other", dimension=2))
        done = [dict.fromkeys(OPS, 0), dict.fromkeys(OPS, 0)]
        records = [set(), set()]
        for n, (op, second) in enumerate(calls):
            row, p = rows[second], int(second)
            if op == "upsert":
                data.upsert(row, "", [{"id": f"r{n}", "values": [1.0, float(n)]}])
                records[p].add(f"r{n}")
            elif op == "query":
                data.query(row, "", top_k=1, vector=[1.0, 0.0])
            elif op == "fetch":
                data.fetch(row, "", ["r0"])
            else:
                data.list_ids(row, "", prefix="", limit=10, token=None)
            done[p][op] += 1
        for p, project in enumerate(projects):
            seen = _scrape(metrics, project)
            for op in OPS:
                assert seen.get((f"pinecone_db_op_{op}_count", "same"), 0) == done[p][op]
            assert seen[("pinecone_db_record_total", "same")] == len(records[p])
            assert (("pinecone_db_record_total", "other") in seen) == (p == 1)
        metrics.close()
        data.close()
        catalog.close()
