"""spruce-bm25-v0: exact weights, stable indices, and retrieval on real sentences."""

from __future__ import annotations

import numpy as np
import pytest

from spruce.embeddings.bm25 import BM25, term_index, terms
from spruce.errors import InvalidArgument
from tests.embeddings.reference import SENTENCES


def test_words_are_normalized_stop_words_dropped_plurals_stemmed() -> None:
    assert terms("The databases are RUNNING on the servers".casefold().split()) == [
        "database",
        "running",
        "server",
    ]
    assert terms(["policies", "glasses", "status", "goes"]) == [
        "policy",
        "glasse",  # Harman's rules, in order: only the first that applies
        "status",
        "goe",
    ]


def test_indices_are_stable_hashes() -> None:
    # BLAKE2b's first four bytes, little endian: the same in every process.
    assert term_index("database") == 3212279116
    assert term_index("fast") == 13793848


def test_passage_weights_are_bm25_term_frequencies() -> None:
    out = BM25().embed(["cats chase cats, dogs sleep"], input_type="passage", truncate="END")
    vec = out.vectors[0]
    length, k1, b, avg = 5, 1.2, 0.75, 64.0  # cat, chase, cat, dog, sleep
    norm = k1 * (1 - b + b * length / avg)
    expected = {
        term_index("cat"): 2 * (k1 + 1) / (2 + norm),
        term_index("chase"): 1 * (k1 + 1) / (1 + norm),
        term_index("dog"): 1 * (k1 + 1) / (1 + norm),
        term_index("sleep"): 1 * (k1 + 1) / (1 + norm),
    }
    assert vec.indices.tolist() == sorted(expected)
    assert np.allclose(vec.values, [expected[i] for i in sorted(expected)])
    assert out.tokens == 5
    query = BM25().embed(["cat cat dog"], input_type="query", truncate="END").vectors[0]
    assert dict(zip(query.indices.tolist(), query.values.tolist(), strict=True)) == {
        term_index("cat"): 2.0,
        term_index("dog"): 1.0,
    }


def test_tokens_come_back_in_index_order_when_asked() -> None:
    out = BM25().embed(["Fast databases"], input_type="passage", truncate="END", return_tokens=True)
    assert out.token_names == [["fast", "database"]]  # 13793848 < 3212279116


def test_truncation() -> None:
    long_text = " ".join(f"word{i}" for i in range(600))
    out = BM25().embed([long_text], input_type="passage", truncate="END")
    assert len(out.vectors[0].indices) == 512 and out.tokens == 512
    with pytest.raises(InvalidArgument, match="Input 0 has 600 words, more than the 512"):
        BM25().embed([long_text], input_type="passage", truncate="NONE")


def test_sparse_retrieval_finds_the_sentence_sharing_the_words() -> None:
    model = BM25()
    ids = list(SENTENCES)
    docs = model.embed(list(SENTENCES.values()), input_type="passage", truncate="END").vectors

    def best(query: str) -> str:
        q = model.embed([query], input_type="query", truncate="END").vectors[0]
        weights = dict(zip(q.indices.tolist(), q.values.tolist(), strict=True))
        scores = [
            sum(
                weights.get(int(i), 0.0) * float(v)
                for i, v in zip(d.indices, d.values, strict=True)
            )
            for d in docs
        ]
        return ids[int(np.argmax(scores))]

    assert best("most active volcanoes") == "volcano"
    assert best("roasted coffee beans") == "coffee"
    assert best("interest rates and inflation") == "inflation"
