"""Benchmark data: the real pypi-minilm-50k set and a clustered synthetic 384-d set.

Both get two filter fields: ``bucket`` (int, uniform in [0, 1000), seeded) so a range
filter ``bucket < 1000 * s`` selects a known fraction ``s``; and ``tag`` (one of 100
strings) for equality filters at 1 %. Ground truth (exact top-k, with and without
filters) is computed with numpy and cached under bench/.cache/.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache"
PYPI = Path(os.environ.get("SPRUCE_BENCH_PYPI", "/work/shared/datasets/pypi-minilm-50k"))
SELECTIVITIES = (0.001, 0.01, 0.1, 0.5, 1.0)


@dataclass
class Dataset:
    name: str
    ids: list[str]
    vectors: npt.NDArray[np.float32]  # (n, d), unit norm
    buckets: npt.NDArray[np.int64]
    tags: npt.NDArray[np.int64]
    extra: list[dict[str, object]] | None  # real metadata, if any
    queries: npt.NDArray[np.float32]
    metric: str = "cosine"

    def metadata(self, i: int) -> dict[str, object]:
        md: dict[str, object] = dict(self.extra[i]) if self.extra else {}
        md["bucket"] = int(self.buckets[i])
        md["tag"] = f"t{int(self.tags[i])}"
        return md

    def filter_for(self, selectivity: float) -> dict[str, object] | None:
        if selectivity >= 1.0:
            return None
        return {"bucket": {"$lt": int(round(selectivity * 1000))}}

    def allowed(self, selectivity: float) -> npt.NDArray[np.bool_]:
        return self.buckets < int(round(selectivity * 1000))

    def truth(self, selectivity: float, k: int = 10) -> npt.NDArray[np.int64]:
        """Exact top-k row numbers per query among rows the filter allows (cached)."""
        CACHE.mkdir(exist_ok=True)
        path = CACHE / f"{self.name}-truth-{selectivity}-{k}-{len(self.queries)}.npy"
        if path.exists():
            return np.load(path)
        allowed = self.allowed(selectivity) if selectivity < 1 else None
        rows = np.flatnonzero(allowed) if allowed is not None else None
        out = np.zeros((len(self.queries), k), dtype=np.int64)
        for lo in range(0, len(self.queries), 100):
            q = self.queries[lo : lo + 100]
            if rows is None:
                best = np.full((len(q), k), -np.inf, dtype=np.float32)
                best_i = np.zeros((len(q), k), dtype=np.int64)
                for c in range(0, len(self.vectors), 200_000):
                    s = q @ self.vectors[c : c + 200_000].T
                    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
                    cand = np.concatenate([best, np.take_along_axis(s, top, 1)], 1)
                    cand_i = np.concatenate([best_i, top + c], 1)
                    sel = np.argpartition(-cand, k - 1, axis=1)[:, :k]
                    best = np.take_along_axis(cand, sel, 1)
                    best_i = np.take_along_axis(cand_i, sel, 1)
                order = np.argsort(-best, axis=1)
                out[lo : lo + 100] = np.take_along_axis(best_i, order, 1)
            else:
                s = q @ self.vectors[rows].T
                kk = min(k, rows.size)
                top = np.argsort(-s, axis=1)[:, :kk]
                out[lo : lo + 100, :kk] = rows[top]
        np.save(path, out)
        return out


def recall(found: list[list[int]], truth: npt.NDArray[np.int64], k: int = 10) -> float:
    hits = 0
    total = 0
    for got, want in zip(found, truth, strict=True):
        want_set = set(want[:k].tolist())
        hits += len(want_set & set(got[:k]))
        total += len(want_set)
    return hits / max(total, 1)


def _fields(n: int, seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1000, n), rng.integers(0, 100, n)


def pypi(queries: int = 1000) -> Dataset:
    """The real set: 50,000 all-MiniLM-L6-v2 embeddings; the first 1,000 (PyPI) queries."""
    tables = [pq.read_table(p) for p in sorted((PYPI / "import" / "__default__").glob("*.parquet"))]
    ids: list[str] = []
    vecs = []
    extra: list[dict[str, object]] = []
    for t in tables:
        ids.extend(t.column("id").to_pylist())
        flat = t.column("values").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        vecs.append(flat.astype(np.float32).reshape(t.num_rows, -1))
        for m in t.column("metadata").to_pylist():
            md = json.loads(m) if m else {}
            md.pop("text", None)  # keep requests small: the text is not filtered on
            extra.append(md)
    vectors = np.ascontiguousarray(np.concatenate(vecs))
    buckets, tags = _fields(len(ids), 7)
    q = np.load(PYPI / "queries.npy")[:queries].astype(np.float32)
    return Dataset("pypi50k", ids, vectors, buckets, tags, extra, q)


def synthetic(n: int = 1_000_000, d: int = 384, queries: int = 200, seed: int = 42) -> Dataset:
    """Clustered synthetic unit vectors: 4,096 Gaussian clusters around random centres
    in a 64-dimensional subspace plus isotropic noise (low-rank + noise, like real
    embeddings). Generated with a fixed seed, cached as .npy."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"synth-{n}-{d}-{seed}.npy"
    qpath = CACHE / f"synth-{n}-{d}-{seed}-q{queries}.npy"
    if not path.exists() or not qpath.exists():
        rng = np.random.default_rng(seed)
        basis = rng.standard_normal((64, d)).astype(np.float32)
        centres = rng.standard_normal((4096, 64)).astype(np.float32)

        def draw(m: int) -> npt.NDArray[np.float32]:
            out = np.empty((m, d), dtype=np.float32)
            for lo in range(0, m, 100_000):
                hi = min(m, lo + 100_000)
                c = rng.integers(0, 4096, hi - lo)
                z = centres[c] + 0.35 * rng.standard_normal((hi - lo, 64)).astype(np.float32)
                x = z @ basis + 0.8 * rng.standard_normal((hi - lo, d)).astype(np.float32)
                out[lo:hi] = x / np.linalg.norm(x, axis=1, keepdims=True)
            return out

        np.save(path, draw(n))
        np.save(qpath, draw(queries))
    vectors = np.load(path, mmap_mode="r")
    buckets, tags = _fields(n, seed + 1)
    ids = [f"v{i}" for i in range(n)]
    return Dataset(f"synth{n}", ids, np.asarray(vectors), buckets, tags, None, np.load(qpath))
