"""all-MiniLM-L6-v2 and the cosine reranker, as Spruce runs them (one load per session)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from spruce.embeddings import Registry
from spruce.embeddings.minilm import MiniLM
from spruce.errors import InvalidArgument
from tests.embeddings.reference import SENTENCES, reference_embeddings


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry()


def test_embeddings_match_the_models_own_output(registry: Registry) -> None:
    _, model = registry.embedder("all-MiniLM-L6-v2")
    texts = list(SENTENCES.values()) * 5  # 40 inputs: more than one batch of 32
    out = model.embed(texts, input_type="passage", truncate="END")  # type: ignore[call-arg]
    assert out.vectors.shape == (40, 384) and out.vectors.dtype == np.float32
    assert np.allclose(out.vectors, reference_embeddings(texts), atol=1e-5)
    assert np.allclose(np.linalg.norm(out.vectors, axis=1), 1.0, atol=1e-5)
    query = model.embed(texts[:2], input_type="query", truncate="END")  # type: ignore[call-arg]
    assert np.allclose(query.vectors, out.vectors[:2], atol=1e-6)  # a symmetric model


def test_token_counts_and_truncation(registry: Registry) -> None:
    _, model = registry.embedder("all-MiniLM-L6-v2")
    out = model.embed(["The cat sat on the mat."], input_type="query", truncate="END")  # type: ignore[call-arg]
    assert out.tokens == 9  # [CLS] the cat sat on the mat . [SEP]
    long_text = "word " * 600
    assert model.embed([long_text], input_type="query", truncate="END").tokens == 256  # type: ignore[call-arg]
    with pytest.raises(InvalidArgument, match="Input 0 has 602 tokens, more than the 256"):
        model.embed([long_text], input_type="query", truncate="NONE")  # type: ignore[call-arg]


def test_semantic_neighbours_on_real_sentences(registry: Registry) -> None:
    _, model = registry.embedder("all-MiniLM-L6-v2")
    ids = list(SENTENCES)
    docs = model.embed(list(SENTENCES.values()), input_type="passage", truncate="END").vectors  # type: ignore[call-arg]
    for query, expected in [
        ("How do plants make food from light?", "photosynthesis"),
        ("Which animal is the biggest on Earth?", "whales"),
        ("a famous landmark in the French capital", "eiffel"),
    ]:
        q = model.embed([query], input_type="query", truncate="END").vectors[0]  # type: ignore[call-arg]
        assert ids[int(np.argmax(docs @ q))] == expected


def test_cosine_reranker_orders_by_relevance(registry: Registry) -> None:
    _, reranker = registry.reranker("all-MiniLM-L6-v2-cosine")
    docs = [
        "Berlin is the capital of Germany.",
        "Paris is the capital and largest city of France.",
        "Bananas are rich in potassium.",
    ]
    scores = reranker.score("What is the capital of France?", docs, truncate="END")
    assert sorted(range(3), key=lambda i: -scores[i]) == [1, 0, 2]
    assert all(0.0 <= s <= 1.0 for s in scores)
    # (1 + cosine) / 2 of the model's own embeddings
    ref = reference_embeddings(["What is the capital of France?", *docs])
    assert np.allclose(scores, (1 + ref[1:] @ ref[0]) / 2, atol=1e-5)


def test_the_model_loads_once_under_concurrent_first_calls(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = MiniLM(threads=1)
    texts = [SENTENCES["coffee"], SENTENCES["python"]]
    with (
        caplog.at_level(logging.INFO, logger="spruce.embeddings.minilm"),
        ThreadPoolExecutor(4) as pool,
    ):
        outs = list(
            pool.map(
                lambda _: model.embed(texts, input_type="query", truncate="END").vectors,
                range(4),
            )
        )
    loads = [r for r in caplog.records if r.getMessage().startswith("loading all-MiniLM-L6-v2")]
    assert len(loads) == 1
    assert all(np.array_equal(o, outs[0]) for o in outs)
