"""Full-text search: BM25 against a brute-force reference, query_string semantics, SDK."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pinecone import QueryStringQuery, TextQuery

from spruce.service.documents.analysis import analyzer
from spruce.service.documents.fulltext import Scorer, SourceText, Stats
from spruce.service.documents.query_string import parse
from tests.api.helpers import client, unique
from tests.conftest import API_KEY, LiveServer

H = {"Api-Key": API_KEY, "X-Pinecone-Api-Version": "2026-07"}
TITLE = {"language": "en", "stemming": True, "stop_words": True}
BODY = {"language": "en", "stemming": False, "stop_words": False}
SCHEMA = {
    "fields": {
        "title": {"type": "string", "full_text_search": {"stemming": True, "stop_words": True}},
        "body": {"type": "string", "full_text_search": {}},
    }
}
WORDS = [
    "the",
    "cat",
    "dog",
    "runs",
    "running",
    "ran",
    "fast",
    "red",
    "car",
    "soup",
    "tomato",
    "green",
    "river",
    "stone",
    "light",
]
rnd = random.Random(11)
DOCS = [
    {
        "_id": f"d{i:02d}",
        "title": " ".join(rnd.choices(WORDS, k=rnd.randint(1, 4))),
        "n": i,
        **({"body": " ".join(rnd.choices(WORDS, k=rnd.randint(2, 12)))} if i % 5 else {}),
    }
    for i in range(60)
]
QUERIES = ["cat", "running dog", "the red car", "tomato soup green", "stone", "fast fast light"]


def reference(docs: list[dict[str, Any]], query: str, fields: list[str]) -> dict[str, float]:
    """BM25 written out per document from the definition (k1 = 1.2, b = 0.75)."""
    configs = {"title": TITLE, "body": BODY}
    scores: dict[str, float] = {}
    for name in fields:
        an = analyzer(configs[name])
        toks = {d["_id"]: an.tokens(d[name]) for d in docs if name in d}
        toks = {k: v for k, v in toks.items() if v}
        n = len(toks)
        if n == 0:
            continue
        avgdl = sum(len(v) for v in toks.values()) / n
        for term in set(an.tokens(query)):
            df = sum(1 for v in toks.values() if term in v)
            if df == 0:
                continue
            w = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for doc, v in toks.items():
                tf = Counter(v)[term]
                if tf:
                    part = w * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(v) / avgdl))
                    scores[doc] = scores.get(doc, 0.0) + part
    return scores


def _ranked(scores: dict[str, float], k: int) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]


@pytest.fixture(scope="module")
def servers(
    server: LiveServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    """The shared server (memtable) and one that flushes every 6 rows (segments)."""
    live = LiveServer(tmp_path_factory.mktemp("fts") / "data", extra=["--flush-rows", "6"])
    live.data_dir.mkdir(parents=True)
    live.start()
    yield [server, live]
    live.stop()


def _index(live: LiveServer) -> Any:
    pc = client(live)
    name = unique("fts")
    pc.indexes.create(name=name, schema=SCHEMA)
    host = pc.indexes.describe(name).host
    index = pc.index(host=host)
    index.test_host = host
    return index


def _search(idx: Any, clauses: list[Any], k: int = 10, **kw: Any) -> list[tuple[str, float]]:
    r = idx.documents.search(namespace="n", score_by=clauses, top_k=k, **kw)
    return [(m.id, m.score) for m in r.matches]


def _check(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        assert a == pytest.approx(b, abs=1e-4)


def test_bm25_matches_the_reference_whatever_the_segment_layout(servers: list[LiveServer]) -> None:
    indexes = [_index(live) for live in servers]
    for idx in indexes:
        for start in range(0, len(DOCS), 4):  # many writes: many segments on the second
            idx.documents.upsert(namespace="n", documents=DOCS[start : start + 4])
    live_docs = list(DOCS)
    for step in range(2):
        for query in QUERIES:
            for fields in (["title"], ["body"], ["title", "body"]):
                want = _ranked(reference(live_docs, query, fields), 10)
                assert want, query
                for idx in indexes:
                    _check(_search(idx, [TextQuery(query=query, fields=fields)]), want)
        if step == 0:
            # Deleted and rewritten documents leave the statistics (df, N, avgdl).
            for idx in indexes:
                idx.documents.delete(namespace="n", ids=[f"d{i:02d}" for i in range(0, 60, 3)])
                idx.documents.update(
                    namespace="n", documents=[{"_id": "d01", "title": "cat cat cat"}]
                )
            live_docs = [d for d in DOCS if int(d["_id"][1:]) % 3]
            live_docs = [
                {**d, "title": "cat cat cat"} if d["_id"] == "d01" else d for d in live_docs
            ]


def test_scores_survive_compaction_restart_and_kill_9(tmp_path: Path) -> None:
    live = LiveServer(tmp_path / "data", extra=["--flush-rows", "3"])
    live.data_dir.mkdir(parents=True)
    live.start()
    try:
        idx = _index(live)
        host = idx.test_host
        for d in DOCS:
            idx.documents.upsert(namespace="n", documents=[d])
        want = _ranked(reference(DOCS, "red car soup", ["title", "body"]), 15)
        _check(_search(idx, [TextQuery(query="red car soup", fields=["title", "body"])], 15), want)
        live.restart()
        idx = client(live).index(host=host)
        _check(_search(idx, [TextQuery(query="red car soup", fields=["title", "body"])], 15), want)
        # kill -9 after writes that were searched (their memtable postings built) and
        # writes that were not: both come back from the WAL, analysed again.
        changed = [{**d, "title": "red red soup"} for d in DOCS[:7]]
        idx.documents.upsert(namespace="n", documents=changed[:4])
        _search(idx, [TextQuery(query="soup", fields=["title"])])
        idx.documents.upsert(namespace="n", documents=changed[4:])
        idx.documents.delete(namespace="n", ids=["d50", "d51"])
        docs = [d for d in changed + DOCS[7:] if d["_id"] not in ("d50", "d51")]
        want = _ranked(reference(docs, "red car soup", ["title", "body"]), 15)
        _check(_search(idx, [TextQuery(query="red car soup", fields=["title", "body"])], 15), want)
        live.kill()
        live.start()
        idx = client(live).index(host=host)
        _check(_search(idx, [TextQuery(query="red car soup", fields=["title", "body"])], 15), want)
    finally:
        live.stop()


@pytest.fixture(scope="module")
def idx(server: LiveServer) -> Any:
    index = _index(server)
    index.documents.upsert(namespace="n", documents=DOCS)
    return index


def test_repeated_clauses_fields_and_equivalent_query_strings_score_once(idx: Any) -> None:
    one = _search(idx, [TextQuery(query="red car", fields=["body"])])
    assert one
    assert _search(idx, [TextQuery(query="red car", fields=["body"])] * 3) == one
    assert _search(idx, [TextQuery(query="car red red", fields=["body", "body"])]) == one
    assert _search(idx, [QueryStringQuery(query="body:(red car)")]) == one
    both = [TextQuery(query="red car", fields=["body"]), QueryStringQuery(query="body:(car red)")]
    assert _search(idx, both) == one


def test_several_clauses_are_ored_and_summed(idx: Any) -> None:
    a = reference(DOCS, "tomato", ["body"])
    b = reference(DOCS, "stone", ["title"])
    want = _ranked({k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}, 20)
    got = _search(
        idx,
        [TextQuery(query="tomato", fields=["body"]), QueryStringQuery(query="title:stone")],
        20,
    )
    _check(got, want)


def test_query_string_operators_phrases_and_boosts(idx: Any) -> None:
    title = reference(DOCS, "cat", ["title"])
    body = reference(DOCS, "dog", ["body"])
    both = {k: title[k] + body[k] for k in title.keys() & body.keys()}
    _check(_search(idx, [QueryStringQuery(query="title:cat AND body:dog")], 60), _ranked(both, 60))
    only = {k: v for k, v in title.items() if k not in body}
    _check(
        _search(idx, [QueryStringQuery(query="title:cat AND NOT body:dog")], 60), _ranked(only, 60)
    )
    boosted = {k: 3 * v for k, v in title.items()}
    _check(_search(idx, [QueryStringQuery(query="title:cat^3")], 60), _ranked(boosted, 60))
    # No field named: every text field.
    every = reference(DOCS, "soup", ["title", "body"])
    _check(_search(idx, [QueryStringQuery(query="soup")], 60), _ranked(every, 60))
    # A phrase matches the words in order, adjacent.
    phrase = {d["_id"] for d in DOCS if "red car" in d.get("body", "")}
    got = _search(idx, [QueryStringQuery(query='body:"red car"')], 60)
    assert {i for i, _ in got} == phrase and phrase


def test_filter_and_include_fields_with_text(idx: Any) -> None:
    scores = reference(DOCS, "cat dog", ["title", "body"])
    want = _ranked({k: v for k, v in scores.items() if int(k[1:]) >= 30}, 5)
    r = idx.documents.search(
        namespace="n",
        score_by=[TextQuery(query="cat dog", fields=["title", "body"])],
        top_k=5,
        filter={"n": {"$gte": 30}},
        include_fields=["n"],
    )
    _check([(m.id, m.score) for m in r.matches], want)
    assert [m.to_dict()["n"] for m in r.matches] == [int(i[1:]) for i, _ in want]


def test_text_search_reads_its_writes(idx: Any) -> None:
    ns = unique("ryw")
    idx.documents.upsert(namespace=ns, documents=[{"_id": "x", "title": "zebra"}])
    clause = [TextQuery(query="zebra", fields=["title"])]
    assert [m.id for m in idx.documents.search(namespace=ns, score_by=clause, top_k=3).matches] == [
        "x"
    ]
    idx.documents.upsert(namespace=ns, documents=[{"_id": "y", "title": "zebra zebra"}])
    got = [m.id for m in idx.documents.search(namespace=ns, score_by=clause, top_k=3).matches]
    assert got == ["y", "x"]
    idx.documents.delete(namespace=ns, ids=["y"])
    assert [m.id for m in idx.documents.search(namespace=ns, score_by=clause, top_k=3).matches] == [
        "x"
    ]


BAD: list[tuple[dict[str, Any], str]] = [
    ({"type": "text", "query": "x", "fields": ["nope"]}, "not a full-text search field"),
    ({"type": "text", "query": "x"}, "needs fields"),
    ({"type": "text", "query": "", "fields": ["title"]}, "non-empty string"),
    ({"type": "query_string", "query": "title:(a"}, "Invalid query_string"),
    ({"type": "query_string", "query": "nope:a"}, "Field does not exist"),
    ({"type": "query_string", "query": "a", "fields": ["title"]}, "inside the query"),
    ({"type": "query_string", "query": "title:[a TO c]"}, "Unsupported query"),
]


@pytest.mark.parametrize(("clause", "message"), BAD)
def test_bad_text_clauses_are_400s(idx: Any, clause: dict[str, Any], message: str) -> None:
    r = httpx.post(
        f"{idx.test_host}/namespaces/n/documents/search",
        headers=H,
        json={"score_by": [clause], "top_k": 3},
    )
    assert r.status_code == 400, r.text
    assert message in r.json()["message"]


# -- query_string semantics against a small evaluator (in process) -----------------

FIELDS = ["title", "body"]
ANALYZERS = [analyzer(BODY), analyzer(BODY)]
VOCAB = ["cat", "dog", "red", "car", "soup"]
TOKENS = {d["_id"]: {f: set(ANALYZERS[0].tokens(d.get(f, ""))) for f in FIELDS} for d in DOCS}
TEXT = SourceText(dict(zip(FIELDS, ANALYZERS, strict=True)))
TEXT.extend([dict(d) for d in DOCS], len(DOCS))
LIVE = np.ones(len(DOCS), dtype=np.bool_)
SCORER = Scorer(TEXT, len(DOCS), Stats([(TEXT, LIVE)]))
IDS = [d["_id"] for d in DOCS]


leaf = st.tuples(st.sampled_from([None, *FIELDS]), st.sampled_from(VOCAB))
expr = st.recursive(
    leaf,
    lambda inner: st.tuples(st.sampled_from(["AND", "OR", "AND NOT"]), inner, inner),
    max_leaves=6,
)


def _render(e: Any) -> str:
    if len(e) == 2:
        field, word = e
        return word if field is None else f"{field}:{word}"
    op, a, b = e
    return f"({_render(a)} {op} {_render(b)})"


def _matches(e: Any, doc: str) -> bool:
    if len(e) == 2:
        field, word = e
        return any(word in TOKENS[doc][f] for f in ([field] if field else FIELDS))
    op, a, b = e
    if op == "AND":
        return _matches(a, doc) and _matches(b, doc)
    if op == "OR":
        return _matches(a, doc) or _matches(b, doc)
    return _matches(a, doc) and not _matches(b, doc)


@settings(max_examples=150, deadline=None)
@given(expr)
def test_query_string_matches_the_evaluator(e: Any) -> None:
    node = parse(_render(e), FIELDS, ANALYZERS)
    mask, scores = SCORER.score(node)
    got = {IDS[i] for i in mask.nonzero()[0]}
    assert got == {d for d in TOKENS if _matches(e, d)}
    assert (scores[mask] > 0).all() and (scores[~mask] == 0).all()
