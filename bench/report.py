"""Markdown tables (with Spruce/peer ratios) from bench/results/<dataset>-*.json.

bench/.venv/bin/python bench/report.py pypi50k
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
ORDER = [
    "spruce-inproc",
    "spruce-inproc-sq8",
    "spruce-server",
    "spruce-server-grpc",
    "numpy-exact",
    "faiss-hnsw",
    "chroma",
    "milvus-lite",
    "lancedb",
]
FIGURES = [  # (label, getter, higher is better)
    ("QPS 1 client", lambda r: r["unfiltered"]["qps_1"], True),
    ("QPS 8 clients", lambda r: r["unfiltered"]["qps_8"], True),
    ("p50 ms", lambda r: r["unfiltered"]["p50_ms"], False),
    ("p99 ms", lambda r: r["unfiltered"]["p99_ms"], False),
    ("recall@10", lambda r: r["unfiltered"]["recall"], True),
    ("ingest vectors/s", lambda r: r["ingest_per_s"], True),
    ("load+build s", lambda r: r["total_load_s"], False),
    ("RSS MB", lambda r: r["rss_mb"], False),
]


def load(dataset: str) -> dict[str, dict]:
    out = {}
    for path in RESULTS.glob(f"{dataset}-*.json"):
        r = json.loads(path.read_text())
        out[r["system"]] = r
    return {k: out[k] for k in ORDER if k in out}


def fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def main(dataset: str) -> None:
    rows = load(dataset)
    ok = {k: r for k, r in rows.items() if "error" not in r}
    print(f"#### {dataset}: unfiltered top-10, recall target 0.95\n")
    print(
        "| system | knob | recall@10 | QPS 1 client | QPS 8 clients | p50 ms | p99 ms | ingest vec/s | build s | load+build s | RSS MB | disk MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in ok.items():
        u = r["unfiltered"]
        print(
            f"| {name} | {r['knob']} | {u['recall']:.3f} | {fmt(u['qps_1'])} | {fmt(u['qps_8'])} | "
            f"{u['p50_ms']:.2f} | {u['p99_ms']:.2f} | {fmt(r['ingest_per_s'])} | {r['build_s']:.1f} | {r['total_load_s']:.1f} | "
            f"{fmt(r['rss_mb'])} | {fmt(r['disk_mb'])} |"
        )
    for name, r in rows.items():
        if "error" in r:
            print(f"| {name} | failed: {r['error'][:120]} |||||||||")
    print()
    for spruce in ("spruce-inproc", "spruce-server", "spruce-server-grpc"):
        if spruce not in ok:
            continue
        peers = [p for p in ok if not p.startswith("spruce")]
        print(f"Ratio {spruce} / peer (>1 means Spruce's figure is larger):\n")
        print("| figure | " + " | ".join(peers) + " |")
        print("|---|" + "---|" * len(peers))
        for label, get, _ in FIGURES:
            cells = []
            for p in peers:
                try:
                    cells.append(f"{get(ok[spruce]) / get(ok[p]):.2f}")
                except (ZeroDivisionError, KeyError, TypeError):
                    cells.append("-")
            print(f"| {label} | " + " | ".join(cells) + " |")
        print()
    print(f"#### {dataset}: filtered top-10 (`bucket < 1000*s`), 1 client\n")
    sels = ["0.001", "0.01", "0.1", "0.5"]
    print("| system | " + " | ".join(f"s={s}: recall / p50 / p99 ms / QPS" for s in sels) + " |")
    print("|---|" + "---|" * len(sels))
    for name, r in ok.items():
        cells = []
        for s in sels:
            f = r["filtered"].get(s)
            cells.append(
                "-"
                if f is None
                else f"{f['recall']:.3f} / {f['p50_ms']:.2f} / {f['p99_ms']:.2f} / {fmt(f['qps_1'])}"
            )
        print(f"| {name} | " + " | ".join(cells) + " |")
    loads = [f"{r['load_avg_start']:.1f}-{r['load_avg_end']:.1f}" for r in rows.values()]
    print(f"\nLoad average (1 min) during the runs, per system: {', '.join(loads)}.")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "pypi50k")
