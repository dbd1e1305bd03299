"""Sparse vectors: a per-segment inverted index and exact top-k by dot product over it.

A segment's index is built once, when the segment is written, and stored beside it as
``sparse.idx`` (byte layout in docs/FORMAT.md, section 5.4). It holds, for every
dimension (term) that occurs in the segment, the rows that have it in increasing row
order with their values, plus the largest and smallest value of each term.

Top-k is MaxScore (Turtle & Flood, 1995), vectorised: each query term's contribution
to any row is bounded by ``q * max`` (or ``q * min`` for a negative query weight).
Terms are taken in decreasing bound order; the postings of the first ("essential")
terms are read in full, and once the k-th best lower bound among those candidates
exceeds what the remaining terms could add up to, a row that has none of the
essential terms cannot make the top-k, so the remaining ("non-essential") lists are
only probed by binary search for the surviving candidates, never scanned. Rare,
high-weight terms (BM25 and learned sparse models alike) make the essential lists
short, so common terms' long lists are almost never read.

Results are exact and follow Pinecone's rule for sparse search: a record whose dot
product with the query is 0 is not a match. Every row tied with the k-th score is
returned, so the caller's merge can break ties by id as one global sort would.

The memtable has no file: a view of it is scored by brute force over its rows' CSR
until it has been queried twice, then gets an in-memory index (``ViewIndex``).

Over 400 lines on purpose: the file format, its reader and the MaxScore search that
walks it change together (FORMAT.md), and splitting them would spread one format.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from spruce.engine.disk.fsutil import write_synced
from spruce.engine.read.rows import Csr, RowSource
from spruce.errors import Corruption

__all__ = [
    "SPARSE_INDEX",
    "SparseIndex",
    "ViewIndex",
    "sparse_scores",
    "sparse_top_k",
]

SPARSE_INDEX = "sparse.idx"
_MAGIC = b"SPRCSPX\0"
_VERSION = 1
# magic, version, flags, rows, terms, postings, CRC-32 of the body, padding.
_HEADER = struct.Struct("<8sIIQQQI4x")
_HEADER_PAD = 4  # the trailing "4x"
# Scores are float64 sums taken in different orders by different paths; bounds get
# this much slack so rounding can never prune a row that belongs in the top-k.
_REL_TOL = 1e-9
# Below this many postings in the query's lists, one exhaustive pass beats MaxScore's
# rounds of numpy calls.
_SMALL_POSTINGS = 4096

Rows = npt.NDArray[np.intp]
Scores = npt.NDArray[np.float64]


def _pad8(n: int) -> int:
    return -n % 8


class SparseIndex:
    """Postings of one segment's sparse vectors, grouped by term (CSC-like)."""

    __slots__ = ("max_value", "min_value", "offsets", "rows", "size", "terms", "values")

    def __init__(
        self,
        size: int,
        terms: npt.NDArray[np.uint32],
        offsets: npt.NDArray[np.int64],
        rows: npt.NDArray[np.uint32],
        values: npt.NDArray[np.float32],
        max_value: npt.NDArray[np.float32],
        min_value: npt.NDArray[np.float32],
    ) -> None:
        self.size = size  # rows in the segment
        self.terms = terms  # sorted, unique
        self.offsets = offsets  # term i's postings are [offsets[i], offsets[i + 1])
        self.rows = rows  # strictly increasing within each term
        self.values = values
        self.max_value = max_value
        self.min_value = min_value

    @property
    def postings(self) -> int:
        return int(self.rows.size)

    # -- building and storing ---------------------------------------------------

    @classmethod
    def build(cls, csr: Csr, size: int) -> SparseIndex:
        """Invert ``csr``; a term repeated within one row is summed, as a dot product would."""
        lengths = np.diff(csr.indptr)
        row_of = np.repeat(np.arange(size, dtype=np.uint32), lengths)
        # Stable: within a term, rows stay in increasing order.
        order = np.argsort(csr.indices, kind="stable")
        term_of = csr.indices[order].astype(np.uint32, copy=False)
        rows = row_of[order]
        values = csr.values[order].astype(np.float32, copy=False)
        if term_of.size > 1:
            first = np.ones(term_of.size, dtype=np.bool_)
            first[1:] = (term_of[1:] != term_of[:-1]) | (rows[1:] != rows[:-1])
            if not first.all():
                starts = np.flatnonzero(first)
                summed = np.add.reduceat(values.astype(np.float64), starts)
                term_of, rows, values = term_of[starts], rows[starts], summed.astype(np.float32)
        # term_of is sorted: each term starts where it differs from its predecessor.
        head = np.ones(term_of.size, dtype=np.bool_)
        head[1:] = term_of[1:] != term_of[:-1]
        starts = np.flatnonzero(head)
        terms = term_of[starts]
        offsets = np.append(starts, term_of.size).astype(np.int64)
        if terms.size:
            max_value = np.maximum.reduceat(values, starts).astype(np.float32)
            min_value = np.minimum.reduceat(values, starts).astype(np.float32)
        else:
            max_value = min_value = np.zeros(0, dtype=np.float32)
        return cls(size, terms.astype(np.uint32), offsets, rows, values, max_value, min_value)

    def to_bytes(self) -> bytes:
        parts: list[bytes] = []
        for arr, dtype in (
            (self.terms, "<u4"),
            (self.offsets, "<u8"),
            (self.max_value, "<f4"),
            (self.min_value, "<f4"),
            (self.rows, "<u4"),
            (self.values, "<f4"),
        ):
            data = np.ascontiguousarray(arr, dtype=dtype).tobytes()
            parts.append(data + b"\0" * _pad8(len(data)))
        body = b"".join(parts)
        header = _HEADER.pack(
            _MAGIC, _VERSION, 0, self.size, self.terms.size, self.rows.size, zlib.crc32(body)
        )
        return header + body

    @classmethod
    def from_bytes(cls, data: bytes, size: int, where: str) -> SparseIndex:
        if len(data) < _HEADER.size:
            raise Corruption(f"{where}: truncated sparse index")
        magic, version, flags, rows, n_terms, n_post, crc = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _VERSION:
            raise Corruption(f"{where}: not a version {_VERSION} sparse index")
        # The CRC covers the body; the header's other bytes have fixed values.
        if flags != 0 or any(data[_HEADER.size - _HEADER_PAD : _HEADER.size]):
            raise Corruption(f"{where}: sparse index header has non-zero reserved bytes")
        if rows != size:
            raise Corruption(f"{where}: sparse index is for {rows} rows, segment has {size}")
        body = memoryview(data)[_HEADER.size :]
        if zlib.crc32(body) != crc:
            raise Corruption(f"{where}: sparse index checksum mismatch")
        pos = 0

        def take(dtype: str, count: int) -> npt.NDArray[np.generic]:
            nonlocal pos
            nbytes = np.dtype(dtype).itemsize * count
            if pos + nbytes > len(body):
                raise Corruption(f"{where}: sparse index shorter than its header says")
            arr = np.frombuffer(body, dtype=dtype, count=count, offset=pos)
            pos += nbytes + _pad8(nbytes)
            return arr

        terms = take("<u4", n_terms).astype(np.uint32, copy=False)
        offsets = take("<u8", n_terms + 1).astype(np.int64)
        max_value = take("<f4", n_terms).astype(np.float32, copy=False)
        min_value = take("<f4", n_terms).astype(np.float32, copy=False)
        post_rows = take("<u4", n_post).astype(np.uint32, copy=False)
        values = take("<f4", n_post).astype(np.float32, copy=False)
        if pos != len(body):
            raise Corruption(f"{where}: sparse index has trailing bytes")
        # Structure checks are O(terms + postings) vector ops: cheap next to the CRC.
        if (
            offsets[0] != 0
            or offsets[-1] != n_post
            or np.any(np.diff(offsets) <= 0)
            or np.any(np.diff(terms.astype(np.int64)) <= 0)
            or (n_post and int(post_rows.max()) >= size)
        ):
            raise Corruption(f"{where}: malformed sparse index")
        return cls(size, terms, offsets, post_rows, values, max_value, min_value)

    def write(self, path: Path) -> None:
        """Create ``path`` (fsync'd; the caller fsyncs the directory)."""
        write_synced(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path, size: int) -> SparseIndex:
        return cls.from_bytes(path.read_bytes(), size, str(path))

    # -- querying -----------------------------------------------------------------

    def _query_terms(
        self, q_indices: npt.NDArray[np.uint32], q_values: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """Positions in ``terms`` of the query's non-zero terms present here, and weights."""
        if self.terms.size == 0 or q_indices.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float64)
        pos = np.minimum(np.searchsorted(self.terms, q_indices), self.terms.size - 1)
        found = (self.terms[pos] == q_indices) & (q_values != 0)
        return pos[found].astype(np.intp), q_values[found].astype(np.float64)

    def _postings(self, term: int) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float32]]:
        lo, hi = int(self.offsets[term]), int(self.offsets[term + 1])
        return self.rows[lo:hi], self.values[lo:hi]

    def scores(
        self, q_indices: npt.NDArray[np.uint32], q_values: npt.NDArray[np.float32]
    ) -> Scores:
        """The dot product of every row with the query (for hybrid scoring of all rows)."""
        terms, weights = self._query_terms(q_indices, q_values)
        if terms.size == 0:
            return np.zeros(self.size, dtype=np.float64)
        rows, contrib = self._gather(terms, weights)
        return np.asarray(np.bincount(rows, weights=contrib, minlength=self.size), np.float64)

    def _gather(
        self, terms: npt.NDArray[np.intp], weights: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64]]:
        rows, contrib = [], []
        for term, w in zip(terms.tolist(), weights.tolist(), strict=True):
            r, v = self._postings(term)
            rows.append(r)
            contrib.append(v.astype(np.float64) * w)
        return np.concatenate(rows), np.concatenate(contrib)

    def top_k(
        self,
        q_indices: npt.NDArray[np.uint32],
        q_values: npt.NDArray[np.float32],
        allowed: npt.NDArray[np.bool_],
        k: int,
    ) -> tuple[Rows, Scores, int]:
        """Allowed rows with a non-zero score that may be in the top ``k`` (ties kept),
        their scores, and how many postings were read in full (the rest were probed)."""
        terms, weights = self._query_terms(q_indices, q_values)
        if terms.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float64), 0
        hi = np.where(weights > 0, weights * self.max_value[terms], weights * self.min_value[terms])
        lo = np.where(weights > 0, weights * self.min_value[terms], weights * self.max_value[terms])
        # A row lacking a term gets 0 from it, so bounds on a term's contribution include 0.
        upper, lower = np.maximum(hi, 0.0), np.minimum(lo, 0.0)
        order = np.argsort(-upper, kind="stable")
        terms, weights, upper, lower = terms[order], weights[order], upper[order], lower[order]
        # rest_upper[j] / rest_lower[j]: what terms j.. can add to a row, at most / least.
        rest_upper = np.append(np.cumsum(upper[::-1])[::-1], 0.0)
        rest_lower = np.append(np.cumsum(lower[::-1])[::-1], 0.0)
        lengths = self.offsets[terms + 1] - self.offsets[terms]
        cum = np.cumsum(lengths)
        m = terms.size
        # Start with the fewest essential terms that could possibly settle the top-k:
        # at least k postings, and their bounds able to outweigh the rest's.
        prefix_upper = np.cumsum(upper)
        feasible = (rest_upper[1:] < prefix_upper + rest_lower[1:]) & (cum >= k)
        j = int(np.argmax(feasible)) + 1 if feasible.any() else m
        if cum[-1] <= _SMALL_POSTINGS:
            j = m  # reading everything once is cheaper than pruning rounds
        while True:
            cand, partial = self._accumulate(*self._gather(terms[:j], weights[:j]), allowed)
            scanned = int(cum[j - 1])
            if j == m:
                return (*_best(cand, partial, k), scanned)
            if cand.size >= k:
                # Each candidate scores at least partial + rest_lower[j]: k of them reach
                # theta, so theta bounds the true k-th score from below.
                low = partial + rest_lower[j]
                theta = float(np.partition(low, cand.size - k)[cand.size - k])
                slack = _REL_TOL * (abs(theta) + float(rest_upper[j]) + 1e-300)
                if float(rest_upper[j]) + slack < theta:
                    # Rows without an essential term score at most rest_upper[j] < theta.
                    keep = partial + rest_upper[j] + slack >= theta
                    cand, partial = cand[keep], partial[keep]
                    for term, w in zip(terms[j:].tolist(), weights[j:].tolist(), strict=True):
                        partial += _probe(*self._postings(term), cand) * w
                    return (*_best(cand, partial, k), scanned)
                # Reading more lists only raises theta, so the first j' whose rest bound
                # falls below this theta is sure to settle it: go straight there.
                below = np.flatnonzero(rest_upper[j + 1 :] + slack < theta)
                j = j + 1 + int(below[0]) if below.size else m
                continue
            # Too few candidates: read more lists, roughly doubling the postings read.
            j = max(j + 1, int(np.searchsorted(cum, 2 * cum[j - 1], side="left")) + 1)
            j = min(j, m)

    def _accumulate(
        self,
        rows: npt.NDArray[np.uint32],
        contrib: npt.NDArray[np.float64],
        allowed: npt.NDArray[np.bool_],
    ) -> tuple[Rows, Scores]:
        """The allowed rows among ``rows`` (sorted, unique) and their summed contributions."""
        if rows.size * 8 >= self.size:
            # Many postings: accumulate into row-indexed arrays, O(rows in segment).
            seen = np.zeros(self.size, dtype=np.bool_)
            seen[rows] = True
            cand = np.flatnonzero(seen & allowed)
            sums = np.bincount(rows, weights=contrib, minlength=self.size)
            return cand, np.asarray(sums[cand], dtype=np.float64)
        found, inverse = np.unique(rows, return_inverse=True)
        sums = np.bincount(inverse, weights=contrib, minlength=found.size)
        ok = allowed[found]
        return found[ok].astype(np.intp), np.asarray(sums[ok], dtype=np.float64)


