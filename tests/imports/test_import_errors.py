"""Every failure of Pinecone's import guide ("Troubleshooting"), with its exact message.

A failed import reports ``status == "Failed"`` and the message in ``error``, and leaves
no namespace behind. Request-level problems (URI form, error mode, integration, index
kind) are refused synchronously with a 400.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pinecone import Pinecone
from pinecone.errors import ApiError

from tests.api.helpers import unique
from tests.conftest import API_KEY
from tests.imports.conftest import IndexFactory
from tests.imports.helpers import dense, namespaces, run_import, sparse_column, write

U = "User error: "


def failed(index: Any, uri: Path | str, error_mode: str = "abort") -> str:
    done = run_import(index, uri, error_mode=error_mode)
    assert done.status == "Failed", done
    assert done.finished_at is not None
    assert namespaces(index) == {} or "already exists" in (done.error or "")
    return str(done.error)


# -- layout ---------------------------------------------------------------------------


def test_namespace_already_exists(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    index.upsert(vectors=[("old", [1.0, 0, 0, 0])], namespace="example-namespace")
    write(tmp_path / "imp", {"example-namespace": [dense(["a"])], "fresh": [dense(["b"])]})
    assert failed(index, tmp_path / "imp") == (
        U + 'The namespace "example-namespace" already exists. '
        "Imports are only allowed into nonexistent namespaces."
    )
    # Nothing of the import is visible: not even the namespace that did not exist.
    assert namespaces(index) == {"example-namespace": 1}


def test_import_after_delete_all(new_index: IndexFactory, tmp_path: Path) -> None:
    """Multitenancy guide: delete_all deletes the namespace, so its name can be imported."""
    index = new_index(dimension=4)
    index.upsert(vectors=[("old", [1.0, 0, 0, 0])], namespace="tenant1")
    index.delete(delete_all=True, namespace="tenant1")
    write(tmp_path / "imp", {"tenant1": [dense(["a", "b"])]})
    done = run_import(index, tmp_path / "imp")
    assert (done.status, done.records_imported, done.error) == ("Completed", 2, None)
    assert namespaces(index) == {"tenant1": 2}


def test_default_namespace_must_be_empty(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    index.upsert(vectors=[("old", [1.0, 0, 0, 0])], namespace="")
    write(tmp_path / "imp", {"__default__": [dense(["a", "b"])]})
    assert failed(index, tmp_path / "imp") == (
        U + 'The namespace "__default__" already exists. '
        "Imports are only allowed into nonexistent namespaces."
    )
    # Emptied, the default namespace may be imported into.
    index.delete(ids=["old"], namespace="")
    done = run_import(index, tmp_path / "imp")
    assert (done.status, done.records_imported) == ("Completed", 2)
    assert namespaces(index) == {"__default__": 2}


def test_no_namespace_detected(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    write(tmp_path / "test-import", {"": [dense(["a"])], "ns": [dense(["b"])]})
    path = tmp_path / "test-import" / "0.parquet"
    assert failed(index, tmp_path / "test-import") == (
        U + f'"{path}": No namespace detected. Each file should be nested under a '
        "subdirectory of the URI prefix. This indicates which namespace it should be "
        "imported into."
    )


def test_no_parquet_files_found(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    (tmp_path / "imports" / "ns").mkdir(parents=True)
    (tmp_path / "imports" / "ns" / "data.csv").write_text("id,values\n")
    uri = str(tmp_path / "imports")
    assert failed(index, uri) == (
        U + f'No Parquet files found under "{uri}". '
        "Files must be stored with the specified bucket prefix."
    )
    assert failed(index, tmp_path / "missing") == (
        U + f'No Parquet files found under "{tmp_path / "missing"}". '
        "Files must be stored with the specified bucket prefix."
    )


def test_uri_points_at_a_file(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    write(tmp_path / "test-import", {"ns": [dense(["a"])]})
    path = tmp_path / "test-import" / "ns" / "0.parquet"
    assert failed(index, path) == (
        U + f'"{path}": It looks like you specified a complete path to a parquet file as the '
        "URI prefix to import from. Note that the URI prefix should give an ancestor "
        "directory with subdirectories to specify each namespace to import into. See "
        "https://docs.pinecone.io/guides/data/understanding-imports#directory-structure."
    )


# -- files ------------------------------------------------------------------------------


def _file_error(index: Any, root: Path, table: pa.Table | bytes) -> str:
    write(root, {"ns": [table]})
    path = root / "ns" / "0.parquet"
    message = failed(index, root)
    prefix = U + f'"{path}": '
    assert message.startswith(prefix), message
    return message[len(prefix) :]


def test_missing_and_unsupported_columns(new_index: IndexFactory, tmp_path: Path) -> None:
    dense_index, sparse_index = new_index(dimension=4), new_index(dimension=None)
    no_values = pa.table({"id": ["a"], "metadata": ["{}"]})
    assert _file_error(dense_index, tmp_path / "a", no_values) == (
        'Missing required column "values"'
    )
    no_id = dense(["a"]).drop_columns(["id"])
    assert _file_error(dense_index, tmp_path / "b", no_id) == 'Missing required column "id"'
    assert _file_error(sparse_index, tmp_path / "c", pa.table({"id": ["a"]})) == (
        'Missing required column "sparse_values"'
    )
    extra = dense(["a"]).append_column("title", pa.array(["t"]))
    assert _file_error(dense_index, tmp_path / "d", extra) == 'Unsupported column "title"'


def test_dense_file_into_sparse_index(new_index: IndexFactory, tmp_path: Path) -> None:
    """The guide: a dense-only file fails on its first row (abort) or skips them all."""
    sparse_index = new_index(dimension=None)
    write(tmp_path / "imp", {"example-namespace": [dense(["a", "b"])]})
    assert failed(sparse_index, tmp_path / "imp") == (
        U + 'error reading record (file "/0.parquet", row 0): '
        "Upserting dense vectors is not supported for sparse indexes"
    )
    assert failed(sparse_index, tmp_path / "imp", error_mode="continue") == (
        U + "No vectors added, all rows were skipped for namespace: example-namespace"
    )


def test_footer_not_parseable(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=4)
    assert _file_error(index, tmp_path / "a", b"PAR1 this is not parquet at all") == (
        "Parquet footer could not be parsed. Are you sure this is valid parquet?"
    )
    assert _file_error(index, tmp_path / "b", b"") == (
        "Parquet footer could not be parsed. Are you sure this is valid parquet?"
    )


def test_wrong_data_types(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=2)
    int_ids = pa.table({"id": [1], "values": pa.array([[1.0, 2.0]], pa.list_(pa.float32()))})
    assert _file_error(index, tmp_path / "a", int_ids) == (
        'The expected data type for column "id" is "STRING", but got "INT_64"'
    )
    int_values = pa.table({"id": ["a"], "values": pa.array([[1, 2]], pa.list_(pa.int32()))})
    assert _file_error(index, tmp_path / "b", int_values) == (
        'The expected data type for column "values" is "LIST<FLOAT>", but got "LIST<INT_32>"'
    )
    bad_sparse = dense(["a"], dimension=2).append_column("sparse_values", pa.array(["x"]))
    hybrid = new_index(dimension=2, metric="dotproduct")
    assert _file_error(hybrid, tmp_path / "c", bad_sparse) == (
        'The expected data type for column "sparse_values" is '
        '"STRUCT<indices: LIST<UINT_32>, values: LIST<FLOAT>>", but got "STRING"'
    )
    int_metadata = dense(["a"], dimension=2).append_column("metadata", pa.array([7]))
    assert _file_error(index, tmp_path / "d", int_metadata) == (
        "The expected data type for metadata is a JSON encoded string in UTF-8 format, "
        'but got "INT_64"'
    )


# -- records ----------------------------------------------------------------------------


def _bad_rows() -> pa.Table:
    """Rows 0, 3 valid; 1 has no values; 2 has bad metadata; 4 the wrong dimension."""
    return pa.table(
        {
            "id": ["ok0", "novalues", "badmeta", "ok3", "short"],
            "values": pa.array(
                [[0.1, 0.2], None, [0.3, 0.4], [0.5, 0.6], [0.7]], pa.list_(pa.float32())
            ),
            "metadata": ['{"a": 1}', None, '{"a": ', None, None],
        }
    )


def test_invalid_records_abort(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=2)
    write(tmp_path / "a", {"ns": [dense(["first"], dimension=2), _bad_rows()]})
    assert failed(index, tmp_path / "a") == (
        U + 'error reading record (file "/1.parquet", row 1): '
        'missing required values in column "values"'
    )
    write(tmp_path / "b", {"ns": [_bad_rows().slice(2)]})
    assert failed(index, tmp_path / "b") == (
        U + 'error reading record (file "/0.parquet", row 0): '
        "Failed to parse metadata: unexpected end of data: line 1 column 7 (char 6)"
    )
    write(tmp_path / "c", {"ns": [_bad_rows().slice(4)]})
    assert failed(index, tmp_path / "c") == (
        U + 'error reading record (file "/0.parquet", row 0): '
        "Vector dimension 1 does not match the dimension of the index 2"
    )
    sparse_index = new_index(dimension=None)
    table = pa.table(
        {
            "id": ["a", "b"],
            "values": pa.array([None, [1.0, 2.0]], pa.list_(pa.float32())),
            "sparse_values": sparse_column([([1], [1.0]), ([2], [1.0])]),
        }
    )
    write(tmp_path / "d", {"ns": [table]})
    assert failed(sparse_index, tmp_path / "d") == (
        U + 'error reading record (file "/0.parquet", row 1): '
        "Upserting dense vectors is not supported for sparse indexes"
    )


def test_invalid_records_skipped_in_continue_mode(new_index: IndexFactory, tmp_path: Path) -> None:
    index = new_index(dimension=2)
    write(tmp_path / "imp", {"ns": [_bad_rows()]})
    done = run_import(index, tmp_path / "imp", error_mode="continue")
    assert (done.status, done.records_imported, done.error) == ("Completed", 2, None)
    listed = sorted(i for page in index.list(namespace="ns") for i in _ids(page))
    assert listed == ["ok0", "ok3"]


def _ids(page: Any) -> list[str]:
    return [v.id for v in page.vectors] if hasattr(page, "vectors") else list(page)


def test_all_rows_skipped(new_index: IndexFactory, tmp_path: Path) -> None:
    sparse_index = new_index(dimension=None)
    table = pa.table(
        {
            "id": ["a", "b"],
            "values": pa.array([[1.0], [2.0]], pa.list_(pa.float32())),
            "sparse_values": sparse_column([([1], [1.0]), ([2], [1.0])]),
        }
    )
    write(tmp_path / "imp", {"example-namespace": [table]})
    assert failed(sparse_index, tmp_path / "imp", error_mode="continue") == (
        U + "No vectors added, all rows were skipped for namespace: example-namespace"
    )


def test_duplicate_vectors(new_index: IndexFactory, tmp_path: Path) -> None:
    """The guide's example: record 2 repeats record 1's values and is skipped."""
    table = pa.table(
        {
            "id": ["1", "2", "3"],
            "values": pa.array(
                [[0.1, 0.2, 0.3], [0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], pa.list_(pa.float32())
            ),
        }
    )
    write(tmp_path / "imp", {"ns": [table]})
    index = new_index(dimension=3)
    done = run_import(index, tmp_path / "imp", error_mode="continue")
    assert (done.status, done.records_imported) == ("Completed", 2)
    assert sorted(index.fetch(ids=["1", "2", "3"], namespace="ns").vectors) == ["1", "3"]
    other = new_index(dimension=3)
    assert failed(other, tmp_path / "imp") == (
        U + 'error reading record (file "/0.parquet", row 1): duplicate vector: the values '
        'of record "2" are identical to those of record "1"'
    )


def test_duplicate_ids_keep_the_first(new_index: IndexFactory, tmp_path: Path) -> None:
    first = dense(["a", "b"], seed=1)
    again = dense(["b"], seed=2)
    write(tmp_path / "imp", {"ns": [first, again]})
    index = new_index(dimension=4)
    done = run_import(index, tmp_path / "imp", error_mode="continue")
    assert (done.status, done.records_imported) == ("Completed", 2)
    got = index.fetch(ids=["b"], namespace="ns").vectors["b"].values
    assert got == pytest.approx(first.column("values")[1].as_py())
    other = new_index(dimension=4)
    assert failed(other, tmp_path / "imp") == (
        U + 'error reading record (file "/1.parquet", row 0): duplicate record: the id "b" '
        "appears more than once"
    )


# -- refused requests ---------------------------------------------------------------------


def _raw_start(pc: Pinecone, index_name: str, body: dict[str, Any]) -> httpx.Response:
    host = pc.describe_index(index_name).host
    host = host if "://" in host else f"http://{host}"
    return httpx.post(f"{host}/bulk/imports", json=body, headers={"Api-Key": API_KEY})


def test_refused_requests(pc: Pinecone, tmp_path: Path) -> None:
    name = unique("refuse")
    from pinecone import ServerlessSpec

    pc.create_index(
        name=name, dimension=4, metric="cosine", spec=ServerlessSpec(cloud="gcp", region="x")
    )
    try:
        cases = [
            ({"uri": "ftp://host/dir"}, "Invalid import URI 'ftp://host/dir'"),
            ({"uri": "https://example.com/c/d"}, "Invalid import URI"),
            ({"uri": ""}, "uri must be a string of 1 to 1500 characters"),
            (
                {"uri": str(tmp_path), "errorMode": {"onError": "explode"}},
                "Invalid errorMode.onError 'explode': use continue or abort",
            ),
            (
                {"uri": str(tmp_path), "integrationId": "nope"},
                "Storage integration nope not found",
            ),
            (
                {"uri": "s3://bucket/dir"},
                "You cannot import data from an AWS S3 bucket into an index hosted on GCP",
            ),
        ]
        for body, message in cases:
            response = _raw_start(pc, name, body)
            assert response.status_code == 400, body
            assert response.json()["message"].startswith(message), response.json()
    finally:
        pc.delete_index(name)


def test_dedicated_indexes_are_refused(pc: Pinecone, tmp_path: Path) -> None:
    name = unique("dedicated")
    response = httpx.post(
        f"{pc.config.host}/indexes",
        headers={"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2025-10"},
        json={
            "name": name,
            "dimension": 4,
            "metric": "cosine",
            "spec": {
                "serverless": {
                    "cloud": "aws",
                    "region": "us-east-1",
                    "read_capacity": {
                        "mode": "Dedicated",
                        "dedicated": {
                            "node_type": "b1",
                            "scaling": "Manual",
                            "manual": {"shards": 1, "replicas": 1},
                        },
                    },
                }
            },
        },
    )
    assert response.status_code in (200, 201), response.text
    try:
        index = pc.Index(host=pc.describe_index(name).host)
        write(tmp_path / "imp", {"ns": [dense(["a"])]})
        with pytest.raises(ApiError) as raised:
            index.start_import(uri=str(tmp_path / "imp"))
        assert raised.value.status_code == 400
        assert raised.value.message == (
            "Bulk import is not supported for indexes with dedicated read capacity"
        )
    finally:
        pc.delete_index(name)
