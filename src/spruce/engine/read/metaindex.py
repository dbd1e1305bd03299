"""Per-segment metadata indexes: filters compile to row bitmaps without per-row Python.

For every metadata key a segment keeps posting lists (sorted int32 row numbers) per
string value (list elements included) and per boolean, the scalar numbers sorted by
value (with their rows) for ranges and numeric equality, and the rows that have the key
at all. A filter then becomes a few ``searchsorted`` slices and boolean mask operations.

Semantics are exactly ``filters.py``'s (a test checks both paths agree): booleans are
not numbers, ints and floats compare by value, lists match ``$eq``/``$in`` when any
element does and never match ranges, and a missing key matches only ``$ne``, ``$nin``
and ``$exists: false``. A key whose values the index cannot represent exactly (integers
beyond 2**53, lists of non-strings) is marked unindexed and such filters fall back to
row-by-row evaluation (``mask`` returns None).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spruce.engine.read.filters import (
    And,
    Eq,
    Exists,
    Filter,
    Gt,
    Gte,
    In,
    Lt,
    Lte,
    Ne,
    Nin,
    Or,
    Scalar,
)

__all__ = ["MetaIndex"]

Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.int32]
_EXACT = 2**53  # float64 represents every integer up to here exactly
_EMPTY_ROWS: Rows = np.zeros(0, dtype=np.int32)


def _rows(values: list[int]) -> Rows:
    return np.asarray(values, dtype=np.int32)


@dataclass
class _Key:
    strs: dict[str, Rows] = field(default_factory=dict)
    bools: dict[bool, Rows] = field(default_factory=dict)
    num_values: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    num_rows: Rows = field(default_factory=lambda: _EMPTY_ROWS)
    present: Rows = field(default_factory=lambda: _EMPTY_ROWS)
    exact: bool = True


class _KeyBuilder:
    __slots__ = ("bools", "exact", "num_rows", "num_values", "present", "strs")

    def __init__(self) -> None:
        self.strs: dict[str, list[int]] = {}
        self.bools: dict[bool, list[int]] = {}
        self.num_values: list[float] = []
        self.num_rows: list[int] = []
        self.present: list[int] = []
        self.exact = True

    def add(self, row: int, value: object) -> None:
        self.present.append(row)
        if isinstance(value, str):
            self.strs.setdefault(value, []).append(row)
        elif isinstance(value, bool):
            self.bools.setdefault(value, []).append(row)
        elif isinstance(value, int | float):
            if isinstance(value, int) and abs(value) > _EXACT:
                self.exact = False
            self.num_values.append(float(value))
            self.num_rows.append(row)
        elif isinstance(value, list):
            for item in dict.fromkeys(value):
                if isinstance(item, str):
                    self.strs.setdefault(item, []).append(row)
                else:
                    self.exact = False
        else:
            self.exact = False

    def build(self) -> _Key:
        values = np.asarray(self.num_values, dtype=np.float64)
        order = np.argsort(values, kind="stable")
        return _Key(
            strs={k: _rows(v) for k, v in self.strs.items()},
            bools={k: _rows(v) for k, v in self.bools.items()},
            num_values=values[order],
            num_rows=_rows(self.num_rows)[order],
            present=_rows(self.present),
            exact=self.exact,
        )


class MetaIndex:
    """Immutable once built; ``mask`` is safe to call from many threads."""

    def __init__(self, size: int, keys: dict[str, _Key]) -> None:
        self.size = size
        self._keys = keys

    @classmethod
    def build(cls, metadatas: Sequence[Mapping[str, object] | None]) -> MetaIndex:
        builders: dict[str, _KeyBuilder] = {}
        for row, md in enumerate(metadatas):
            if not md:
                continue
            for key, value in md.items():
                builder = builders.get(key)
                if builder is None:
                    builder = builders[key] = _KeyBuilder()
                builder.add(row, value)
        return cls(len(metadatas), {k: b.build() for k, b in builders.items()})

    @classmethod
    def merge(
        cls, size: int, parts: Sequence[tuple[MetaIndex, npt.NDArray[np.int64]]]
    ) -> MetaIndex:
        """The index of a merged segment: each part's rows mapped through its ``remap``
        (old row -> new row, or -1 where the row was dropped)."""

        def moved(rows: Rows, remap: npt.NDArray[np.int64]) -> Rows:
            out = remap[rows]
            return out[out >= 0].astype(np.int32)

        names = {k for index, _ in parts for k in index._keys}
        keys: dict[str, _Key] = {}
        for name in names:
            found = [(index._keys[name], remap) for index, remap in parts if name in index._keys]
            strs: dict[str, list[Rows]] = {}
            bools: dict[bool, list[Rows]] = {}
            for key, remap in found:
                for s, rows in key.strs.items():
                    strs.setdefault(s, []).append(moved(rows, remap))
                for b, rows in key.bools.items():
                    bools.setdefault(b, []).append(moved(rows, remap))
            values_parts, rows_parts = [], []
            for key, remap in found:
                new_rows = remap[key.num_rows]
                keep = new_rows >= 0
                values_parts.append(key.num_values[keep])
                rows_parts.append(new_rows[keep].astype(np.int32))
            values = np.concatenate(values_parts) if values_parts else np.zeros(0)
            rows = np.concatenate(rows_parts) if rows_parts else _EMPTY_ROWS
            order = np.argsort(values, kind="stable")
            keys[name] = _Key(
                strs={s: np.sort(np.concatenate(v)) for s, v in strs.items()},
                bools={b: np.sort(np.concatenate(v)) for b, v in bools.items()},
                num_values=values[order],
                num_rows=rows[order],
                present=np.sort(np.concatenate([moved(k.present, r) for k, r in found])),
                exact=all(k.exact for k, _ in found),
            )
        return cls(size, keys)

    # -- compiling filters ----------------------------------------------------

    def mask(self, filter: Filter) -> Mask | None:
        """One bool per row, or None when some key in ``filter`` is not indexed exactly."""
        try:
            return self._mask(filter)
        except _Unindexed:
            return None

    def _from_rows(self, rows: Rows) -> Mask:
        out = np.zeros(self.size, dtype=np.bool_)
        out[rows] = True
        return out

    def _key(self, name: str) -> _Key | None:
        key = self._keys.get(name)
        if key is not None and not key.exact:
            raise _Unindexed
        return key

    def _eq_rows(self, key: _Key, value: Scalar) -> Rows:
        if isinstance(value, str):
            return key.strs.get(value, _EMPTY_ROWS)
        if isinstance(value, bool):
            return key.bools.get(value, _EMPTY_ROWS)
        if isinstance(value, int) and abs(value) > _EXACT:
            raise _Unindexed
        lo = np.searchsorted(key.num_values, value, side="left")
        hi = np.searchsorted(key.num_values, value, side="right")
        return key.num_rows[lo:hi]

    def _range_rows(self, key: _Key, f: Gt | Gte | Lt | Lte) -> Rows:
        if isinstance(f.value, int) and abs(f.value) > _EXACT:
            raise _Unindexed
        vals = key.num_values
        if isinstance(f, Gt):
            return key.num_rows[np.searchsorted(vals, f.value, side="right") :]
        if isinstance(f, Gte):
            return key.num_rows[np.searchsorted(vals, f.value, side="left") :]
        if isinstance(f, Lt):
            return key.num_rows[: np.searchsorted(vals, f.value, side="left")]
        return key.num_rows[: np.searchsorted(vals, f.value, side="right")]

    def _mask(self, f: Filter) -> Mask:
        if isinstance(f, And):
            out = self._mask(f.children[0])
            for child in f.children[1:]:
                out &= self._mask(child)
            return out
        if isinstance(f, Or):
            out = self._mask(f.children[0])
            for child in f.children[1:]:
                out |= self._mask(child)
            return out
        if isinstance(f, Ne):
            return ~self._mask(Eq(f.field, f.value))
        if isinstance(f, Nin):
            return ~self._mask(In(f.field, f.values))
        key = self._key(f.field)  # type: ignore[attr-defined]  # every other node is a leaf
        if isinstance(f, Exists):
            hit = self._from_rows(key.present) if key is not None else self._none()
            return hit if f.value else ~hit
        if key is None:
            return self._none()
        if isinstance(f, Eq):
            return self._from_rows(self._eq_rows(key, f.value))
        if isinstance(f, In):
            out = self._none()
            for value in f.values:
                out[self._eq_rows(key, value)] = True
            return out
        if isinstance(f, Gt | Gte | Lt | Lte):
            return self._from_rows(self._range_rows(key, f))
        raise _Unindexed

    def _none(self) -> Mask:
        return np.zeros(self.size, dtype=np.bool_)


class _Unindexed(Exception):
    """A filter touches a key the index cannot answer exactly."""