def _probe(
    rows: npt.NDArray[np.uint32], values: npt.NDArray[np.float32], cand: Rows
) -> npt.NDArray[np.float64]:
    """Each candidate's value in one posting list (0 if absent), by binary search."""
    out = np.zeros(cand.size, dtype=np.float64)
    if rows.size == 0 or cand.size == 0:
        return out
    # Same dtype as the postings, or numpy would convert the whole list to search it.
    keys = cand.astype(np.uint32)
    pos = np.minimum(np.searchsorted(rows, keys), rows.size - 1)
    hit = rows[pos] == keys
    out[hit] = values[pos[hit]]
    return out


def _best(rows: Rows, scores: Scores, k: int) -> tuple[Rows, Scores]:
    """Rows with a non-zero score among the best ``k``, keeping every tie with the k-th."""
    nonzero = scores != 0
    rows, scores = rows[nonzero], scores[nonzero]
    if rows.size > k:
        kth = np.partition(-scores, k - 1)[k - 1]
        keep = -scores <= kth
        rows, scores = rows[keep], scores[keep]
    return rows, scores


def _brute_scores(
    csr: Csr, size: int, q_indices: npt.NDArray[np.uint32], q_values: npt.NDArray[np.float32]
) -> Scores:
    """Dot product of every row with the query by scanning all of the rows' values."""
    if q_indices.size == 0 or csr.indices.size == 0:
        return np.zeros(size, dtype=np.float64)
    row_of_nnz = np.repeat(np.arange(size), np.diff(csr.indptr))
    pos = np.minimum(np.searchsorted(q_indices, csr.indices), q_indices.size - 1)
    hit = q_indices[pos] == csr.indices
    weights = csr.values[hit].astype(np.float64) * q_values[pos[hit]]
    return np.bincount(row_of_nnz[hit], weights=weights, minlength=size).astype(np.float64)


