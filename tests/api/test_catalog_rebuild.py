"""Losing ``catalog.sqlite3`` does not lose the indexes: each keeps a descriptor beside
its data, and the server rebuilds the catalog's index rows from them at start."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import client, make_index
from tests.conftest import LiveServer


def _described(pc: Any, name: str) -> dict[str, Any]:
    d = pc.describe_index(name)
    return {
        "name": d.name,
        "dimension": d.dimension,
        "metric": d.metric,
        "vector_type": d.vector_type,
        "host": d.host,
        "deletion_protection": d.deletion_protection,
        "tags": d.tags,
    }


def test_lost_catalog_is_rebuilt_from_descriptors(fresh_server: LiveServer) -> None:
    server = fresh_server
    pc = client(server)
    dense = make_index(pc, "kept-dense", dimension=3, deletion_protection="enabled")
    dense.upsert(vectors=[("a", [1.0, 2.0, 3.0], {"g": "x"}), ("b", [3.0, 2.0, 1.0])])
    pc.configure_index("kept-dense", tags={"team": "search"})
    sparse = make_index(
        pc, "kept-sparse", dimension=None, metric="dotproduct", vector_type="sparse"
    )
    sparse.upsert(vectors=[{"id": "s", "sparse_values": {"indices": [7], "values": [0.5]}}])
    make_index(pc, "dropped", dimension=2)
    pc.delete_index("dropped")
    before = {n: _described(pc, n) for n in ("kept-dense", "kept-sparse")}
    server.stop()
    for path in server.data_dir.glob("catalog.sqlite3*"):
        path.unlink()
    server.start()

    assert sorted(i.name for i in pc.list_indexes()) == ["kept-dense", "kept-sparse"]
    assert {n: _described(pc, n) for n in before} == before
    dense = pc.Index(host=before["kept-dense"]["host"])
    got = dense.fetch(ids=["a", "b"]).vectors
    assert got["a"].values == [1.0, 2.0, 3.0] and got["a"].metadata == {"g": "x"}
    assert got["b"].values == [3.0, 2.0, 1.0]
    sparse = pc.Index(host=before["kept-sparse"]["host"])
    assert sparse.fetch(ids=["s"]).vectors["s"].sparse_values.indices == [7]
    log = (server.data_dir.parent / f"server-{server.port}.log").read_text()
    assert "catalog.sqlite3 was missing: rebuilt 2 index(es) from their descriptors" in log
