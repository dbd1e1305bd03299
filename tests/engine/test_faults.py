"""Fault injection behind the storage interface (engine/fsutil.FileSystem).

A fixed workload runs once per call it makes to the file system, with that one call
failing (tests/engine/faultfs.py). The contract, checked after reopening with a sound
file system:

- every operation that returned is there (acknowledged => present after recovery);
- the operation that raised is either wholly absent or wholly applied: absent when the
  fault hit before its WAL record was durable, possibly applied when it hit afterwards
  (a flush, a WAL rotation, the close). Nothing else changed;
- fetch and count answer exactly the model: never a wrong answer.

A bulk import (a namespace built elsewhere, then adopted) gets the same sweep: after a
fault the namespace is absent or whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from spruce.engine.disk.fsutil import use_filesystem
from spruce.engine.options import EngineOptions
from spruce.engine.write.bulk import NamespaceBuilder
from spruce.engine.write.namespace import Namespace
from spruce.engine.write.store import IndexStore
from tests.engine.faultfs import FaultFS
from tests.engine.helpers import rec

Model = dict[str, tuple[tuple[float, ...], dict[str, object] | None]]
Step = tuple[str, Callable[[Namespace], object], Callable[[Model], None]]
DIM = 4


def _upsert(ids: list[str], base: float) -> Step:
    records = [rec(i, base + k, 1.0, 2.0, 3.0, metadata={"k": k}) for k, i in enumerate(ids)]

    def model(m: Model) -> None:
        for k, i in enumerate(ids):
            m[i] = ((base + k, 1.0, 2.0, 3.0), {"k": k})

    return f"upsert {ids[0]}..", lambda ns: ns.upsert(records), model


def _delete(ids: list[str]) -> Step:
    def model(m: Model) -> None:
        for i in ids:
            m.pop(i, None)

    return f"delete {ids}", lambda ns: ns.delete(ids), model


def _update(id: str) -> Step:
    def model(m: Model) -> None:
        values, md = m[id]
        m[id] = (values, {**(md or {}), "u": True})

    return f"update {id}", lambda ns: ns.update(id, set_metadata={"u": True}), model


def _same(m: Model) -> None:
    pass


STEPS: list[Step] = [
    _upsert(["a0", "a1", "a2", "a3", "a4"], 1.0),
    _upsert(["b0", "b1", "b2"], 10.0),
    _delete(["a1"]),
    ("flush", lambda ns: ns.flush(), _same),
    _update("b2"),
    _upsert(["c0", "c1", "a0"], 20.0),
    ("flush", lambda ns: ns.flush(), _same),
    _delete(["b0", "c1"]),
    ("compact", lambda ns: ns.compact(), _same),
    _upsert(["d0"], 30.0),
]
ALL_IDS = sorted({i for s in ("a", "b", "c", "d") for i in (f"{s}{k}" for k in range(5))})

OPTIONS = EngineOptions(auto_compact=False, idle_compact_s=0)


def _open(path: Path) -> Namespace:
    return Namespace.open(path, dimension=DIM, metric="cosine", flush_rows=1000, options=OPTIONS)


def _run(path: Path, fs: FaultFS) -> tuple[int, bool]:
    """Run the workload under ``fs``: reopen, then the steps. The number of steps
    acknowledged, and whether one was refused (step ``acked`` then; -1: the reopen)."""
    _open(path).close()  # created soundly, as IndexStore does (in a temporary dir)
    acked = 0
    with use_filesystem(fs):
        try:
            ns = _open(path)
        except Exception:
            return -1, True
        for _, call, _ in STEPS:
            try:
                call(ns)
            except Exception:
                break
            acked += 1
        with contextlib.suppress(Exception):
            ns.close()
    return acked, acked < len(STEPS)


def _state(path: Path) -> Model:
    ns = _open(path)
    try:
        found = ns.fetch(ALL_IDS)
        assert ns.count() == len(found)
        return {
            i: (tuple(float(x) for x in np.asarray(r.values)), r.metadata) for i, r in found.items()
        }
    finally:
        ns.close()


def _model(n: int) -> Model:
    m: Model = {}
    for _, _, apply in STEPS[:n]:
        apply(m)
    return m


def test_sweep_one_fault_per_call(tmp_path: Path) -> None:
    clean = FaultFS(None)
    assert _run(tmp_path / "clean", clean) == (len(STEPS), False)
    assert _state(tmp_path / "clean") == _model(len(STEPS))
    total = clean.calls
    assert total > 50  # the workload does reach the file system
    refused_trials = 0
    for n in range(total):
        fs = FaultFS(n)
        path = tmp_path / f"t{n}"
        acked, refused = _run(path, fs)
        assert fs.injected is not None, f"call {n} not reached"
        refused_trials += refused
        state = _state(path)
        if acked < 0:
            assert state == {}, (n, fs.injected)
            continue
        allowed = [_model(acked)] + ([_model(acked + 1)] if refused else [])
        assert state in allowed, (n, fs.injected, STEPS[acked][0] if refused else "close")
    assert refused_trials > total // 2


# -- a state machine over operations with injected faults and reopens -------------------

IDS = ["a0", "a1", "a2", "b0", "b1", "c0"]


class FaultMachine(RuleBasedStateMachine):
    """Each operation (a bulk import too) may get a fault at one of its file-system
    calls. An operation that returns must be reflected exactly; one that raises is
    checked after a reopen to be wholly absent or wholly applied, and whichever recovery
    shows is then the model."""

    def __init__(self) -> None:
        super().__init__()
        self.path = Path(tempfile.mkdtemp(prefix="spruce-faults-"))
        _open(self.path).close()
        self.ns = _open(self.path)
        self.model: Model = {}

    def _do(self, step: Step, fault_at: int | None) -> None:
        _, call, apply = step
        after = dict(self.model)
        apply(after)
        fs = FaultFS(fault_at)
        with use_filesystem(fs):
            try:
                call(self.ns)
            except Exception:
                refused = True
            else:
                refused = False
        if not refused:
            self.model = after
            return
        with contextlib.suppress(Exception):
            self.ns.close()
        state = _state(self.path)
        assert state in (self.model, after), fs.injected
        self.model = state
        self.ns = _open(self.path)

    faults = st.none() | st.integers(0, 5)

    @rule(
        ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4),
        base=st.integers(1, 50),
        at=faults,
    )
    def upsert(self, ids: list[str], base: int, at: int | None) -> None:
        self._do(_upsert(list(dict.fromkeys(ids)), float(base)), at)

    @rule(ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=3), at=faults)
    def delete(self, ids: list[str], at: int | None) -> None:
        self._do(_delete(ids), at)

    @rule(id=st.sampled_from(IDS), at=faults)
    def update(self, id: str, at: int | None) -> None:
        if id in self.model:
            self._do(_update(id), at)

    @rule(at=faults)
    def flush(self, at: int | None) -> None:
        self._do(("flush", lambda ns: ns.flush(), _same), at)

    @rule(at=faults)
    def compact(self, at: int | None) -> None:
        self._do(("compact", lambda ns: ns.compact(), _same), at)

    @rule(n=st.integers(1, 6), at=faults)
    def bulk_import(self, n: int, at: int | None) -> None:
        """An import replaces an empty namespace with one built whole elsewhere (the
        store's adopt is a rename): afterwards it holds all ``n`` rows or none."""
        if self.model:
            return
        self.ns.close()
        built = self.path.with_name(self.path.name + "-built")
        ids = IDS[:n]
        fs = FaultFS(at)
        with use_filesystem(fs):
            ok = False
            try:  # a builder that cannot start removes what it made itself
                builder = NamespaceBuilder(built, dimension=DIM, metric="cosine", segment_rows=2)
            except Exception:
                builder = None
            if builder is not None:
                try:
                    vectors = np.array([[k + 1.0, 1.0, 2.0, 3.0] for k in range(n)], np.float32)
                    builder.add(ids, vectors, None, [f'{{"k": {k}}}' for k in range(n)])
                    builder.finish()
                except Exception:
                    builder.abort()
                else:
                    ok = True
        if ok:
            shutil.rmtree(self.path)
            os.rename(built, self.path)
            self.model = {i: ((k + 1.0, 1.0, 2.0, 3.0), {"k": k}) for k, i in enumerate(ids)}
        assert not built.exists(), fs.injected  # a refused import leaves nothing behind
        self.ns = _open(self.path)

    @rule()
    def reopen(self) -> None:
        self.ns.close()
        self.ns = _open(self.path)

    @invariant()
    def answers_match_the_model(self) -> None:
        found = self.ns.fetch(IDS)
        got = {
            i: (tuple(float(x) for x in np.asarray(r.values)), r.metadata) for i, r in found.items()
        }
        assert got == self.model
        assert self.ns.count() == len(self.model)

    def teardown(self) -> None:
        with contextlib.suppress(Exception):
            self.ns.close()
        shutil.rmtree(self.path, ignore_errors=True)


FaultMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
TestFaultMachine = FaultMachine.TestCase


# -- bulk import: a namespace built elsewhere is published whole or not at all ----------


def _import(store: IndexStore, tmp: Path) -> None:
    """What an import does per namespace (imports/runner.py): build, then adopt."""
    builder = NamespaceBuilder(tmp / "built", dimension=DIM, metric="cosine", segment_rows=4)
    try:
        ids = [f"i{k}" for k in range(10)]
        vectors = np.array([[k, 1.0, 2.0, 3.0] for k in range(10)], dtype=np.float32)
        builder.add(ids, vectors, None, [f'{{"k": {k}}}' for k in range(10)])
        builder.finish()
    except BaseException:
        builder.abort()
        raise
    assert store.adopt({"imported": tmp / "built"}) is None


def test_import_sweep_one_fault_per_call(tmp_path: Path) -> None:
    """Every file-system call of an import, failed in turn: the namespace is then either
    absent or holds exactly the ten rows, and a reopened store serves it."""

    def store_at(root: Path) -> IndexStore:
        root.mkdir(exist_ok=True)
        return IndexStore(root, dimension=DIM, metric="cosine", options=OPTIONS)

    clean = FaultFS(None)
    with use_filesystem(clean):
        _import(store_at(tmp_path / "clean"), tmp_path / "clean")
    assert clean.calls > 10
    for n in range(clean.calls):
        root = tmp_path / f"t{n}"
        store = store_at(root)
        fs = FaultFS(n)
        with use_filesystem(fs), contextlib.suppress(Exception):
            _import(store, root)
        assert fs.injected is not None, f"call {n} not reached"
        store.close()
        store = store_at(root)
        ns = store.get("imported", create=False)
        if ns is not None:
            found = ns.fetch([f"i{k}" for k in range(10)])
            assert sorted(found) == sorted(f"i{k}" for k in range(10)), fs.injected
            assert [found[f"i{k}"].metadata for k in range(10)] == [{"k": k} for k in range(10)]
        assert store.names() in ([], ["imported"]), fs.injected
        store.close()
