"""Bulk import through the real SDK: start, describe, list, cancel, and the data it loads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pinecone import Pinecone
from pinecone.errors import NotFoundError

from tests.api.helpers import make_index, unique
from tests.conftest import API_KEY
from tests.imports.conftest import IndexFactory
from tests.imports.helpers import (
    DATASET,
    dense,
    namespaces,
    run_import,
    sparse_column,
    vectors_of,
    wait,
    write,
)


def test_dense_import_loads_every_namespace(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    a = dense([f"a{i}" for i in range(10)], seed=1, metadata=[{"n": i} for i in range(10)])
    b1 = dense([f"b{i}" for i in range(5)], seed=2)
    b2 = dense([f"b{i}" for i in range(5, 8)], seed=3)
    d = dense(["d0", "d1"], seed=4, metadata=[{"genre": "drama", "tags": ["x", "y"]}, None])
    write(tmp_path / "imp", {"alpha": [a], "beta": [b1, b2], "__default__": [d]})
    (tmp_path / "imp" / "beta" / "notes.log").write_text("ignored: not parquet")

    started = index.start_import(uri=str(tmp_path / "imp"), error_mode="continue")
    done = wait(index, started.id)

    assert (done.status, done.records_imported, done.percent_complete, done.error) == (
        "Completed",
        20,
        100.0,
        None,
    )
    created = dt.datetime.fromisoformat(done.created_at)
    finished = dt.datetime.fromisoformat(done.finished_at)
    assert created.tzinfo is not None and created <= finished
    assert done.uri == str(tmp_path / "imp")
    assert namespaces(index) == {"alpha": 10, "beta": 8, "__default__": 2}
    fetched = index.fetch(ids=["a3", "a7"], namespace="alpha").vectors
    expected = vectors_of(a)
    for rid in ("a3", "a7"):
        assert np.array_equal(np.float32(fetched[rid].values), np.float32(expected[rid])), rid
    assert fetched["a3"].metadata == {"n": 3}
    default = index.fetch(ids=["d0", "d1"], namespace="").vectors
    assert default["d0"].metadata == {"genre": "drama", "tags": ["x", "y"]}
    assert not default["d1"].metadata
    # Imported records are searchable and take later writes like any others.
    top = index.query(vector=expected["a5"], top_k=1, namespace="alpha")
    assert [m.id for m in top.matches] == ["a5"]
    index.upsert(vectors=[("a5", [1.0, 0.0, 0.0, 0.0])], namespace="alpha")
    index.delete(ids=["a6"], namespace="alpha")
    assert namespaces(index)["alpha"] == 9
    assert index.fetch(ids=["a5"], namespace="alpha").vectors["a5"].values == [1.0, 0, 0, 0]


def test_file_uri_and_snake_case_shapes(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["x", "y"])]})
    done = run_import(index, (tmp_path / "imp").as_uri())
    assert (done.status, done.records_imported) == ("Completed", 2)
    assert namespaces(index) == {"ns": 2}


def test_sparse_index_import(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=None)
    table = pa.table(
        {
            "id": ["s1", "s2"],
            "sparse_values": sparse_column([([7, 3], [0.5, 0.25]), ([1], [2.0])]),
            "metadata": ['{"kind": "a"}', None],
        }
    )
    write(tmp_path / "imp", {"sp": [table]})
    done = run_import(index, tmp_path / "imp")
    assert (done.status, done.records_imported) == ("Completed", 2)
    got = index.fetch(ids=["s1", "s2"], namespace="sp").vectors
    # Indices come back sorted, values with them.
    assert (got["s1"].sparse_values.indices, got["s1"].sparse_values.values) == (
        [3, 7],
        [0.25, 0.5],
    )
    assert got["s1"].metadata == {"kind": "a"}
    hits = index.query(sparse_vector={"indices": [1], "values": [1.0]}, top_k=2, namespace="sp")
    assert [(m.id, m.score) for m in hits.matches] == [("s2", 2.0)]


def test_hybrid_index_import(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=2, metric="dotproduct")
    table = pa.table(
        {
            "id": ["h1", "h2"],
            "values": pa.array([[1.0, 0.0], [0.0, 1.0]], pa.list_(pa.float32())),
            "sparse_values": sparse_column([([5], [1.0]), None]),
        }
    )
    write(tmp_path / "imp", {"hy": [table]})
    done = run_import(index, tmp_path / "imp")
    assert (done.status, done.records_imported) == ("Completed", 2)
    got = index.fetch(ids=["h1", "h2"], namespace="hy").vectors
    assert got["h1"].sparse_values.indices == [5]
    assert got["h2"].sparse_values is None
    hits = index.query(
        vector=[0.0, 0.0], sparse_vector={"indices": [5], "values": [3.0]}, top_k=1, namespace="hy"
    )
    assert [(m.id, m.score) for m in hits.matches] == [("h1", 3.0)]


def test_list_imports_paginates(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    ids = []
    for n in range(3):
        write(tmp_path / f"imp{n}", {f"ns{n}": [dense([f"r{n}"], seed=n)]})
        ids.append(run_import(index, tmp_path / f"imp{n}").id)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    first = index.list_imports_paginated(limit=2)
    assert [i.id for i in first] == ids[:2]
    assert first.pagination is not None
    second = index.list_imports_paginated(limit=2, pagination_token=first.pagination.next)
    assert [i.id for i in second] == ids[2:]
    assert second.pagination is None
    assert [i.id for i in index.list_imports(limit=1)] == ids
    assert [i.status for i in index.list_imports()] == ["Completed"] * 3


def test_imports_belong_to_their_index(new_index: IndexFactory, tmp_path: Path) -> None:
    one, other = new_index(dimension=4), new_index(dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["a"])]})
    job = run_import(one, tmp_path / "imp")
    assert list(other.list_imports()) == []
    with pytest.raises(NotFoundError):
        other.describe_import(job.id)
    with pytest.raises(NotFoundError):
        one.describe_import("999999")


def test_cancel_finished_import_has_no_effect(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["a", "b"])]})
    job = run_import(index, tmp_path / "imp")
    index.cancel_import(job.id)
    after = index.describe_import(job.id)
    assert (after.status, after.records_imported) == ("Completed", 2)
    assert namespaces(index) == {"ns": 2}


def test_wire_shape_is_camel_case(pc: Pinecone, tmp_path: Path) -> None:
    name = unique("wire")
    index = make_index(pc, name, dimension=4)
    write(tmp_path / "imp", {"ns": [dense(["a"])]})
    job = run_import(index, tmp_path / "imp")
    host = pc.describe_index(name).host
    host = host if "://" in host else f"http://{host}"
    body = httpx.get(f"{host}/bulk/imports/{job.id}", headers={"Api-Key": API_KEY}).json()
    assert set(body) == {
        "id",
        "uri",
        "status",
        "createdAt",
        "finishedAt",
        "percentComplete",
        "recordsImported",
    }
    listed = httpx.get(f"{host}/bulk/imports", headers={"Api-Key": API_KEY}).json()
    assert listed == {"data": [body]}
    pc.delete_index(name)


@pytest.mark.skipif(not DATASET.is_dir(), reason="shared dataset pypi-minilm-50k not present")
def test_real_dataset(new_index: IndexFactory) -> None:
    """50,000 real MiniLM embeddings; a few PyPI summaries repeat, so their vectors do."""
    files = sorted((DATASET / "import" / "__default__").glob("*.parquet"))
    tables = [pq.read_table(f) for f in files]
    first: dict[bytes, str] = {}  # vector bytes -> id of its first record
    duplicates: list[tuple[str, int, str, str]] = []  # (file, row, id, first id)
    for path, table in zip(files, tables, strict=True):
        ids = table.column("id").to_pylist()
        values = np.asarray(
            table.column("values").combine_chunks().flatten(), dtype=np.float32
        ).reshape(-1, 384)
        for row, vector in enumerate(values):
            key = vector.tobytes()
            if key in first:
                duplicates.append((path.name, row, ids[row], first[key]))
            else:
                first[key] = ids[row]
    assert duplicates, "the dataset is known to hold repeated vectors"
    index = new_index(dimension=384, metric="cosine")

    aborted = run_import(index, DATASET / "import", error_mode="abort")
    file, row, rid, first_id = duplicates[0]
    assert aborted.status == "Failed"
    assert aborted.error == (
        f'User error: error reading record (file "/{file}", row {row}): duplicate vector: '
        f'the values of record "{rid}" are identical to those of record "{first_id}"'
    )
    assert namespaces(index) == {}

    done = run_import(index, DATASET / "import", error_mode="continue")
    assert (done.status, done.records_imported) == ("Completed", 50_000 - len(duplicates))
    assert namespaces(index) == {"__default__": 50_000 - len(duplicates)}
    skipped = {d[2] for d in duplicates}
    probes = [r for r in tables[1].slice(0, 50).to_pylist() if r["id"] not in skipped][:5]
    for probe in probes:
        hit = index.query(vector=probe["values"], top_k=1, include_metadata=True)
        assert hit.matches[0].id == probe["id"]
        assert hit.matches[0].metadata == json.loads(probe["metadata"])


def test_double_and_fixed_size_values(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=2)
    doubles = pa.table({"id": ["d"], "values": pa.array([[0.5, 0.25]], pa.list_(pa.float64()))})
    fixed = pa.table(
        {
            "id": ["f", "g"],
            "values": pa.FixedSizeListArray.from_arrays(
                pa.array([1.0, 2.0, 3.0, 4.0], pa.float32()), 2
            ),
        }
    )
    write(tmp_path / "imp", {"ns": [doubles, fixed]})
    done = run_import(index, tmp_path / "imp")
    assert (done.status, done.records_imported) == ("Completed", 3)
    got = index.fetch(ids=["d", "g"], namespace="ns").vectors
    assert (got["d"].values, got["g"].values) == ([0.5, 0.25], [3.0, 4.0])
