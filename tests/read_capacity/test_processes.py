"""Several processes on one machine, as several machines would run them.

- A replica started by hand (``python -m spruce.replica``), not by the server, serves
  the index from the same files while the server writes: what a read node on another
  host does with shared storage. Given the writer's LSN it reads its own writes.
- A restarted server starts the replicas its indexes had, and serves the same data.
"""

from __future__ import annotations

import subprocess
import sys
import zlib
from pathlib import Path

import httpx
import numpy as np
from pinecone import ServerlessSpec

from spruce.service.read_capacity.protocol import (
    FetchReply,
    FetchRequest,
    QueryReply,
    QueryRequest,
    ReplicaClient,
)
from tests.api.helpers import client, unique
from tests.conftest import API_KEY
from tests.read_capacity.conftest import FAST, dedicated, replicas, settle, start


def test_a_replica_started_by_hand(tmp_path: Path) -> None:
    server = start(tmp_path / "data", FAST)
    replica = None
    try:
        pc = client(server)
        name = unique("hand")
        pc.create_index(
            name=name, dimension=4, spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        host = settle(server, name)["host"]
        (root,) = (tmp_path / "data" / "indexes").iterdir()
        index = pc.Index(host=host)
        index.upsert(vectors=[(f"a{i}", [1.0, i, 0, 0]) for i in range(30)])
        cmd = [sys.executable, "-m", "spruce.replica", "--root", str(root), "--dimension", "4"]
        cmd += ["--metric", "cosine", "--shard", "1", "--shards", "2"]
        replica = subprocess.Popen(cmd, stdout=subprocess.PIPE)
        assert replica.stdout is not None
        ready = replica.stdout.readline().decode().split()
        assert ready[0] == "SPRUCE-REPLICA-READY"
        remote = ReplicaClient("127.0.0.1", int(ready[1]))
        # Its shard only: ids whose crc32 is odd.
        ids = [f"a{i}" for i in range(30)]
        got = remote.call(
            "/fetch", FetchRequest(namespace="__default__", min_lsn=0, ids=ids), FetchReply
        )
        assert sorted(r.id for r in got.records) == sorted(
            i for i in ids if zlib.crc32(i.encode()) % 2 == 1
        )
        # A write through the server; the replica, told the writer's LSN, sees it at once.
        response = httpx.post(
            f"{host}/vectors/upsert",
            headers={"Api-Key": API_KEY},
            json={"vectors": [{"id": "zz-new", "values": [0, 0, 1, 0]}]},
        )
        lsn = int(response.headers["x-pinecone-request-lsn"])
        new_shard = zlib.crc32(b"zz-new") % 2
        q = QueryRequest(
            namespace="__default__",
            min_lsn=lsn,
            top_k=1,
            vector=np.array([0, 0, 1, 0], "<f4").tobytes(),
        )
        top = remote.call("/query", q, QueryReply)
        assert top.lsn >= lsn
        assert (top.matches[0].id == "zz-new") == (new_shard == 1)
        remote.close()
    finally:
        if replica is not None:
            replica.terminate()
            replica.wait(timeout=30)
        server.stop()


def test_restart_brings_replicas_back(tmp_path: Path) -> None:
    server = start(tmp_path / "data", FAST)
    try:
        pc = client(server)
        name = unique("restart")
        spec = ServerlessSpec(cloud="aws", region="us-east-1", read_capacity=dedicated(2, 2))
        pc.create_index(name=name, dimension=4, spec=spec)
        index = pc.Index(host=settle(server, name)["host"])
        index.upsert(vectors=[(f"r{i}", [1.0, i, 0, 0]) for i in range(40)])
        before = {r["pid"] for r in replicas(server, name)}
        assert len(before) == 4
        server.kill()  # kill -9: the replicas notice and exit on their own
        server.start()
        body = settle(server, name)
        assert body["read_capacity"]["status"] == {
            "state": "Ready",
            "current_shards": 2,
            "current_replicas": 2,
        }
        after = replicas(server, name)
        assert len(after) == 4 and not before & {r["pid"] for r in after}
        index = pc.Index(host=body["host"])
        assert index.query(vector=[1, 39, 0, 0], top_k=1).matches[0].id == "r39"
        assert len(index.fetch(ids=[f"r{i}" for i in range(40)]).vectors) == 40
    finally:
        server.stop()
