"""kill -9 during a stream of acknowledged upserts: nothing acknowledged is lost,
nothing is half-applied."""

from __future__ import annotations

import threading
import time

import httpx

from tests.api.helpers import client, make_index
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY}
BATCH = 50


def _batch(n: int) -> list[dict[str, object]]:
    return [
        {"id": f"b{n}-{i}", "values": [float(n), float(i), 1.0], "metadata": {"batch": n}}
        for i in range(BATCH)
    ]


def test_kill_9_during_upserts(fresh_server: LiveServer) -> None:
    pc = client(fresh_server)
    host = make_index(pc, "crash", dimension=3).host
    acked: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        n = 0
        with httpx.Client(headers=H, timeout=5) as http:
            while not stop.is_set():
                try:
                    r = http.post(f"{host}/vectors/upsert", json={"vectors": _batch(n)})
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acked.append(n)
                n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    fresh_server.kill()
    stop.set()
    thread.join(timeout=10)
    assert len(acked) >= 40, "writer made too little progress before the kill"

    fresh_server.start()
    with httpx.Client(headers=H, timeout=10) as http:
        seen_batches: dict[int, int] = {}
        token = None
        while True:
            params = {"limit": 100, **({"paginationToken": token} if token else {})}
            page = http.get(f"{host}/vectors/list", params=params).json()
            for v in page["vectors"]:
                n = int(v["id"][1:].split("-")[0])
                seen_batches[n] = seen_batches.get(n, 0) + 1
            token = (page.get("pagination") or {}).get("next")
            if not token:
                break
        for n in acked:
            assert seen_batches.get(n) == BATCH, f"acknowledged batch {n} lost"
        for n, count in seen_batches.items():
            assert count == BATCH, f"batch {n} half-applied: {count} of {BATCH}"
        sample = acked[len(acked) // 2]
        fetched = http.get(f"{host}/vectors/fetch", params={"ids": [f"b{sample}-7"]}).json()[
            "vectors"
        ]
        assert fetched[f"b{sample}-7"]["values"] == [float(sample), 7.0, 1.0]
        assert fetched[f"b{sample}-7"]["metadata"] == {"batch": sample}
