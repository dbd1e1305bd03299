"""Malformed control-plane bodies: a 400 in Pinecone's shape naming the field, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pinecone import Pinecone

from tests.api.helpers import client, make_index, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}
SERVERLESS = {"serverless": {"cloud": "aws", "region": "us-east-1"}}
DENSE = {"fields": {"_values": {"type": "dense_vector", "dimension": 4, "metric": "cosine"}}}
MODEL = {"model": "all-MiniLM-L6-v2", "field_map": {"text": "chunk_text"}}
POD = (
    "Pod-based indexes are not supported by this server: create a serverless index "
    "(spec.serverless, or deployment.deployment_type 'managed')"
)


@pytest.fixture(scope="module")
def pc(server: LiveServer) -> Pinecone:
    return client(server)


@pytest.fixture(scope="module")
def plain(pc: Pinecone) -> Iterator[str]:
    name = unique("valid")
    make_index(pc, name, dimension=4, tags={"keep": "me"})
    yield name
    pc.delete_index(name)


def _error(response: httpx.Response, status: int = 400) -> str:
    """The message of a control-plane error, after checking Pinecone's shape."""
    assert response.status_code == status, response.text
    body = response.json()
    code = {400: "INVALID_ARGUMENT", 405: "UNIMPLEMENTED", 501: "UNIMPLEMENTED"}[status]
    assert body == {"error": {"code": code, "message": body["error"]["message"]}, "status": status}
    message: str = body["error"]["message"]
    return message


def _listed(server: LiveServer) -> list[dict[str, Any]]:
    indexes: list[dict[str, Any]] = httpx.get(f"{server.url}/indexes", headers=H).json()["indexes"]
    return sorted(indexes, key=lambda i: str(i["name"]))


def test_malformed_spec_is_a_400_and_the_connection_stays_open(
    server: LiveServer, plain: str
) -> None:
    with httpx.Client(base_url=server.url, headers=H) as http:
        created = http.post(
            "/indexes", json={"name": "spec-aaa", "dimension": 4, "spec": {"serverless": "AAA"}}
        )
        assert _error(created) == (
            "Invalid value for spec.serverless: expected an object, got a string"
        )
        patched = http.patch(f"/indexes/{plain}", json={"spec": "AAA"})
        assert _error(patched) == "Invalid value for spec: expected an object, got a string"
        patched = http.patch(f"/indexes/{plain}", json={"spec": {"serverless": "AAA"}})
        assert _error(patched) == (
            "Invalid value for spec.serverless: expected an object, got a string"
        )
        # The same keep-alive connection still answers.
        assert http.get(f"/indexes/{plain}").status_code == 200
    assert "spec-aaa" not in [i["name"] for i in _listed(server)]


def _v2025(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "bad-2025", "dimension": 4, "metric": "cosine"}
    body["spec"] = overrides.pop("spec", SERVERLESS)
    return {**body, **overrides}


def _serverless(**fields: Any) -> dict[str, Any]:
    return {"serverless": {"cloud": "aws", "region": "us-east-1", **fields}}


