"""Scale-out through object storage, against moto's S3 (and a file:// bucket).

- Conditional puts and the writer lease: one holder at a time, taken over once lapsed.
- A namespace shipped to S3 while it is written, flushed and compacted, mirrored into
  another directory, answers reads exactly as its writer does.
- End to end: a server ships its dedicated index to S3; a replica process that only
  sees the bucket (its own cache directory) joins it, serves its share of the reads,
  and reads the writes made just before them. A namespace whose lease another writer
  holds refuses writes.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import ServerlessSpec
from pinecone.errors import ApiError

from spruce.engine.disk.ship import Mirror, Publisher
from spruce.engine.options import EngineOptions
from spruce.engine.read.filters import parse_filter
from spruce.engine.read.follower import Follower
from spruce.engine.write.namespace import Namespace
from spruce.storage import BlobStore, Lease, StoreOptions, open_store
from spruce.types import Record
from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer
from tests.imports.emulators import Moto
from tests.read_capacity.conftest import FAST, dedicated, replicas, settle, start

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
TOKEN = "shared-replica-secret"


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    os.environ.update(CREDENTIALS)
    server = Moto.start()
    import boto3

    boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").create_bucket(
        Bucket="spruce-test"
    )
    yield server
    server.stop()


@pytest.fixture(params=["s3", "file"])
def store(request: pytest.FixtureRequest, moto: Moto, tmp_path: Path) -> BlobStore:
    if request.param == "s3":
        return open_store(f"s3://spruce-test/{unique('t')}", StoreOptions(moto.endpoint))
    return open_store(f"file://{tmp_path}/bucket")


def test_conditional_puts(store: BlobStore) -> None:
    etag = store.create("k", b"one")
    assert etag is not None and store.create("k", b"two") is None
    newer = store.replace("k", b"three", etag)
    assert newer is not None and store.replace("k", b"four", etag) is None
    assert store.get("k") == b"three" and store.get("missing") is None
    store.put("d/x/1", b"")
    assert store.keys("d/") == ["d/x/1"] and store.children("d") == ["x"]


def test_one_lease_holder(store: BlobStore) -> None:
    a = Lease(store, "LEASE", "a", ttl=1.0)
    b = Lease(store, "LEASE", "b", ttl=1.0)
    assert a.acquire() and not b.acquire()
    assert b.holder_now() == "a" and a.renew()
    time.sleep(1.2)  # a lapses without renewing: b takes over, a learns it lost
    assert b.acquire() and not a.renew() and not a.held
    b.release()
    assert a.acquire()


def _same(f: Follower, ns: Namespace) -> None:
    ids = [f"id{i}" for i in range(40)]
    assert f.count() == ns.count()
    assert f.list_ids(limit=1000) == ns.list_ids(limit=1000)
    got, want = f.fetch(ids), ns.fetch(ids)
    assert {k: (r.values.tolist(), r.metadata) for k, r in got.items()} == {  # type: ignore[union-attr]
        k: (r.values.tolist(), r.metadata)  # type: ignore[union-attr]
        for k, r in want.items()
    }
    q = np.array([0.5, -1.0, 0.25], dtype=np.float32)
    assert [(m.id, m.score) for m in f.query(q, top_k=7)] == [
        (m.id, m.score) for m in ns.query(q, top_k=7)
    ]


def test_ship_and_mirror_a_namespace(moto: Moto, tmp_path: Path) -> None:
    bucket = open_store(f"s3://spruce-test/{unique('ns')}", StoreOptions(moto.endpoint))
    opts = EngineOptions(auto_compact=False, small_merge_count=2)
    ns = Namespace.open(
        tmp_path / "w", dimension=3, metric="dotproduct", flush_rows=5, options=opts
    )
    publisher = Publisher(tmp_path / "w", bucket)
    mirror = Mirror(bucket, tmp_path / "m")
    follower: Follower | None = None
    rng = random.Random(5)
    for step in range(80):
        op = rng.random()
        if op < 0.5:
            ns.upsert(
                [
                    Record(
                        f"id{rng.randrange(40)}",
                        np.array([rng.randint(-4, 4) / 4 for _ in range(3)], dtype=np.float32),
                        None,
                        {"g": rng.randrange(3)},
                    )
                    for _ in range(rng.randint(1, 4))
                ]
            )
        elif op < 0.65:
            ns.delete([f"id{rng.randrange(40)}" for _ in range(3)])
        elif op < 0.75:
            f = parse_filter({"g": 1})
            assert f is not None
            ns.update_where(f, {"u": step})
        elif op < 0.85:
            ns.flush()
        elif op < 0.93:
            ns.compact()
        elif op < 0.95:
            ns.delete_all()
        lsn = publisher.publish()
        assert lsn == ns.lsn
        assert mirror.sync()
        if follower is None:
            follower = Follower(tmp_path / "m", dimension=3, metric="dotproduct")
        assert follower.catch_up(lsn) == lsn
        _same(follower, ns)
    # What the writer removed is gone from the bucket too.
    local = {p.name for p in (tmp_path / "w" / "segments").iterdir()}
    assert {k.split("/")[1] for k in bucket.keys("segments/")} == local
    ns.close()


@pytest.fixture(scope="module")
def shipping(moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        **FAST,
        **CREDENTIALS,
        "SPRUCE_REPLICA_STORE": "s3://spruce-test/server",
        "SPRUCE_S3_ENDPOINT": moto.endpoint,
        "SPRUCE_REPLICA_TOKEN": TOKEN,
    }
    live = start(tmp_path_factory.mktemp("ship") / "data", env)
    yield live
    live.stop()


def _source(server: LiveServer, name: str) -> str:
    body: dict[str, Any] = httpx.get(
        f"{server.url}/indexes/{name}/read_capacity/replicas", headers={"Api-Key": API_KEY}
    ).json()
    source: str = body["source"]
    return source


def test_a_replica_on_another_host(shipping: LiveServer, moto: Moto, tmp_path: Path) -> None:
    pc = client(shipping)
    name = unique("far")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=4, spec=spec)
    index = pc.Index(host=settle(shipping, name)["host"])
    index.upsert(vectors=[(f"f{i}", [1.0, float(i), 0.0, 0.5]) for i in range(30)])
    cmd = [sys.executable, "-m", "spruce.replica", "--source", _source(shipping, name)]
    cmd += ["--cache-dir", str(tmp_path / "cache"), "--s3-endpoint", moto.endpoint]
    cmd += ["--metric", "cosine", "--dimension", "4", "--join", shipping.url, "--index", name]
    cmd += ["--api-key", API_KEY]
    env = {**os.environ, **CREDENTIALS, "SPRUCE_REPLICA_TOKEN": TOKEN}
    far = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 60
        while not any(r.get("remote") for r in replicas(shipping, name)):
            assert time.monotonic() < deadline and far.poll() is None
            time.sleep(0.2)
        # Its own copy, from the bucket only.
        assert (tmp_path / "cache" / "ns-__default__" / "manifest" / "MANIFEST").exists()
        for i in range(30, 50):  # every read sees the write before it, wherever it runs
            index.upsert(vectors=[(f"f{i}", [1.0, float(i), 0.0, 0.5])])
            assert f"f{i}" in index.fetch(ids=[f"f{i}"]).vectors
            assert index.query(vector=[1, i, 0, 0.5], top_k=1).matches[0].id == f"f{i}"
        served = {r["remote"]: r["served"] for r in replicas(shipping, name)}
        assert served[True] >= 15 and served[False] >= 15, served
    finally:
        far.terminate()
        far.wait(timeout=30)
    # Gone: reads fall back to the local replica.
    assert index.query(vector=[1, 3, 0, 0.5], top_k=1).matches[0].id == "f3"
    pc.delete_index(name)


def test_another_writers_lease_refuses_writes(shipping: LiveServer, moto: Moto) -> None:
    pc = client(shipping)
    name = unique("lease")
    spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(1, 1))
    pc.create_index(name=name, dimension=4, spec=spec)
    index = pc.Index(host=settle(shipping, name)["host"])
    bucket = open_store(_source(shipping, name), StoreOptions(moto.endpoint))
    other = Lease(bucket.child("ns-__default__"), "LEASE", "standby:1", ttl=60)
    assert other.acquire()
    with pytest.raises(ApiError) as raised:
        index.upsert(vectors=[("a", [1, 0, 0, 0])])
    assert raised.value.message == (
        f"Index '{name}': another server (standby:1) holds the writer lease of namespace "
        "directory ns-__default__; writes go to it"
    )
    other.release()
    index.upsert(vectors=[("a", [1, 0, 0, 0])])
    assert Lease(bucket.child("ns-__default__"), "LEASE", "x").holder_now() not in (None, "x")
    pc.delete_index(name)
