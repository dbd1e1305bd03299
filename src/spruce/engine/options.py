"""Engine tuning: when segments get an HNSW index, how it is built and searched.

Defaults come from the environment (``SPRUCE_HNSW_*``, ``SPRUCE_VECTOR_STORAGE``) so a
server can be tuned without code; tests pass explicit values. The search knobs are the
planner's (search.py); docs/BENCHMARKS.md records how the defaults were chosen.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spruce.engine.read.ann import STORAGES, HnswParams
from spruce.errors import InvalidArgument

__all__ = ["EngineOptions", "SearchTuning"]


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw is None or not raw.strip() else int(raw)


@dataclass(frozen=True)
class SearchTuning:
    # efSearch for an unfiltered query (raised to at least the number of candidates).
    ef_search: int = 64
    # A segment whose allowed rows are at most this many (or this fraction of it) is
    # scanned exactly: cheap, and HNSW recall collapses on selective filters.
    exact_max_rows: int = 20_000
    exact_max_fraction: float = 0.03
    # efSearch grows as ef_search * (1 / selectivity) ** exponent, up to ef_max.
    filter_ef_exponent: float = 0.75
    ef_max: int = 2048
    # Candidates taken from the graph and re-ranked exactly: top_k * rerank (at least
    # rerank_min), so reduced-precision storage still returns exact scores.
    rerank: int = 2
    rerank_min: int = 20


@dataclass(frozen=True)
class EngineOptions:
    # Segments with at least this many rows get an HNSW index (smaller: exact scan).
    hnsw_min_rows: int = field(default_factory=lambda: _env_int("SPRUCE_HNSW_MIN_ROWS", 50_000))
    hnsw: HnswParams = field(
        default_factory=lambda: HnswParams(
            m=_env_int("SPRUCE_HNSW_M", 16),
            ef_construction=_env_int("SPRUCE_HNSW_EF_CONSTRUCTION", 80),
            storage=os.environ.get("SPRUCE_VECTOR_STORAGE", "f32") or "f32",
        )
    )
    search: SearchTuning = field(
        default_factory=lambda: SearchTuning(ef_search=_env_int("SPRUCE_HNSW_EF_SEARCH", 64))
    )
    # Memtables waiting to be flushed before writers wait (back-pressure).
    max_frozen: int = 2
    # Background compaction; off only in tests that drive ``compact()`` themselves.
    auto_compact: bool = True
    # Merge un-indexed segments once there are this many of them.
    small_merge_count: int = 8
    # Rebuild an indexed segment once this fraction of its rows is deleted.
    max_dead_fraction: float = 0.3
    # An indexed segment absorbs the small ones once they hold this fraction of its rows.
    absorb_fraction: float = 0.25
    # After this many seconds without writes, merge everything into one segment
    # (one graph to search); 0 turns it off.
    idle_compact_s: float = field(
        default_factory=lambda: float(os.environ.get("SPRUCE_COMPACT_IDLE_S", "20") or 20)
    )

    def __post_init__(self) -> None:
        if self.hnsw.storage not in STORAGES:
            raise InvalidArgument(f"vector storage must be one of {', '.join(STORAGES)}")
        if self.hnsw_min_rows < 1 or self.hnsw.m < 2 or self.max_frozen < 1:
            raise InvalidArgument("invalid engine options")
