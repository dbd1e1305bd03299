"""The whole stack in process (REST app -> service -> engine) against a brute-force
model, with server restarts anywhere in the sequence.

Vectors are small integers under dotproduct, so every score is exact in float32 and
ties are real; Spruce breaks them by id, and so does the model.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from starlette.testclient import TestClient

from spruce.config import Settings
from spruce.server import Server, build

KEY = "model-key"
H = {"Api-Key": KEY}
IDS = [f"id{i}" for i in range(12)]
GENRES = ["a", "b", "c"]

ids = st.sampled_from(IDS)
vectors = st.lists(st.integers(-3, 3), min_size=3, max_size=3)
metadata = st.fixed_dictionaries({"g": st.sampled_from(GENRES), "n": st.integers(0, 5)})
filters = st.one_of(
    st.builds(lambda g: {"g": g}, st.sampled_from(GENRES)),
    st.builds(lambda n: {"n": {"$gte": n}}, st.integers(0, 5)),
    st.builds(
        lambda g, n: {"$or": [{"g": g}, {"n": {"$lt": n}}]},
        st.sampled_from(GENRES),
        st.integers(0, 5),
    ),
)


def _matches(flt: dict[str, Any], md: dict[str, Any]) -> bool:
    if "g" in flt:
        return bool(md["g"] == flt["g"])
    if "n" in flt:
        return bool(md["n"] >= flt["n"]["$gte"])
    left, right = flt["$or"]
    return bool(md["g"] == left["g"] or md["n"] < right["n"]["$lt"])


class StackModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-model-"))
        self.model: dict[str, dict[str, tuple[list[int], dict[str, Any]]]] = {}
        self.server: Server | None = None
        self.client: TestClient | None = None
        self._start()
        assert self.client is not None
        r = self.client.post(
            "/indexes",
            headers=H,
            json={
                "name": "model",
                "schema": {
                    "fields": {
                        "_values": {"type": "dense_vector", "dimension": 3, "metric": "dotproduct"}
                    }
                },
                "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "x"},
            },
        )
        assert r.status_code == 201, r.text
        host = r.json()["host"]
        self.prefix = host[host.index("/data/") :]

    def _start(self) -> None:
        settings = Settings(data_dir=self.dir, api_key=KEY, flush_rows=4)
        self.server = build(settings)
        self.client = TestClient(self.server.app)

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        assert self.client is not None
        r = self.client.post(self.prefix + path, headers=H, json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def teardown(self) -> None:
        if self.server is not None:
            self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(
        ns=st.sampled_from(["", "t1"]),
        batch=st.lists(st.tuples(ids, vectors, metadata), min_size=1, max_size=5),
    )
    def upsert(self, ns: str, batch: list[tuple[str, list[int], dict[str, Any]]]) -> None:
        self._post(
            "/vectors/upsert",
            {
                "namespace": ns,
                "vectors": [{"id": i, "values": v, "metadata": m} for i, v, m in batch],
            },
        )
        for i, v, m in batch:
            self.model.setdefault(ns or "__default__", {})[i] = (v, dict(m))

    @rule(
        ns=st.sampled_from(["", "t1"]),
        rid=ids,
        values=st.none() | vectors,
        md=st.none() | st.fixed_dictionaries({"n": st.integers(0, 5)}),
    )
    def update(
        self, ns: str, rid: str, values: list[int] | None, md: dict[str, Any] | None
    ) -> None:
        if values is None and md is None:
            return
        body: dict[str, Any] = {"namespace": ns, "id": rid}
        if values is not None:
            body["values"] = values
        if md is not None:
            body["setMetadata"] = md
        assert self.client is not None
        r = self.client.post(self.prefix + "/vectors/update", headers=H, json=body)
        current = self.model.get(ns or "__default__", {}).get(rid)
        if current is None:
            assert r.status_code == 404, r.text
            return
        assert r.status_code == 200, r.text
        v, m = current
        self.model[ns or "__default__"][rid] = (values or v, {**m, **(md or {})})

    @rule(ns=st.sampled_from(["", "t1"]), victims=st.lists(ids, max_size=4))
    def delete_ids(self, ns: str, victims: list[str]) -> None:
        self._post("/vectors/delete", {"namespace": ns, "ids": victims})
        for i in victims:
            self.model.get(ns or "__default__", {}).pop(i, None)

    @rule(ns=st.sampled_from(["", "t1"]), flt=filters)
    def delete_where(self, ns: str, flt: dict[str, Any]) -> None:
        self._post("/vectors/delete", {"namespace": ns, "filter": flt})
        records = self.model.get(ns or "__default__", {})
        for i in [i for i, (_, m) in records.items() if _matches(flt, m)]:
            del records[i]

    @precondition(lambda self: bool(self.model.get("t1")))
    @rule()
    def delete_all(self) -> None:
        self._post("/vectors/delete", {"namespace": "t1", "deleteAll": True})
        self.model["t1"] = {}

    @rule()
    def restart(self) -> None:
        assert self.server is not None
        self.server.close()
        self._start()

    @rule(ns=st.sampled_from(["", "t1"]), q=vectors, k=st.integers(1, 6), flt=st.none() | filters)
    def query(self, ns: str, q: list[int], k: int, flt: dict[str, Any] | None) -> None:
        body: dict[str, Any] = {"namespace": ns, "vector": q, "topK": k, "includeMetadata": True}
        if flt is not None:
            body["filter"] = flt
        got = self._post("/query", body)["matches"]
        records = self.model.get(ns or "__default__", {})
        scored = sorted(
            (-sum(a * b for a, b in zip(v, q, strict=True)), i)
            for i, (v, m) in records.items()
            if flt is None or _matches(flt, m)
        )[:k]
        assert [(m["id"], m["score"]) for m in got] == [(i, float(-s)) for s, i in scored]
        for m in got:
            assert m.get("metadata") == records[m["id"]][1]

    @invariant()
    def fetch_and_list_agree(self) -> None:
        assert self.client is not None
        for ns in ("", "t1"):
            records = self.model.get(ns or "__default__", {})
            r = self.client.get(
                self.prefix + "/vectors/fetch", headers=H, params={"ids": IDS, "namespace": ns}
            )
            fetched = r.json()["vectors"]
            assert {i: (v["values"], v.get("metadata")) for i, v in fetched.items()} == {
                i: ([float(x) for x in v], m) for i, (v, m) in records.items()
            }
            listed: list[str] = []
            token = None
            while True:
                params: dict[str, Any] = {"namespace": ns, "limit": 5}
                if token:
                    params["paginationToken"] = token
                page = self.client.get(self.prefix + "/vectors/list", headers=H, params=params)
                listed += [v["id"] for v in page.json()["vectors"]]
                token = (page.json().get("pagination") or {}).get("next")
                if not token:
                    break
            assert listed == sorted(records)


StackModel.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestStackModel = StackModel.TestCase
