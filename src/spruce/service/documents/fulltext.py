"""``text`` and ``query_string`` search: BM25 over per-source postings with the whole
namespace's statistics.

Each row source of a namespace (the memtable, frozen memtables, every segment) gets
its own postings per text field (term -> rows and term frequencies, field lengths,
tokens for phrases), kept on what every view of those rows shares
(``Source.origin``): a segment's are built the first time it is searched and live as
long as it does; the memtable's are extended by the rows written since the last
search, so no search re-analyses rows it analysed before. Rows never change once
written, so postings never go stale; deleted and replaced rows are masked by the
view's live flags. Scores never depend on how the namespace is split into sources:
the statistics (documents with the field ``N``, document frequency ``df``, average
field length ``avgdl``) are summed over every source's live rows of one view, which
is also what makes a write searchable by the next search (read-your-writes).

BM25 (tantivy's and Lucene's form, k1 = 1.2, b = 0.75), per field f and term t:
``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``,
``score = idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``; a phrase
scores as one term whose tf is the phrase's frequency and whose idf is the sum of
its positions' idf. Clauses are OR'd and summed, each distinct clause once.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spruce.engine.read.filters import Filter
from spruce.engine.read.view import Source, View
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

__all__ = ["K1", "B", "FieldIndex", "SourceText", "Stats", "Scorer", "Texts", "bm25", "top_k"]

K1 = 1.2
B = 0.75

Mask = npt.NDArray[np.bool_]
Scores = npt.NDArray[np.float64]
Rows = npt.NDArray[np.intp]


def bm25(tf: Scores, dl: Scores, idf: float, avgdl: float) -> Scores:
    norm = K1 * (1.0 - B + B * dl / avgdl)
    out: Scores = idf * tf * (K1 + 1.0) / (tf + norm)
    return out


def idf(n: int, df: int) -> float:
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


class FieldIndex:
    """One text field over a source's rows 0..n-1, live or not; rows are appended only."""

    def __init__(self, an: Analyzer) -> None:
        self._an = an
        self.tokens: list[list[str]] = []
        self._lengths = np.zeros(0, dtype=np.float64)
        self._postings: dict[str, tuple[list[int], list[int]]] = {}
        self._arrays: dict[str, tuple[Rows, Scores]] = {}  # postings as numpy, till extended
        #: Searches of older views read while a newer one extends: rows below a view's
        #: size never change, but the lists and their numpy copies must agree.
        self._lock = threading.Lock()

    def extend(self, texts: Sequence[object]) -> None:
        new = [self._an.tokens(t) if isinstance(t, str) else [] for t in texts]
        with self._lock:
            self._append(new)

    def _append(self, new: list[list[str]]) -> None:
        first = len(self.tokens)
        for row, toks in enumerate(new, first):
            counts: dict[str, int] = {}
            for tok in toks:
                counts[tok] = counts.get(tok, 0) + 1
            for tok, tf in counts.items():
                rows, tfs = self._postings.setdefault(tok, ([], []))
                rows.append(row)
                tfs.append(tf)
        self.tokens += new
        self._lengths = np.concatenate(
            [self._lengths, np.fromiter((len(t) for t in new), np.float64, len(new))]
        )
        self._arrays.clear()

    def lengths(self, size: int) -> Scores:
        return self._lengths[:size]

    def posting(self, token: str, size: int) -> tuple[Rows, Scores]:
        """Rows below ``size`` that have ``token``, increasing, with its frequency."""
        with self._lock:
            found = self._arrays.get(token)
            if found is None:
                rows, tfs = self._postings.get(token, ([], []))
                found = (np.array(rows, dtype=np.intp), np.array(tfs, dtype=np.float64))
                self._arrays[token] = found
        cut = int(np.searchsorted(found[0], size))
        return found[0][:cut], found[1][:cut]


class SourceText:
    """The text fields of one source's rows, analysed once each."""

    def __init__(self, analyzers: Mapping[str, Analyzer]) -> None:
        self.size = 0
        self.fields = {name: FieldIndex(an) for name, an in analyzers.items()}
        #: One search extends at a time (another may score meanwhile: FieldIndex).
        self.lock = threading.Lock()

    def extend(self, metadatas: Sequence[Mapping[str, Any] | None], size: int) -> None:
        if size <= self.size:
            return
        rows = metadatas[self.size : size]
        for name, index in self.fields.items():
            index.extend([(md or {}).get(name) for md in rows])
        self.size = size


class Stats:
    """``N``, ``avgdl`` and ``df`` over the live rows of every source of one view."""

    def __init__(self, parts: Sequence[tuple[SourceText, Mask]]) -> None:
        self._parts = parts
        self.docs: dict[str, int] = {}
        self.avgdl: dict[str, float] = {}
        names = {n for text, _ in parts for n in text.fields}
        for name in names:
            n, total = 0, 0.0
            for text, live in parts:
                lengths = text.fields[name].lengths(live.size)[live]
                n += int(np.count_nonzero(lengths))
                total += float(lengths.sum())
            self.docs[name] = n
            self.avgdl[name] = total / n if n else 1.0
        self._df: dict[tuple[str, str], int] = {}

    def idf(self, name: str, token: str) -> float:
        key = (name, token)
        df = self._df.get(key)
        if df is None:
            df = 0
            for text, live in self._parts:
                index = text.fields.get(name)
                if index is not None:
                    rows, _ = index.posting(token, live.size)
                    df += int(np.count_nonzero(live[rows]))
            self._df[key] = df
        return idf(self.docs.get(name, 0), df)


