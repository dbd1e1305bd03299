"""Building import directories (Parquet files, one subdirectory per namespace) and
following imports to their end."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

FINAL = ("Completed", "Failed", "Cancelled")

# The shared dataset sits beside the checkout; a clone elsewhere finds it by its
# usual absolute place, or SPRUCE_DATASET_DIR.
_NEARBY = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "pypi-minilm-50k"
DATASET = next(
    (
        p
        for p in (
            Path(os.environ.get("SPRUCE_DATASET_DIR", "/nonexistent")),
            _NEARBY,
            Path("/work/shared/datasets/pypi-minilm-50k"),
        )
        if p.is_dir()
    ),
    _NEARBY,
)


def dense(
    ids: Sequence[str],
    dimension: int = 4,
    *,
    seed: int = 0,
    metadata: Sequence[Mapping[str, Any] | None] | None = None,
) -> pa.Table:
    """A dense-index file: distinct random vectors, optional metadata as JSON text."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((len(ids), dimension)).astype(np.float32)
    columns: dict[str, Any] = {
        "id": pa.array(ids, pa.string()),
        "values": pa.array(list(values), pa.list_(pa.float32())),
    }
    if metadata is not None:
        columns["metadata"] = pa.array(
            [None if m is None else json.dumps(m) for m in metadata], pa.string()
        )
    return pa.table(columns)


def vectors_of(table: pa.Table) -> dict[str, list[float]]:
    return dict(
        zip(table.column("id").to_pylist(), table.column("values").to_pylist(), strict=True)
    )


def sparse_column(rows: Sequence[tuple[list[int], list[float]] | None]) -> pa.Array:
    sparse_type = pa.struct(
        [("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))]
    )
    return pa.array(
        [None if r is None else {"indices": r[0], "values": r[1]} for r in rows], sparse_type
    )


def write(
    root: str | Path,
    layout: Mapping[str, Sequence[pa.Table | bytes]],
    fs: pafs.FileSystem | None = None,
    **options: Any,
) -> None:
    """``layout``: relative directory -> files (``0.parquet``, ``1.parquet``, ...).

    A ``bytes`` entry is written as is (a corrupt "parquet" file); a directory key of
    "" puts files directly under ``root``.
    """
    fs = fs or pafs.LocalFileSystem()
    for directory, files in layout.items():
        base = f"{root}/{directory}".rstrip("/") if directory else str(root)
        if isinstance(fs, pafs.LocalFileSystem):
            Path(base).mkdir(parents=True, exist_ok=True)
        for number, content in enumerate(files):
            path = f"{base}/{number}.parquet"
            if isinstance(content, bytes):
                with fs.open_output_stream(path) as out:
                    out.write(content)
            else:
                pq.write_table(content, path, filesystem=fs, **options)


def wait(index: Any, import_id: str, timeout: float = 120) -> Any:
    """Poll describe_import until the import is final; returns the last ImportModel."""
    deadline = time.monotonic() + timeout
    while True:
        state = index.describe_import(import_id)
        if state.status in FINAL:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"import {import_id} still {state.status} after {timeout}s")
        time.sleep(0.05)


def run_import(index: Any, uri: str, error_mode: str = "abort", **kwargs: Any) -> Any:
    started = index.start_import(uri=str(uri), error_mode=error_mode, **kwargs)
    return wait(index, started.id)


def namespaces(index: Any) -> dict[str, int]:
    stats = index.describe_index_stats()
    return {name: ns.vector_count for name, ns in stats.namespaces.items()}
