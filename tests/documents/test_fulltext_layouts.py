"""BM25 over per-source postings does not depend on the segment layout: the same writes,
flushed at different points, compacted, reopened, score as a brute-force reference."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.options import EngineOptions
from spruce.engine.write.namespace import Namespace
from spruce.service.documents.fulltext import Texts, top_k
from spruce.service.documents.query_string import Bool, Term
from spruce.service.documents.schema import resolve_schema
from spruce.types import Record
from tests.documents.test_fulltext import DOCS, QUERIES, SCHEMA, WORDS, _ranked, reference

DOC_SCHEMA = resolve_schema(SCHEMA["fields"], None)
OPTIONS = EngineOptions(auto_compact=False, idle_compact_s=0)


def _record(doc: dict[str, Any]) -> Record:
    return Record(doc["_id"], metadata={k: v for k, v in doc.items() if k != "_id"})


def _nodes(query: str, fields: list[str]) -> list[Any]:
    from spruce.service.documents.analysis import analyzer

    return [
        Bool(
            should=tuple(
                Term(f, t)
                for f in fields
                for t in analyzer(DOC_SCHEMA.fields[f]["full_text_search"]).tokens(query)
            )
        )
    ]


def _check(ns: Namespace, texts: Texts, docs: list[dict[str, Any]], k: int = 12) -> None:
    view = ns.read_view()
    for query in QUERIES:
        for fields in (["title"], ["body"], ["title", "body"]):
            scores = reference(docs, query, fields)
            want = _ranked(scores, k)
            got = top_k(view, texts, DOC_SCHEMA, _nodes(query, fields), None, k)
            assert len({i for i, _ in got}) == len(got) == len(want), (query, fields)
            # Exact top-k up to the order of ties: the document at each rank has the
            # reference's score for that rank (sums in another order differ in the last
            # bits, so equal scores may come in either order, and either may make the cut).
            for (i, a), (_, b) in zip(got, want, strict=True):
                assert scores[i] == pytest.approx(b, abs=1e-9), (query, fields, i)
                assert a == pytest.approx(b, abs=1e-4)


def _open(path: Path) -> Namespace:
    return Namespace.open(path, dimension=None, metric="dotproduct", options=OPTIONS)


@settings(max_examples=8, deadline=None)
@given(
    flush_at=st.sets(st.integers(0, len(DOCS)), max_size=6),
    seed=st.integers(0, 1000),
)
def test_scores_do_not_depend_on_where_flushes_fall(
    tmp_path_factory: pytest.TempPathFactory, flush_at: set[int], seed: int
) -> None:
    path = tmp_path_factory.mktemp("layout") / "ns"
    ns, texts = _open(path), Texts()
    rnd = random.Random(seed)
    live: dict[str, dict[str, Any]] = {}
    try:
        for i, doc in enumerate(DOCS):
            if i in flush_at:
                ns.flush()
                if live:
                    _check(ns, texts, list(live.values()))  # searched between flushes too
            ns.upsert([_record(doc)])
            live[doc["_id"]] = doc
        # Overwrites and deletes, some in the memtable, some of flushed rows.
        for _ in range(10):
            doc = rnd.choice(DOCS)
            if rnd.random() < 0.5:
                ns.delete([doc["_id"]])
                live.pop(doc["_id"], None)
            else:
                new = {**doc, "title": " ".join(rnd.choices(WORDS, k=rnd.randint(1, 5)))}
                ns.upsert([_record(new)])
                live[doc["_id"]] = new
        _check(ns, texts, list(live.values()))
        ns.compact()
        _check(ns, texts, list(live.values()))
        ns.close()
        ns = _open(path)
        _check(ns, Texts(), list(live.values()))
    finally:
        ns.close()


def test_filters_apply_per_source(tmp_path: Path) -> None:
    from spruce.engine.read.filters import parse_filter

    ns, texts = _open(tmp_path / "ns"), Texts()
    try:
        for i, doc in enumerate(DOCS):
            ns.upsert([_record(doc)])
            if i % 17 == 16:
                ns.flush()
        scores = reference(DOCS, "cat dog", ["title", "body"])
        want = _ranked({k: v for k, v in scores.items() if int(k[1:]) >= 30}, 8)
        got = top_k(
            ns.read_view(),
            texts,
            DOC_SCHEMA,
            _nodes("cat dog", ["title", "body"]),
            parse_filter({"n": {"$gte": 30}}),
            8,
        )
        assert [i for i, _ in got] == [i for i, _ in want]
    finally:
        ns.close()
