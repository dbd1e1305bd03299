"""``text`` and ``query_string`` search: BM25 with the whole namespace's statistics.

Scores never depend on how the namespace is split into memtable and segments: the
statistics (documents with the field ``N``, document frequency ``df``, average field
length ``avgdl``) are those of every live document of the namespace, read from one
snapshot of it. The snapshot (tokens, postings and lengths per text field) is built
from the namespace's records at a given LSN and reused until the LSN moves, so a
write is searchable by the next search (read-your-writes) and deleted or replaced
documents are never scored. Building it reads the whole namespace: that is the cost
of this first version (docs/DOCUMENTS.md, "Full-text search").

BM25 (tantivy's and Lucene's form, k1 = 1.2, b = 0.75), per field f and term t:
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
``score = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``; a phrase
scores as one term whose tf is the phrase's frequency and whose idf is the sum of
its positions' idf. Clauses are OR'd and summed, each distinct clause once.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from spruce.engine.read.filters import Filter, evaluate
from spruce.service.documents.analysis import Analyzer, analyzer
from spruce.service.documents.query_string import (
    Bool,
    Boost,
    Exists,
    Node,
    Phrase,
    Term,
    canonical,
)
from spruce.service.documents.schema import DocumentSchema
from spruce.service.handle import NamespaceHandle
from spruce.types import Metadata

__all__ = ["K1", "B", "FieldIndex", "Snapshot", "Snapshots", "bm25", "top_k"]

K1 = 1.2
B = 0.75
_PAGE = 1000
_KEEP = 32  # namespaces whose snapshot is kept

Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float64]


def bm25(tf: Scores, dl: Scores, idf: float, avgdl: float) -> Scores:
    norm = K1 * (1.0 - B + B * dl / avgdl)
    out: Scores = idf * tf * (K1 + 1.0) / (tf + norm)
    return out


def idf(n: int, df: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


@dataclass
class FieldIndex:
    """One text field over the snapshot's documents."""

    tokens: list[list[str]]
    lengths: Scores
    postings: dict[str, tuple[npt.NDArray[np.intp], Scores]] = field(default_factory=dict)

    @classmethod
    def build(cls, texts: Sequence[str | None], an: Analyzer) -> FieldIndex:
        tokens = [an.tokens(t) if isinstance(t, str) else [] for t in texts]
        lengths = np.array([len(t) for t in tokens], dtype=np.float64)
        counts: dict[str, dict[int, int]] = {}
        for doc, toks in enumerate(tokens):
            for tok in toks:
                per = counts.setdefault(tok, {})
                per[doc] = per.get(doc, 0) + 1
        postings = {
            tok: (
                np.fromiter(per.keys(), dtype=np.intp, count=len(per)),
                np.fromiter(per.values(), dtype=np.float64, count=len(per)),
            )
            for tok, per in counts.items()
        }
        return cls(tokens, lengths, postings)

    @property
    def docs(self) -> int:
        return int(np.count_nonzero(self.lengths))

    @property
    def avgdl(self) -> float:
        n = self.docs
        return float(self.lengths.sum()) / n if n else 1.0


