"""Pinecone's TypeScript SDK (8.2.0, from npm) as a second official client.

``sdk_conformance.mjs`` drives the session's live server through the SDK, once per
module; this side writes what it needs (a Parquet import directory, expected scores
from sentence-transformers' own encoding) and turns each scenario into a test that
fails with the script's lines for it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.api.test_integrated import CATEGORIES
from tests.conftest import API_KEY, LiveServer
from tests.embeddings.reference import SENTENCES, reference_embeddings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("sdk_conformance.mjs")
SDK_DIR = ROOT / ".cache" / "node" / "node_modules" / "@pinecone-database" / "pinecone"
SDK_VERSION = "8.2.0"

QUERY = "Which animals live in the ocean?"


def _import_rows() -> list[dict[str, Any]]:
    # Values exact in float32, so the comparison in the script can be exact too.
    return [
        {
            "id": f"imp-{i}",
            "values": [float(i) + 0.5, -0.25 * i, 1.0, 2.0 ** -(i + 1)],
            "metadata": {"n": i, "genre": "drama" if i % 2 else "comedy"},
        }
        for i in range(6)
    ]


def _write_import(root: Path, rows: list[dict[str, Any]]) -> None:
    """Pinecone's layout: one directory per namespace, Parquet files inside it."""
    (root / "imported").mkdir(parents=True)
    table = pa.table(
        {
            "id": pa.array([r["id"] for r in rows], pa.string()),
            "values": pa.array([r["values"] for r in rows], pa.list_(pa.float32())),
            "metadata": pa.array([json.dumps(r["metadata"]) for r in rows], pa.string()),
        }
    )
    pq.write_table(table.slice(0, 4), root / "imported" / "0.parquet")
    pq.write_table(table.slice(4), root / "imported" / "1.parquet")


def _expected_scores() -> list[list[Any]]:
    """Cosine of the query with each sentence, best first (ties by id, as Spruce breaks them)."""
    ids = list(SENTENCES)
    vectors = reference_embeddings([*SENTENCES.values(), QUERY]).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = vectors[:-1] @ vectors[-1]
    ranked = sorted(zip(ids, scores.tolist(), strict=True), key=lambda p: (-p[1], p[0]))
    return [[key, score] for key, score in ranked]


#: The script's scenario keys, in its order; each is one test below.
SCENARIOS = (
    "control-create",
    "control-configure",
    "data-query",
    "data-update",
    "data-list",
    "data-delete-stats",
    "data-sparse",
    "data-hybrid",
    "errors",
    "float32-exact",
    "delete-all-namespace",
    "namespaces",
    "namespace-schema",
    "namespace-delete",
    "bulk-import",
    "integrated-records",
    "inference",
)

#: Scenarios that assert Pinecone's behaviour where the server is known to differ and a
#: fix is under way; strict, so each one reports XPASS (a failure) once its fix lands
#: and its entry here must go.
PENDING: dict[str, str] = {}

_LINE = re.compile(r"^(PASS|FAIL) ([a-z0-9-]+): ")


@dataclass
class Run:
    returncode: int
    output: str
    results: dict[str, str]  # key -> "PASS" or "FAIL"
    reasons: dict[str, str]  # key -> its lines of output


@pytest.fixture(scope="module")
def ts_run(server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Run:
    node = shutil.which("node")
    assert node, "node is not installed (scripts/install-test-deps.sh needs npm too)"
    package = SDK_DIR / "package.json"
    assert package.is_file(), f"{SDK_DIR} is missing: run scripts/install-test-deps.sh"
    assert json.loads(package.read_text())["version"] == SDK_VERSION

    work = tmp_path_factory.mktemp("ts-sdk")
    rows = _import_rows()
    _write_import(work / "import", rows)
    expected = {
        "imported": rows,
        "records": [
            {"id": key, "text": text, "category": CATEGORIES[key]}
            for key, text in SENTENCES.items()
        ],
        "categories": CATEGORIES,
        "query": QUERY,
        "scores": _expected_scores(),
        "embeddings": reference_embeddings(list(SENTENCES.values())[:2]).tolist(),
    }
    expected_file = work / "expected.json"
    expected_file.write_text(json.dumps(expected))

    env = {
        **os.environ,
        "SPRUCE_URL": server.url,
        "SPRUCE_API_KEY": API_KEY,
        "PINECONE_TS_SDK": str(SDK_DIR),
        "SPRUCE_IMPORT_DIR": str(work / "import"),
        "SPRUCE_EXPECTED": str(expected_file),
    }
    done = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = done.stdout + done.stderr
    results: dict[str, str] = {}
    reasons: dict[str, str] = {}
    key = None
    for line in output.splitlines():
        found = _LINE.match(line)
        if found:
            key = found.group(2)
            results[key] = found.group(1)
            reasons[key] = line
        elif key is not None and line.startswith("    "):
            reasons[key] += "\n" + line
        else:
            key = None
    return Run(done.returncode, output, results, reasons)


def test_script_ran_every_scenario(ts_run: Run) -> None:
    assert list(ts_run.results) == list(SCENARIOS), ts_run.output
    failed = "FAIL" in ts_run.results.values()
    assert ts_run.returncode == (1 if failed else 0), ts_run.output


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.xfail(reason=PENDING[k], strict=True))
        if k in PENDING
        else k
        for k in SCENARIOS
    ],
)
def test_scenario(ts_run: Run, key: str) -> None:
    if key not in ts_run.results:
        pytest.fail(f"scenario {key} did not run; output:\n{ts_run.output}", pytrace=False)
    if ts_run.results[key] != "PASS":
        pytest.fail(ts_run.reasons[key], pytrace=False)
