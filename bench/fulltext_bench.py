"""Full-text search (BM25, ``text`` clauses) on the text of pypi-minilm-50k.

Spruce in process (engine namespace + ``service/documents/fulltext``: the path a
search takes below the HTTP edge) against raw tantivy in process on the same corpus
and the same analysis (simple tokenizer, lowercase, no stemming), ``top_k`` 10, the
dataset's query texts. Results: docs/BENCHMARKS.md, "Full-text search".

    .venv/bin/python bench/fulltext_bench.py --queries 1000
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import tantivy

from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.service.documents.analysis import analyzer
from spruce.service.documents.fulltext import Texts, top_k
from spruce.service.documents.query_string import text_query
from spruce.service.documents.schema import resolve_schema
from spruce.types import Record

PYPI = Path("/work/shared/datasets/pypi-minilm-50k")
SCHEMA = resolve_schema({"text": {"type": "string", "full_text_search": {}}}, None)


def corpus() -> tuple[list[str], list[str], list[str]]:
    ids: list[str] = []
    texts: list[str] = []
    for path in sorted((PYPI / "import" / "__default__").glob("*.parquet")):
        table = pq.read_table(path, columns=["id", "metadata"])
        ids += [str(i) for i in table.column("id").to_pylist()]
        for m in table.column("metadata").to_pylist():
            texts.append(str((json.loads(m) if m else {}).get("text") or ""))
    with open(PYPI / "queries.jsonl") as f:
        queries = [json.loads(line)["text"] for line in f]
    return ids, texts, queries


def timed(run: Callable[[str], object], queries: list[str]) -> dict[str, float]:
    lat = []
    start = time.perf_counter()
    for q in queries:
        t = time.perf_counter()
        run(q)
        lat.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    lat.sort()
    return {
        "qps": len(queries) / total,
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    ids, texts, queries = corpus()
    an = analyzer(SCHEMA.fields["text"]["full_text_search"])
    queries = [q for q in queries if an.tokens(q)][: args.queries]
    print(f"{len(ids)} documents, {len(queries)} queries")

    with tempfile.TemporaryDirectory() as tmp:
        # No background compaction: its output segment would be analysed again in the
        # middle of the timed queries (that cost is the "first search" line below).
        ns = Namespace.open(
            Path(tmp) / "ns",
            dimension=None,
            metric="dotproduct",
            options=EngineOptions(auto_compact=False, idle_compact_s=0),
        )
        t = time.perf_counter()
        for start in range(0, len(ids), 1000):
            ns.upsert(
                [
                    Record(i, metadata={"text": x})
                    for i, x in zip(
                        ids[start : start + 1000], texts[start : start + 1000], strict=True
                    )
                ]
            )
        # flush, not compact: a full compaction of these 50k text-only rows did not
        # finish within 40 s on the development machine (left for the engine's owners).
        ns.flush()
        print(f"spruce: write + flush {time.perf_counter() - t:.1f} s, {ns.read_view().shape()}")
        texts_cache = Texts()
        t = time.perf_counter()
        top_k(ns.read_view(), texts_cache, SCHEMA, [text_query("x", ["text"], [an])], None, 10)
        print(f"spruce: first search (analyses the segment) {time.perf_counter() - t:.2f} s")

        def spruce(q: str) -> object:
            node = text_query(q, ["text"], [an])
            return top_k(ns.read_view(), texts_cache, SCHEMA, [node], None, 10)

        ours = timed(spruce, queries)
        ns.close()

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("text", stored=False)
    index = tantivy.Index(builder.build())
    t = time.perf_counter()
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for i, x in zip(ids, texts, strict=True):
        writer.add_document(tantivy.Document(id=i, text=x))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    print(f"tantivy: index {time.perf_counter() - t:.1f} s")
    searcher = index.searcher()

    def raw(q: str) -> object:
        query, _ = index.parse_query_lenient(q, ["text"])
        return searcher.search(query, 10).hits

    theirs = timed(raw, queries)
    for name, r in (("spruce in process", ours), ("tantivy in process", theirs)):
        print(f"{name:20s} qps {r['qps']:8.0f}  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms")
    print(f"ratio spruce/tantivy qps: {ours['qps'] / theirs['qps']:.2f}")


if __name__ == "__main__":
    main()