@dataclass
class Snapshot:
    lsn: int
    ids: list[str]
    metadata: list[Metadata | None]
    fields: dict[str, FieldIndex]

    @classmethod
    def build(cls, ns: NamespaceHandle, schema: DocumentSchema) -> Snapshot:
        lsn = ns.lsn  # read first: whatever the scan adds is newer, never older
        ids: list[str] = []
        after = None
        while True:
            page = ns.list_ids(limit=_PAGE, after=after)
            if not page:
                break
            ids += page
            after = page[-1]
        metadata: list[Metadata | None] = []
        kept: list[str] = []
        for start in range(0, len(ids), _PAGE):
            chunk = ids[start : start + _PAGE]
            found = ns.fetch(chunk)
            for i in chunk:
                if i in found:  # deleted between the list and the fetch
                    kept.append(i)
                    metadata.append(found[i].metadata)
        fields = {}
        for name in schema.text_fields():
            texts = [(m or {}).get(name) for m in metadata]
            an = analyzer(schema.fields[name]["full_text_search"])
            fields[name] = FieldIndex.build([t if isinstance(t, str) else None for t in texts], an)
        return cls(lsn, kept, metadata, fields)

    # -- scoring -------------------------------------------------------------------

    def score(self, node: Node) -> tuple[Mask, Scores]:
        n = len(self.ids)
        if isinstance(node, Term):
            return self._term(node.field, node.token)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Exists):
            found = self.fields.get(node.field)
            mask = (found.lengths > 0) if found is not None else np.zeros(n, dtype=np.bool_)
            return mask, mask.astype(np.float64)
        if isinstance(node, Boost):
            mask, scores = self.score(node.node)
            return mask, scores * node.factor
        return self._bool(node)

    def _term(self, name: str, token: str) -> tuple[Mask, Scores]:
        n = len(self.ids)
        mask, scores = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.float64)
        index = self.fields.get(name)
        posting = index.postings.get(token) if index is not None else None
        if index is None or posting is None:
            return mask, scores
        docs, tf = posting
        weight = idf(index.docs, len(docs))
        mask[docs] = True
        scores[docs] = bm25(tf, index.lengths[docs], weight, index.avgdl)
        return mask, scores

    def _phrase(self, node: Phrase) -> tuple[Mask, Scores]:
        groups: dict[int, set[str]] = {}
        for position, token in node.terms:
            groups.setdefault(position, set()).add(token)
        ordered = [groups[p] for p in sorted(groups)]
        if len(ordered) == 1:
            # One position (the n-grams of one word): its tokens are alternatives.
            return self._bool(Bool(should=tuple(Term(node.field, t) for t in ordered[0])))
        n = len(self.ids)
        mask, scores = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.float64)
        index = self.fields.get(node.field)
        if index is None:
            return mask, scores
        candidates: set[int] | None = None
        weight = 0.0
        for alternatives in ordered:
            docs: set[int] = set()
            best = 0.0
            for tok in alternatives:
                posting = index.postings.get(tok)
                if posting is not None:
                    docs |= set(posting[0].tolist())
                    best = max(best, idf(index.docs, len(posting[0])))
            weight += best
            candidates = docs if candidates is None else candidates & docs
        for doc in sorted(candidates or ()):
            freq = phrase_frequency(index.tokens[doc], ordered, node.slop)
            if freq:
                mask[doc] = True
                tf = np.array([float(freq)])
                scores[doc] = bm25(tf, index.lengths[doc : doc + 1], weight, index.avgdl)[0]
        return mask, scores

    def _bool(self, node: Bool) -> tuple[Mask, Scores]:
        n = len(self.ids)
        scores = np.zeros(n, dtype=np.float64)
        if node.must:
            mask = np.ones(n, dtype=np.bool_)
            for child in node.must:
                m, s = self.score(child)
                mask &= m
                scores += s
            for child in node.should:
                _, s = self.score(child)
                scores += s
        elif node.should:
            mask = np.zeros(n, dtype=np.bool_)
            for child in node.should:
                m, s = self.score(child)
                mask |= m
                scores += s
        else:
            mask = np.zeros(n, dtype=np.bool_)  # only exclusions match nothing (Lucene)
        for child in node.must_not:
            m, _ = self.score(child)
            mask &= ~m
        return mask, np.where(mask, scores, 0.0)


def phrase_frequency(tokens: Sequence[str], groups: Sequence[set[str]], slop: int) -> int:
    """How many start positions begin the phrase, each next position within ``slop``
    extra tokens in all (earliest next match: it minimises the total gap)."""
    count = 0
    for start, tok in enumerate(tokens):
        if tok not in groups[0]:
            continue
        at, budget, ok = start, slop, True
        for group in groups[1:]:
            step = next(
                (j for j in range(at + 1, min(len(tokens), at + 2 + budget)) if tokens[j] in group),
                None,
            )
            if step is None:
                ok = False
                break
            budget -= step - at - 1
            at = step
        count += ok
    return count


def top_k(
    snapshot: Snapshot, nodes: Sequence[Node], filter: Filter | None, k: int
) -> list[tuple[str, float]]:
    """The ``k`` best documents for the OR of ``nodes`` (each distinct one scored once)."""
    n = len(snapshot.ids)
    if n == 0:
        return []
    distinct = {canonical(node) for node in nodes}
    mask, scores = snapshot.score(Bool(should=tuple(sorted(distinct, key=repr))))
    if filter is not None:
        mask &= evaluate(filter, snapshot.metadata)
    rows = np.flatnonzero(mask)
    ids = np.array(snapshot.ids, dtype=object)[rows]
    order = np.lexsort((ids, -scores[rows]))[:k]
    return [(str(ids[i]), float(scores[rows[i]])) for i in order]


class Snapshots:
    """The latest snapshot of the namespaces searched most recently."""

    def __init__(self, keep: int = _KEEP) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        #: key -> (the namespace handle it was read from, snapshot): a namespace deleted
        #: and written again starts its LSNs afresh, under a new handle.
        self._cache: OrderedDict[tuple[str, str], tuple[NamespaceHandle, Snapshot]] = OrderedDict()

    def get(self, key: tuple[str, str], ns: NamespaceHandle, schema: DocumentSchema) -> Snapshot:
        with self._lock:
            found = self._cache.get(key)
            if found is not None and found[0] is ns and found[1].lsn == ns.lsn:
                self._cache.move_to_end(key)
                return found[1]
        built = Snapshot.build(ns, schema)
        with self._lock:
            self._cache[key] = (ns, built)
            self._cache.move_to_end(key)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        return built


def analyzers_of(schema: DocumentSchema, names: Sequence[str]) -> list[Analyzer]:
    return [analyzer(schema.fields[n]["full_text_search"]) for n in names]