CREATE_2025 = [
    (
        _v2025(spec=_serverless(cloud=123)),
        "Invalid value for spec.serverless.cloud: expected a string, got an integer",
    ),
    (
        _v2025(spec=_serverless(cloud="mars")),
        "Invalid value for spec.serverless.cloud: 'mars'; expected one of aws, gcp, azure",
    ),
    (
        _v2025(spec=_serverless(region={"a": 1})),
        "Invalid value for spec.serverless.region: expected a string, got an object",
    ),
    (
        _v2025(spec=_serverless(region="")),
        "Invalid value for spec.serverless.region: it must not be empty",
    ),
    (_v2025(metric={}), "Invalid value for metric: expected a string, got an object"),
    (
        _v2025(metric=""),
        "Invalid value for metric: ''; expected one of cosine, euclidean, dotproduct",
    ),
    (_v2025(vector_type=[]), "Invalid value for vector_type: expected a string, got an array"),
    (
        _v2025(vector_type="dens"),
        "Invalid value for vector_type: 'dens'; expected one of dense, sparse",
    ),
    (
        _v2025(deletion_protection={}),
        "Invalid value for deletion_protection: expected a string, got an object",
    ),
    (
        _v2025(deletion_protection="on"),
        "Invalid value for deletion_protection: 'on'; expected one of enabled, disabled",
    ),
    (_v2025(dimension="4"), "Invalid value for dimension: expected an integer, got a string"),
    (_v2025(dimension=4.0), "Invalid value for dimension: expected an integer, got a number"),
    (_v2025(dimension=True), "Invalid value for dimension: expected an integer, got a boolean"),
    (_v2025(name=7), "Invalid value for name: expected a string, got an integer"),
    (_v2025(tags=["a"]), "Invalid value for tags: expected an object, got an array"),
    (_v2025(tags={"a": 1}), "Invalid value for tags[...]: expected a string, got an integer"),
    (_v2025(spec="AAA"), "Invalid value for spec: expected an object, got a string"),
    (_v2025(spec={"pod": {"environment": "us-east1-gcp", "pod_type": "p1.x1"}}), POD),
    (
        _v2025(spec={"byoc": {"environment": "aws-us-east-1-b921"}}),
        "BYOC indexes are not supported by this server: create a serverless index",
    ),
    (
        _v2025(spec=_serverless(source_collection="movies")),
        "Collections are not supported by this server; Pinecone recommends backups instead "
        "of collections for serverless indexes",
    ),
    (
        _v2025(spec=_serverless(read_capacity="fast")),
        "Invalid value for spec.serverless.read_capacity: expected an object, got a string",
    ),
    (
        _v2025(spec=_serverless(read_capacity={"mode": "Sometimes"})),
        "Invalid value for read_capacity.mode: 'Sometimes'; expected 'OnDemand' or 'Dedicated'",
    ),
    (
        _v2025(spec=_serverless(schema={"fields": {"genre": {"filterable": "yes"}}})),
        "Invalid value for spec.serverless.schema.fields[...].filterable: expected a boolean, "
        "got a string",
    ),
]


def _v2026(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "bad-2026",
        "schema": DENSE,
        "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
    }
    return {**body, **overrides}