class Scorer:
    """A query tree scored over one source's rows with the view's statistics."""

    def __init__(self, text: SourceText, size: int, stats: Stats) -> None:
        self.text, self.size, self.stats = text, size, stats

    def score(self, node: Node) -> tuple[Mask, Scores]:
        n = self.size
        if isinstance(node, Term):
            return self._term(node.field, node.token)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Exists):
            found = self.text.fields.get(node.field)
            mask = found.lengths(n) > 0 if found is not None else np.zeros(n, dtype=np.bool_)
            return mask, mask.astype(np.float64)
        if isinstance(node, Boost):
            mask, scores = self.score(node.node)
            return mask, scores * node.factor
        return self._bool(node)

    def _term(self, name: str, token: str) -> tuple[Mask, Scores]:
        n = self.size
        mask, scores = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.float64)
        index = self.text.fields.get(name)
        if index is None:
            return mask, scores
        docs, tf = index.posting(token, n)
        if not docs.size:
            return mask, scores
        weight = self.stats.idf(name, token)
        mask[docs] = True
        scores[docs] = bm25(tf, index.lengths(n)[docs], weight, self.stats.avgdl[name])
        return mask, scores

    def _terms(self, terms: Sequence[Term]) -> tuple[Mask, Scores]:
        """An OR of terms (every ``text`` clause): the postings' scores summed by row in
        one pass, not one dense array per term."""
        n = self.size
        rows: list[Rows] = []
        parts: list[Scores] = []
        for term in terms:
            index = self.text.fields.get(term.field)
            if index is None:
                continue
            docs, tf = index.posting(term.token, n)
            if docs.size:
                weight = self.stats.idf(term.field, term.token)
                avgdl = self.stats.avgdl[term.field]
                rows.append(docs)
                parts.append(bm25(tf, index.lengths(n)[docs], weight, avgdl))
        if not rows:
            return np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.float64)
        every = np.concatenate(rows)
        scores = np.bincount(every, weights=np.concatenate(parts), minlength=n)
        return np.bincount(every, minlength=n) > 0, scores.astype(np.float64, copy=False)

    def _phrase(self, node: Phrase) -> tuple[Mask, Scores]:
        groups: dict[int, set[str]] = {}
        for position, token in node.terms:
            groups.setdefault(position, set()).add(token)
        ordered = [groups[p] for p in sorted(groups)]
        if len(ordered) == 1:
            # One position (the n-grams of one word): its tokens are alternatives.
            return self._bool(Bool(should=tuple(Term(node.field, t) for t in ordered[0])))
        n = self.size
        mask, scores = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.float64)
        index = self.text.fields.get(node.field)
        if index is None:
            return mask, scores
        lengths, avgdl = index.lengths(n), self.stats.avgdl[node.field]
        candidates: set[int] | None = None
        weight = 0.0
        for alternatives in ordered:
            docs: set[int] = set()
            best = 0.0
            for tok in alternatives:
                rows, _ = index.posting(tok, n)
                if rows.size:
                    docs |= set(rows.tolist())
                    best = max(best, self.stats.idf(node.field, tok))
            weight += best
            candidates = docs if candidates is None else candidates & docs
        for doc in sorted(candidates or ()):
            freq = phrase_frequency(index.tokens[doc], ordered, node.slop)
            if freq:
                mask[doc] = True
                tf = np.array([float(freq)])
                scores[doc] = bm25(tf, lengths[doc : doc + 1], weight, avgdl)[0]
        return mask, scores

    def _bool(self, node: Bool) -> tuple[Mask, Scores]:
        n = self.size
        if not node.must and not node.must_not and all(isinstance(c, Term) for c in node.should):
            return self._terms([c for c in node.should if isinstance(c, Term)])
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
    view: View,
    texts: Texts,
    schema: DocumentSchema,
    nodes: Sequence[Node],
    filter: Filter | None,
    k: int,
) -> list[tuple[str, float]]:
    """The ``k`` best live documents of ``view`` for the OR of ``nodes`` (each distinct
    one scored once), best first, ties by id."""
    sources = [src for src in view.sources() if src.size]
    parts = [(texts.of(src, schema), src) for src in sources]
    stats = Stats([(text, src.live) for text, src in parts])
    tree = Bool(should=tuple(sorted({canonical(node) for node in nodes}, key=repr)))
    found: list[tuple[str, float]] = []
    for text, src in parts:
        mask, scores = Scorer(text, src.size, stats).score(tree)
        mask &= src.live
        if filter is not None and mask.any():
            mask &= src.filter_mask(filter)
        rows = np.flatnonzero(mask)
        if rows.size > k:
            # This source's k best, and every row tied with its k-th (ties go by id).
            kth = np.partition(scores[rows], rows.size - k)[rows.size - k]
            rows = rows[scores[rows] >= kth]
        found += [(src.id_at(int(r)), float(scores[r])) for r in rows]
    found.sort(key=lambda m: (-m[1], m[0]))
    return found[:k]


class Texts:
    """Each source's ``SourceText``, kept on its ``origin`` for as long as that lives."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._of: weakref.WeakKeyDictionary[object, SourceText] = weakref.WeakKeyDictionary()

    def of(self, src: Source, schema: DocumentSchema) -> SourceText:
        with self._lock:
            text = self._of.get(src.origin)
            if text is None:
                text = SourceText(analyzers(schema))
                self._of[src.origin] = text
        with text.lock:
            text.extend(src.metadatas(), src.size)
        return text


def analyzers(schema: DocumentSchema) -> dict[str, Analyzer]:
    return {n: analyzer(schema.fields[n]["full_text_search"]) for n in schema.text_fields()}


def analyzers_of(schema: DocumentSchema, names: Sequence[str]) -> list[Analyzer]:
    return [analyzer(schema.fields[n]["full_text_search"]) for n in names]
