"""Imports from S3 (moto), GCS (fake-gcs-server) and Azure Blob Storage (Azurite), with
and without storage integrations, through the SDK against a live server."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from pinecone import Pinecone

from tests.conftest import API_KEY
from tests.imports.conftest import Emulators, IndexFactory, LiveServer
from tests.imports.emulators import AZURITE_ACCOUNT, AZURITE_KEY
from tests.imports.helpers import dense, namespaces, run_import, write

_buckets = itertools.count()


def bucket(prefix: str) -> str:
    return f"{prefix}-{next(_buckets)}"


def add_integration(
    server: LiveServer, name: str, provider: str, credentials: dict[str, str]
) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/storage-integrations",
        headers={"Api-Key": API_KEY},
        json={"name": name, "provider": provider, "credentials": credentials},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def layout() -> dict[str, list[Any]]:
    return {
        "imports/ns1": [dense(["a", "b"], seed=1), dense(["c"], seed=2)],
        "imports/__default__": [dense(["d"], seed=3)],
    }


def test_s3_public_bucket(emulators: Emulators, new_index: IndexFactory) -> None:
    fs = emulators.moto.filesystem()
    name = bucket("public")
    fs.create_dir(name)
    write(name, layout(), fs)
    index = new_index(dimension=4)
    done = run_import(index, f"s3://{name}/imports")
    assert (done.status, done.records_imported) == ("Completed", 4)
    assert namespaces(index) == {"ns1": 3, "__default__": 1}


def test_s3_with_integration_and_errors(
    emulators: Emulators, import_server: LiveServer, new_index: IndexFactory
) -> None:
    fs = emulators.moto.filesystem()
    name = bucket("private")
    fs.create_dir(name)
    write(name, layout(), fs)
    write(name, {"test-import": [dense(["x"])]}, fs)
    found = add_integration(
        import_server,
        "s3-creds",
        "aws",
        {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret", "region": "us-east-1"},
    )
    assert found["credential_keys"] == ["access_key_id", "region", "secret_access_key"]
    index = new_index(dimension=4)
    done = run_import(index, f"s3://{name}/imports", integration_id=found["id"])
    assert (done.status, done.records_imported) == ("Completed", 4)
    # Paths in messages are keys within the bucket, as Pinecone shows them.
    other = new_index(dimension=4)
    failed = run_import(other, f"s3://{name}/test-import/0.parquet")
    assert failed.error == (
        'User error: "test-import/0.parquet": It looks like you specified a complete path to '
        "a parquet file as the URI prefix to import from. Note that the URI prefix should "
        "give an ancestor directory with subdirectories to specify each namespace to import "
        "into. See https://docs.pinecone.io/guides/data/understanding-imports#directory-structure."
    )
    failed = run_import(other, f"s3://{name}/test-import")
    assert failed.error == (
        'User error: "test-import/0.parquet": No namespace detected. Each file should be '
        "nested under a subdirectory of the URI prefix. This indicates which namespace it "
        "should be imported into."
    )


def test_gcs_public_bucket(emulators: Emulators, new_index: IndexFactory) -> None:
    fs = emulators.gcs.filesystem()
    name = bucket("gcs")
    fs.create_dir(name)
    write(name, layout(), fs)
    index = new_index(dimension=4)
    done = run_import(index, f"gs://{name}/imports", error_mode="continue")
    assert (done.status, done.records_imported) == ("Completed", 4)
    assert namespaces(index) == {"ns1": 3, "__default__": 1}
    empty = new_index(dimension=4)
    failed = run_import(empty, f"gs://{name}/nothing-here")
    assert failed.error == (
        f'User error: No Parquet files found under "gs://{name}/nothing-here". '
        "Files must be stored with the specified bucket prefix."
    )


def test_azure_with_account_key(
    emulators: Emulators, import_server: LiveServer, pc: Pinecone, new_index: IndexFactory
) -> None:
    fs = emulators.azurite.filesystem()
    container = bucket("container")
    fs.create_dir(container)
    write(container, layout(), fs)
    uri = f"https://{AZURITE_ACCOUNT}.blob.core.windows.net/{container}/imports"
    good = add_integration(import_server, "azure-good", "azure", {"account_key": AZURITE_KEY})
    index = new_index(dimension=4)
    done = run_import(index, uri, integration_id=good["id"])
    assert (done.status, done.records_imported) == ("Completed", 4)
    assert namespaces(index) == {"ns1": 3, "__default__": 1}

    # Azurite checks the signature: a wrong key cannot list the container.
    wrong = add_integration(
        import_server, "azure-bad", "azure", {"account_key": "AAAA" + AZURITE_KEY[4:]}
    )
    other = new_index(dimension=4)
    failed = run_import(other, uri, integration_id=wrong["id"])
    assert failed.status == "Failed"
    assert failed.error.startswith(f'User error: Could not list "{uri}": ')
    assert "403" in failed.error
    assert namespaces(other) == {}


def test_integrations_api(import_server: LiveServer, new_index: IndexFactory) -> None:
    headers = {"Api-Key": API_KEY}
    base = f"{import_server.url}/storage-integrations"
    found = add_integration(import_server, "gcs-token", "gcp", {"access_token": "ya29.x"})
    listed = httpx.get(base, headers=headers).json()["data"]
    assert found in listed
    assert "ya29.x" not in httpx.get(f"{base}/{found['id']}", headers=headers).text
    bad = httpx.post(
        base,
        headers=headers,
        json={"name": "x", "provider": "aws", "credentials": {"password": "p"}},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["message"].startswith("Unknown credential 'password'")
    duplicate = httpx.post(
        base,
        headers=headers,
        json={"name": "gcs-token", "provider": "gcp", "credentials": {"access_token": "t"}},
    )
    assert duplicate.status_code == 409
    # A GCP integration cannot read an S3 URI.
    index = new_index(dimension=4)
    with pytest.raises(Exception) as raised:
        index.start_import(uri="s3://bucket/dir", integration_id=found["id"])
    assert "provider 'gcp' cannot read Amazon S3 URIs" in str(raised.value)
    assert httpx.delete(f"{base}/{found['id']}", headers=headers).status_code == 202
    assert httpx.get(f"{base}/{found['id']}", headers=headers).status_code == 404