def _deployment(**fields: Any) -> dict[str, Any]:
    return {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1", **fields}


CREATE_2026 = [
    (
        _v2026(deployment=_deployment(cloud=123)),
        "Invalid value for deployment.cloud: expected a string, got an integer",
    ),
    (
        _v2026(deployment=_deployment(cloud="mars")),
        "Invalid value for deployment.cloud: 'mars'; expected one of aws, gcp, azure",
    ),
    (
        _v2026(deployment=_deployment(region={"a": 1})),
        "Invalid value for deployment.region: expected a string, got an object",
    ),
    (_v2026(deployment="AAA"), "Invalid value for deployment: expected an object, got a string"),
    (
        _v2026(
            deployment={
                "deployment_type": "pod",
                "environment": "us-east1-gcp",
                "pod_type": "p1.x1",
                "replicas": 1,
                "shards": 1,
            }
        ),
        POD,
    ),
    (
        _v2026(deployment={"deployment_type": "byoc", "environment": "aws-us-east-1-b921"}),
        "BYOC indexes are not supported by this server: create a serverless index",
    ),
    (
        _v2026(deployment=_deployment(deployment_type="serverless")),
        "Invalid value for deployment.deployment_type: 'serverless'; expected one of managed",
    ),
    (_v2026(schema="AAA"), "Invalid value for schema: expected an object, got a string"),
    (_v2026(schema=None), "Invalid value for schema: expected an object, got null"),
    (_v2026(schema={}), "Missing required field schema.fields"),
    (
        _v2026(schema={"fields": {"_values": "AAA"}}),
        "Invalid value for schema.fields[...]: expected an object, got a string",
    ),
    (
        _v2026(schema={"fields": {"_values": {"type": "dense_vector", "dimension": "4"}}}),
        "Invalid value for schema.fields._values.dimension: expected an integer, got a string",
    ),
    (
        _v2026(
            schema={"fields": {"_values": {"type": "dense_vector", "dimension": 4, "metric": {}}}}
        ),
        "Invalid value for schema.fields._values.metric: expected a string, got an object",
    ),
    (
        _v2026(schema={"fields": {"_values": {"dimension": 4}}}),
        "Missing required field schema.fields._values.type",
    ),
    (
        _v2026(schema={"fields": {"_sparse_values": {"type": 1}}}),
        "Invalid value for schema.fields._sparse_values.type: expected a string, got an integer",
    ),
    (_v2026(read_capacity=[]), "Invalid value for read_capacity: expected an object, got an array"),
    (_v2026(tags={"a": []}), "Invalid value for tags[...]: expected a string, got an array"),
    (
        _v2026(deletion_protection=1),
        "Invalid value for deletion_protection: expected a string, got an integer",
    ),
    (
        _v2026(source_collection="movies"),
        "Collections are not supported by this server; Pinecone recommends backups instead "
        "of collections for serverless indexes",
    ),
    (
        _v2026(source_backup_id="b-1"),
        "Restoring an index from a backup is not supported by this server",
    ),
    (
        _v2026(cmek_id="k-1"),
        "Customer-managed encryption keys (cmek_id) are not supported by this server",
    ),
]


@pytest.mark.parametrize(("body", "message"), CREATE_2025 + CREATE_2026)
def test_malformed_create_is_refused(
    server: LiveServer, plain: str, body: dict[str, Any], message: str
) -> None:
    before = _listed(server)
    assert _error(httpx.post(f"{server.url}/indexes", headers=H, json=body)) == message
    assert _listed(server) == before


CONFIGURE = [
    ({"spec": {"pod": {"replicas": 2}}}, POD),
    (
        {"spec": {"byoc": {}}},
        "BYOC indexes are not supported by this server: create a serverless index",
    ),
    (
        {"spec": {"serverless": {"read_capacity": 5}}},
        "Invalid value for spec.serverless.read_capacity: expected an object, got an integer",
    ),
    (
        {"deployment": {"replicas": 2, "pod_type": "p1.x2"}},
        "deployment cannot be configured: it scales pod-based indexes, which this server "
        "does not support",
    ),
    (
        {"deletion_protection": {}},
        "Invalid value for deletion_protection: expected a string, got an object",
    ),
    (
        {"deletion_protection": "yes"},
        "Invalid value for deletion_protection: 'yes'; expected one of enabled, disabled",
    ),
    ({"tags": "a=b"}, "Invalid value for tags: expected an object, got a string"),
    ({"tags": {"a": None}}, "Invalid value for tags[...]: expected a string, got null"),
    (
        {"read_capacity": "Dedicated"},
        "Invalid value for read_capacity: expected an object, got a string",
    ),
    ({"embed": "AAA"}, "Invalid value for embed: expected an object, got a string"),
    (
        {"embed": {"model": 1, "field_map": {"text": "t"}}},
        "Invalid value for embed.model: expected a string, got an integer",
    ),
    ({"schema": []}, "Invalid value for schema: expected an object, got an array"),
]


@pytest.mark.parametrize(("body", "message"), CONFIGURE)
def test_malformed_configure_is_refused(
    server: LiveServer, plain: str, body: dict[str, Any], message: str
) -> None:
    url = f"{server.url}/indexes/{plain}"
    before = httpx.get(url, headers=H).json()
    assert _error(httpx.patch(url, headers=H, json=body)) == message
    assert httpx.get(url, headers=H).json() == before


def test_configure_cannot_change_a_plain_indexs_schema(server: LiveServer, plain: str) -> None:
    url = f"{server.url}/indexes/{plain}"
    before = httpx.get(url, headers=H).json()
    body = {"schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 8}}}}
    assert _error(httpx.patch(url, headers=H, json=body)) == (
        f"The schema of index '{plain}' cannot be changed: only the semantic_text field of an "
        "index created with create_for_model can be configured"
    )
    assert httpx.get(url, headers=H).json() == before


def _model_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "bad-model", "cloud": "aws", "region": "us-east-1", "embed": MODEL, **overrides}


CREATE_FOR_MODEL = [
    (
        {"name": "bad-model", "cloud": "aws", "region": "us-east-1"},
        "embed is required: {'model': ..., 'field_map': {'text': ...}}",
    ),
    (_model_body(cloud=123), "Invalid value for cloud: expected a string, got an integer"),
    (_model_body(cloud="mars"), "Invalid value for cloud: 'mars'; expected one of aws, gcp, azure"),
    (_model_body(region={"a": 1}), "Invalid value for region: expected a string, got an object"),
    (_model_body(embed="AAA"), "Invalid value for embed: expected an object, got a string"),
    (
        _model_body(embed={**MODEL, "model": ["x"]}),
        "Invalid value for embed.model: expected a string, got an array",
    ),
    (
        _model_body(embed={**MODEL, "field_map": {"text": 1}}),
        "Invalid value for embed.field_map[...]: expected a string, got an integer",
    ),
    (
        _model_body(embed={**MODEL, "metric": 3}),
        "Invalid value for embed.metric: expected a string, got an integer",
    ),
    (
        _model_body(embed={**MODEL, "dimension": "384"}),
        "Invalid value for embed.dimension: expected an integer, got a string",
    ),
    (
        _model_body(embed={**MODEL, "read_parameters": "fast"}),
        "Invalid value for embed.read_parameters: expected an object, got a string",
    ),
    (
        _model_body(deletion_protection=[]),
        "Invalid value for deletion_protection: expected a string, got an array",
    ),
    (
        _model_body(deletion_protection="maybe"),
        "Invalid value for deletion_protection: 'maybe'; expected one of enabled, disabled",
    ),
    (_model_body(tags={"a": 2}), "Invalid value for tags[...]: expected a string, got an integer"),
    (
        _model_body(schema={"fields": {"genre": {"filterable": 1}}}),
        "Invalid value for schema.fields[...].filterable: expected a boolean, got an integer",
    ),
    (
        _model_body(read_capacity=1),
        "Invalid value for read_capacity: expected an object, got an integer",
    ),
]


@pytest.mark.parametrize(("body", "message"), CREATE_FOR_MODEL)
def test_malformed_create_for_model_is_refused(
    server: LiveServer, body: dict[str, Any], message: str
) -> None:
    before = _listed(server)
    response = httpx.post(f"{server.url}/indexes/create-for-model", headers=H, json=body)
    assert _error(response) == message
    assert _listed(server) == before


def test_sdk_still_lists_and_describes_after_refusals(server: LiveServer, pc: Pinecone) -> None:
    name = unique("cloud")
    bad = _v2025(name=name, spec=_serverless(cloud=123))
    assert httpx.post(f"{server.url}/indexes", headers=H, json=bad).status_code == 400
    good = _v2025(name=name, spec=_serverless(cloud="gcp", region="europe-west4"), metric="Cosine")
    assert httpx.post(f"{server.url}/indexes", headers=H, json=good).status_code == 201
    desc = pc.describe_index(name)
    assert (desc.deployment.cloud, desc.deployment.region, desc.metric) == (
        "gcp",
        "europe-west4",
        "cosine",
    )
    assert name in pc.list_indexes().names()
    pc.delete_index(name)
    # Pinecone lowercases the metric when it creates the index, for either create.
    body = _model_body(name=name, embed={**MODEL, "metric": "COSINE"})
    created = httpx.post(f"{server.url}/indexes/create-for-model", headers=H, json=body)
    assert created.status_code == 201, created.text
    assert pc.describe_index(name).metric == "cosine"
    pc.delete_index(name)


@pytest.mark.parametrize("provider", [[], {}, ["aws"]])
def test_storage_integration_provider_of_another_type_is_a_400(
    server: LiveServer, provider: object
) -> None:
    url = f"{server.url}/storage-integrations"
    before = httpx.get(url, headers=H).json()
    body = {"name": "store", "provider": provider, "credentials": {"access_key_id": "a"}}
    assert _error(httpx.post(url, headers=H, json=body)) == (
        f"Invalid provider {provider!r}: expected one of aws, gcp, azure"
    )
    assert httpx.get(url, headers=H).json() == before
