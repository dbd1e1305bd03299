"""Shared helpers for the engine tests."""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import spruce  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def pytest_terminal_summary(terminalreporter: object) -> None:
    """How many distinct fault-injection points (operation x call site) the run hit."""
    from tests.engine.faultfs import INJECTED, POINTS

    if POINTS:
        write = terminalreporter.write_line  # type: ignore[attr-defined]
        write(
            f"fault injection: {INJECTED[0]} faults injected at {len(POINTS)} distinct "
            "points (operation x call site)"
        )
        for op, site in sorted(POINTS):
            write(f"  {op:8} {site}")