class ViewIndex:
    """The inverted index of an immutable row source without one on disk (a memtable
    view), built when the view is queried a second time: every write makes a new view,
    so building for the first query would cost write-heavy use more than it saves."""

    __slots__ = ("_index", "_lock", "_queries")

    def __init__(self) -> None:
        self._index: SparseIndex | None = None
        self._queries = 0
        self._lock = threading.Lock()

    def get(self, csr: Callable[[], Csr], size: int) -> SparseIndex | None:
        with self._lock:
            if self._index is None:
                self._queries += 1
                if self._queries < 2:
                    return None
                self._index = SparseIndex.build(csr(), size)
            return self._index


@runtime_checkable
class _Indexed(Protocol):
    def sparse_index(self) -> SparseIndex | None: ...


def _index_of(src: RowSource) -> SparseIndex | None:
    return src.sparse_index() if isinstance(src, _Indexed) else None


def sparse_scores(
    src: RowSource, q_indices: npt.NDArray[np.uint32], q_values: npt.NDArray[np.float32]
) -> Scores:
    """Every row's sparse dot product with the query (``q_indices`` sorted and unique)."""
    index = _index_of(src)
    if index is not None:
        return index.scores(q_indices, q_values)
    return _brute_scores(src.csr(), src.size, q_indices, q_values)


def sparse_top_k(
    src: RowSource,
    allowed: npt.NDArray[np.bool_],
    q_indices: npt.NDArray[np.uint32],
    q_values: npt.NDArray[np.float32],
    top_k: int,
) -> tuple[Rows, Scores]:
    """The rows of ``src`` that may be in a sparse-only query's global top-k, and scores."""
    index = _index_of(src)
    if index is not None:
        rows, scores, _ = index.top_k(q_indices, q_values, allowed, top_k)
        return rows, scores
    scores = _brute_scores(src.csr(), src.size, q_indices, q_values)
    rows = np.flatnonzero(allowed)
    return _best(rows, scores[rows], top_k)
