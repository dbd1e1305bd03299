"""Model names, aliases and parameters: no model is loaded here."""

from __future__ import annotations

import sys

import pytest

from spruce.embeddings import Registry, parse_aliases
from spruce.embeddings.minilm import MiniLM
from spruce.errors import InvalidArgument, NotFound, Unimplemented


def test_local_models_are_listed_under_their_own_names() -> None:
    reg = Registry()
    assert [c.name for c in reg.cards()] == [
        "all-MiniLM-L6-v2",
        "spruce-bm25-v0",
        "all-MiniLM-L6-v2-cosine",
    ]
    assert [c.name for c in reg.cards("embed", "sparse")] == ["spruce-bm25-v0"]
    assert [c.name for c in reg.cards("rerank")] == ["all-MiniLM-L6-v2-cosine"]
    dense = reg.card("ALL-minilm-l6-v2")  # names compare case-insensitively
    assert (dense.name, dense.dimension, dense.vector_type) == ("all-MiniLM-L6-v2", 384, "dense")


def test_pinecone_hosted_names_are_refused_with_what_is_available() -> None:
    reg = Registry()
    with pytest.raises(NotFound) as err:
        reg.embedder("multilingual-e5-large")
    assert err.value.message == (
        "Model 'multilingual-e5-large' is hosted by Pinecone and cannot run on this server. "
        "Available embedding models: all-MiniLM-L6-v2 (dense, 384-d), spruce-bm25-v0 "
        "(sparse). To keep the name, map it to a local model with "
        "SPRUCE_MODEL_ALIASES=multilingual-e5-large=<model>; responses then name the model "
        "that ran."
    )
    with pytest.raises(NotFound, match="Available reranking models: all-MiniLM-L6-v2-cosine"):
        reg.reranker("bge-reranker-v2-m3")
    with pytest.raises(NotFound, match="Unknown reranking model 'all-MiniLM-L6-v2'"):
        reg.reranker("all-MiniLM-L6-v2")  # an embedding model is no reranker


def test_aliases_map_a_name_to_a_local_model_and_say_so() -> None:
    reg = Registry(
        parse_aliases(
            " multilingual-e5-large=all-MiniLM-L6-v2 ,bge-reranker-v2-m3=all-MiniLM-L6-v2-cosine"
        )
    )
    card, embedder = reg.embedder("multilingual-e5-large")
    assert (card.name, card.alias_of, embedder.card.name) == (
        "multilingual-e5-large",
        "all-MiniLM-L6-v2",
        "all-MiniLM-L6-v2",
    )
    assert card.description.startswith("Alias of all-MiniLM-L6-v2 on this server.")
    assert [c.name for c in reg.cards("rerank")] == [
        "all-MiniLM-L6-v2-cosine",
        "bge-reranker-v2-m3",
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("x", "must read NAME=LOCAL_MODEL"),
        ("multilingual-e5-large=e5", "'e5' is not a local model"),
        ("bge-reranker-v2-m3=all-MiniLM-L6-v2", "bge-reranker-v2-m3 is a rerank model"),
    ],
)
def test_bad_aliases_stop_the_server_from_starting(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Registry(parse_aliases(raw))


def test_parameters_are_checked_and_defaulted() -> None:
    card = Registry().card("all-MiniLM-L6-v2")
    assert card.check_parameters(None) == {
        "input_type": "passage",
        "truncate": "END",
        "dimension": 384,
    }
    assert card.check_parameters({"input_type": "query", "truncate": "none"}) == {
        "input_type": "query",
        "truncate": "NONE",
        "dimension": 384,
    }
    with pytest.raises(InvalidArgument, match=r"Unsupported parameters \['return_tokens'\]"):
        card.check_parameters({"return_tokens": True})
    with pytest.raises(InvalidArgument, match="expected one of 'query', 'passage'"):
        card.check_parameters({"input_type": "document"})
    with pytest.raises(InvalidArgument, match="expected one of 384"):
        card.check_parameters({"dimension": 1024})
    with pytest.raises(InvalidArgument, match="must be a integer"):
        card.check_parameters({"dimension": True})


def test_without_the_embed_extra_the_dense_model_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(Unimplemented) as err:
        MiniLM().embed(["hello"], input_type="query", truncate="END")
    assert "pip install 'spruce[embed]'" in err.value.message
    assert "sentence_transformers is not installed" in err.value.message
    # The sparse model needs nothing beyond numpy.
    _, bm25 = Registry().embedder("spruce-bm25-v0")
    assert bm25.card.vector_type == "sparse"
