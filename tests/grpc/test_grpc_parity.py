"""REST and gRPC give the same answers: a seeded random run of writes, reads and
bad requests goes to twin indexes, one through each protocol, and every answer
(errors included) must be equal; then each index is read through the other
protocol, to show that both stored the same records."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from pinecone import PineconeError

from tests.api.helpers import client, make_index, unique
from tests.conftest import LiveServer
from tests.grpc.helpers import grpc_client

DIM = 3
IDS = [f"id-{i}" for i in range(12)]
NAMESPACES = ["", "ns-a", "ns-b"]
WORDS = ["red", "green", "blue"]


def _metadata(rng: random.Random) -> dict[str, Any] | None:
    if rng.random() < 0.2:
        return None
    meta: dict[str, Any] = {"color": rng.choice(WORDS), "rank": rng.randint(0, 5)}
    if rng.random() < 0.5:
        meta["score"] = rng.choice([0.25, 1.5, -2.75])
    if rng.random() < 0.5:
        meta["tags"] = rng.sample(WORDS, rng.randint(0, 2))
    if rng.random() < 0.3:
        meta["flag"] = rng.random() < 0.5
    return meta


def _values(rng: random.Random) -> list[float]:
    # Binary fractions: exact in float32, so both paths see identical inputs.
    return [rng.choice([0.0, 0.25, 0.5, -0.5, 1.0]) for _ in range(DIM)]


def _filter(rng: random.Random) -> dict[str, Any]:
    return rng.choice(
        [
            {"color": rng.choice(WORDS)},
            {"rank": {"$gte": rng.randint(0, 5)}},
            {"tags": {"$in": [rng.choice(WORDS)]}},
            {"$or": [{"color": "red"}, {"flag": True}]},
            {"score": {"$exists": True}},
        ]
    )


Op = tuple[str, dict[str, Any]]


def _ops(seed: int, count: int) -> list[Op]:
    rng = random.Random(seed)
    ops: list[Op] = []
    for _ in range(count):
        ns = rng.choice(NAMESPACES)
        kind = rng.choices(
            ["upsert", "query", "fetch", "update", "delete", "list", "stats", "bad", "ns"],
            weights=[6, 5, 3, 3, 2, 2, 1, 1, 1],
        )[0]
        if kind == "upsert":
            vectors = []
            for vid in rng.sample(IDS, rng.randint(1, 4)):
                vector: dict[str, Any] = {"id": vid, "values": _values(rng)}
                if (meta := _metadata(rng)) is not None:
                    vector["metadata"] = meta
                vectors.append(vector)
            ops.append(("upsert", {"vectors": vectors, "namespace": ns}))
        elif kind == "query":
            args: dict[str, Any] = {
                "top_k": rng.randint(1, 8),
                "namespace": ns,
                "include_values": rng.random() < 0.5,
                "include_metadata": rng.random() < 0.5,
            }
            if rng.random() < 0.2:
                args["id"] = rng.choice(IDS)
            else:
                args["vector"] = _values(rng)
            if rng.random() < 0.4:
                args["filter"] = _filter(rng)
            ops.append(("query", args))
        elif kind == "fetch":
            ops.append(("fetch", {"ids": rng.sample(IDS, 3), "namespace": ns}))
        elif kind == "update":
            if rng.random() < 0.3:
                args = {"filter": _filter(rng), "set_metadata": {"touched": True}}
            else:
                args = {"id": rng.choice(IDS)}
                if rng.random() < 0.5:
                    args["values"] = _values(rng)
                else:
                    args["set_metadata"] = _metadata(rng) or {"color": "blue"}
            ops.append(("update", {**args, "namespace": ns}))
        elif kind == "delete":
            if rng.random() < 0.5:
                ops.append(("delete", {"ids": rng.sample(IDS, 2), "namespace": ns}))
            else:
                ops.append(("delete", {"filter": _filter(rng), "namespace": ns}))
        elif kind == "list":
            ops.append(("list", {"prefix": "id-1", "limit": rng.randint(1, 3), "namespace": ns}))
        elif kind == "stats":
            ops.append(("stats", {}))
        elif kind == "ns":
            ops.append(("namespaces", {}))
        else:
            ops.append(
                rng.choice(
                    [
                        ("query", {"vector": [1.0] * (DIM + 1), "top_k": 1}),
                        ("upsert", {"vectors": [{"id": "x", "values": [1.0]}]}),
                        ("describe_namespace", {"namespace": "missing"}),
                        ("update", {"id": "never-written", "values": [1.0] * DIM}),
                    ]
                )
            )
    return ops


def _sparse(sv: Any) -> Any:
    return None if sv is None else (list(sv.indices), list(sv.values))


def _vector(v: Any) -> tuple[Any, ...]:
    return (v.id, list(v.values or []), _sparse(v.sparse_values), v.metadata or None)


def _answer(index: Any, kind: str, args: dict[str, Any]) -> Any:
    """One call, reduced to plain values that compare equal across protocols."""
    try:
        if kind == "upsert":
            return index.upsert(**args).upserted_count
        if kind == "query":
            res = index.query(**args)
            # Scores are float32: REST writes the shortest decimal, gRPC's client widens.
            matches = [(m.id, float(np.float32(m.score)), *_vector(m)[1:]) for m in res.matches]
            return matches, res.namespace, res.usage.read_units
        if kind == "fetch":
            res = index.fetch(**args)
            vectors = {k: _vector(v) for k, v in res.vectors.items()}
            return vectors, res.namespace, res.usage.read_units
        if kind == "update":
            return index.update(**args).matched_records
        if kind == "delete":
            return index.delete(**args)
        if kind == "list":
            res = index.list_paginated(**args)
            token = res.pagination.next if res.pagination else None
            return [v.id for v in res.vectors], token, res.namespace
        if kind == "stats":
            res = index.describe_index_stats()
            counts = {k: v.vector_count for k, v in res.namespaces.items()}
            return counts, res.total_vector_count, res.dimension, res.metric
        if kind == "namespaces":
            res = index.list_namespaces_paginated()
            return [(n.name, n.record_count) for n in res.namespaces], res.total_count
        if kind == "describe_namespace":
            res = index.describe_namespace(**args)
            return res.name, res.record_count
    except PineconeError as exc:
        return type(exc).__name__, getattr(exc, "status_code", None), exc.message
    raise AssertionError(kind)


def _everything(index: Any) -> dict[str, Any]:
    return {ns: _answer(index, "fetch", {"ids": IDS, "namespace": ns})[0] for ns in NAMESPACES}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rest_and_grpc_answer_alike(server: LiveServer, seed: int) -> None:
    rest_pc, grpc_pc = client(server), grpc_client(server)
    names = unique("parity-rest"), unique("parity-grpc")
    over_rest = make_index(rest_pc, names[0], dimension=DIM)
    over_grpc = make_index(grpc_pc, names[1], dimension=DIM)
    try:
        for step, (kind, args) in enumerate(_ops(seed, 80)):
            rest_answer = _answer(over_rest, kind, args)
            grpc_answer = _answer(over_grpc, kind, args)
            assert rest_answer == grpc_answer, f"step {step}: {kind} {args}"
        # Both stored the same records: read each through the other protocol.
        crossed_rest = grpc_pc.Index(host=rest_pc.describe_index(names[0]).host)
        crossed_grpc = rest_pc.Index(host=grpc_pc.describe_index(names[1]).host)
        state = _everything(over_rest)
        assert any(state.values())
        assert _everything(crossed_rest) == state
        assert _everything(crossed_grpc) == state
        assert _everything(over_grpc) == state
    finally:
        rest_pc.delete_index(names[0])
        grpc_pc.delete_index(names[1])
