"""``TermsAll`` (Pinecone's match_terms) on a namespace, in the memtable and in segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from spruce.engine.read.filters import And, parse_filter
from spruce.engine.read.terms import TermsAll, words
from spruce.engine.write.namespace import Namespace

from .helpers import rec

TEXTS = {
    "d1": "Donald F. Duck is a funny animal character",
    "d2": "A duck is a funny animal",
    "d3": "Ducks: the animal CHARACTER donald-duck",
    "d4": "Mickey Mouse is an animal character",
}


def test_words_are_normalized_tokens() -> None:
    assert words("animal CHARACTER donald Duck") == ["animal", "character", "donald", "duck"]
    full_width = "\uff24\uff4f\uff4e\uff41\uff4c\uff44"  # NFKC makes it "Donald"
    assert words(f"{full_width}-duck_2, ÉTÉ") == ["donald", "duck", "2", "été"]


@pytest.mark.parametrize("flushed", [False, True], ids=["memtable", "segment"])
def test_terms_all_keeps_records_with_every_term(tmp_path: Path, flushed: bool) -> None:
    ns = Namespace.open(tmp_path / "ns", dimension=None, metric="dotproduct", flush_rows=100)
    ns.upsert(
        [
            rec(k, metadata={"body": v, "n": i}, sparse={1: 1.0 + i})
            for i, (k, v) in enumerate(TEXTS.items())
        ]
        + [rec("d5", metadata={"n": 9}, sparse={1: 9.0})]  # no text: never matches
    )
    if flushed:
        ns.flush()
    wanted = TermsAll("body", tuple(words("animal CHARACTER donald Duck")))
    hits = ns.query(None, top_k=10, sparse=rec("q", sparse={1: 1.0}).sparse, filter=wanted)
    assert [m.id for m in hits] == ["d3", "d1"]
    later = parse_filter({"n": {"$gt": 0}})
    assert later is not None
    both = And((wanted, later))
    hits = ns.query(None, top_k=10, sparse=rec("q", sparse={1: 1.0}).sparse, filter=both)
    assert [m.id for m in hits] == ["d3"]
    assert ns.count(TermsAll("body", ("ducks",))) == 1
    ns.close()
