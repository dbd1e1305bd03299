"""``query_string`` clauses: Lucene syntax parsed by tantivy's query parser.

tantivy parses the query (``AND``/``OR``/``NOT``, ``+``/``-``, ``field:(...)``, phrases
with ``~slop``, ``^N`` boosts) and tokenizes each term with the field's own analyzer
(registered on a schema-only tantivy index, no documents). The Python binding returns
the parsed query as an opaque object whose ``repr`` is tantivy's Debug form of the
query tree; ``_Reader`` turns that tree (a handful of node kinds, not Lucene syntax)
into the ``Node`` classes below, which ``fulltext.py`` scores with BM25 over the whole
namespace. The Debug form is tantivy's, so the version is pinned by the tests that
parse every node kind (tests/documents/test_fulltext.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import tantivy

from spruce.errors import InvalidArgument
from spruce.service.documents.analysis import Analyzer

__all__ = ["Bool", "Boost", "Exists", "Node", "Phrase", "Term", "parse", "text_query"]


@dataclass(frozen=True)
class Term:
    field: str
    token: str


@dataclass(frozen=True)
class Phrase:
    field: str
    #: (position, token): tokens at one position are alternatives (n-grams of a word).
    terms: tuple[tuple[int, str], ...]
    slop: int


@dataclass(frozen=True)
class Exists:
    field: str


@dataclass(frozen=True)
class Boost:
    node: Node
    factor: float


@dataclass(frozen=True)
class Bool:
    must: tuple[Node, ...] = ()
    should: tuple[Node, ...] = ()
    must_not: tuple[Node, ...] = ()


Node = Term | Phrase | Exists | Boost | Bool


def canonical(node: Node) -> Node:
    """The same query however it was written: each occur list deduplicated and sorted,
    so a repeated clause (or field, or term) is scored once."""
    if isinstance(node, Boost):
        return Boost(canonical(node.node), node.factor)
    if isinstance(node, Bool):

        def tidy(children: tuple[Node, ...]) -> tuple[Node, ...]:
            return tuple(sorted({canonical(c) for c in children}, key=repr))

        return Bool(tidy(node.must), tidy(node.should), tidy(node.must_not))
    return node


def text_query(query: str, fields: Sequence[str], analyzers: Sequence[Analyzer]) -> Bool:
    """A ``text`` clause: every token of ``query`` in every named field, OR'd."""
    terms = {
        Term(name, token)
        for name, an in zip(fields, analyzers, strict=True)
        for token in an.tokens(query)
    }
    return Bool(should=tuple(terms))


@lru_cache(maxsize=64)
def _index(fields: tuple[str, ...], analyzers: tuple[Analyzer, ...]) -> tantivy.Index:
    builder = tantivy.SchemaBuilder()
    for i, name in enumerate(fields):
        builder.add_text_field(name, stored=False, tokenizer_name=f"f{i}")
    index = tantivy.Index(builder.build())
    for i, an in enumerate(analyzers):
        index.register_tokenizer(f"f{i}", an.tantivy)
    return index


def parse(query: str, fields: Sequence[str], analyzers: Sequence[Analyzer]) -> Node:
    """``query`` over the text ``fields`` (terms without a field search all of them)."""
    if not query.strip():
        raise InvalidArgument("query_string scoring needs a non-empty query")
    index = _index(tuple(fields), tuple(analyzers))
    try:
        parsed = index.parse_query(query, list(fields))
    except ValueError as exc:
        raise InvalidArgument(f"Invalid query_string {query!r}: {exc}") from None
    return _Reader(repr(parsed), list(fields)).query()


_TOKEN = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|-?[0-9.]+(?:e-?[0-9]+)?|.)')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'"}


def _unquote(literal: str) -> str:
    """A Rust Debug string literal's value."""
    out, body, i = [], literal[1:-1], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
        elif body[i + 1] == "u":
            end = body.index("}", i)
            out.append(chr(int(body[i + 3 : end], 16)))
            i = end + 1
        else:
            out.append(_ESCAPES[body[i + 1]])
            i += 2
    return "".join(out)


class _Reader:
    """tantivy's Debug form of a query tree -> ``Node``."""

    def __init__(self, text: str, fields: list[str]) -> None:
        self._tokens = [m.group(1) for m in _TOKEN.finditer(text) if m.group(1).strip()]
        self._at = 0
        self._fields = fields

    def _next(self) -> str:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _expect(self, *want: str) -> None:
        for w in want:
            got = self._next()
            if got != w:
                raise InvalidArgument(f"query_string: unexpected {got!r} in the parsed query")

    def _peek(self) -> str:
        return self._tokens[self._at]

    def query(self) -> Node:
        self._expect("Query", "(")
        node = self._node()
        self._expect(")")
        return node

    def _node(self) -> Node:
        kind = self._next()
        if kind == "TermQuery":
            self._expect("(")
            field, token = self._term()
            self._expect(")")
            return Term(field, token)
        if kind == "BooleanQuery":
            return self._bool()
        if kind == "PhraseQuery":
            return self._phrase()
        if kind == "Boost":
            self._expect("(", "query", "=")
            node = self._node()
            self._expect(",", "boost", "=")
            factor = float(self._next())
            self._expect(")")
            return Boost(node, factor)
        if kind == "ExistsQuery":
            self._expect("{", "field_name", ":")
            name = _unquote(self._next())
            self._expect(",", "json_subpaths", ":")
            self._next()
            self._expect("}")
            return Exists(name)
        raise InvalidArgument(
            f"query_string: {kind} queries are not supported (terms, phrases, boolean "
            "operators, field:(...) and ^N boosts are)"
        )

    def _term(self) -> tuple[str, str]:
        self._expect("Term", "(", "field", "=")
        field = self._fields[int(self._next())]
        self._expect(",", "type", "=")
        kind = self._next()
        self._expect(",")
        token = self._next()
        if kind != "Str" or not token.startswith('"'):
            raise InvalidArgument("query_string: only text terms are supported")
        self._expect(")")
        return field, _unquote(token)

    def _bool(self) -> Bool:
        self._expect("{", "subqueries", ":", "[")
        groups: dict[str, list[Node]] = {"Must": [], "Should": [], "MustNot": []}
        while self._peek() != "]":
            self._expect("(")
            occur = self._next()
            self._expect(",")
            groups[occur].append(self._node())
            self._expect(")")
            if self._peek() == ",":
                self._next()
        self._expect("]", ",", "minimum_number_should_match", ":")
        self._next()
        self._expect("}")
        # tantivy reads "a AND NOT b" as +a +(-b), and a clause of exclusions alone
        # matches nothing, so it finds nothing; Lucene means +a -b. Exclusions standing
        # as a required or optional clause are the parent's exclusions.
        excluded = list(groups["MustNot"])
        kept: dict[str, list[Node]] = {"Must": [], "Should": []}
        for occur in kept:
            for child in groups[occur]:
                inner = child.node if isinstance(child, Boost) else child
                if (
                    isinstance(inner, Bool)
                    and inner.must_not
                    and not inner.must
                    and not inner.should
                ):
                    excluded += inner.must_not
                else:
                    kept[occur].append(child)
        return Bool(tuple(kept["Must"]), tuple(kept["Should"]), tuple(excluded))

    def _phrase(self) -> Phrase:
        self._expect("{", "field", ":", "Field", "(")
        field = self._fields[int(self._next())]
        self._expect(")", ",", "phrase_terms", ":", "[")
        terms: list[tuple[int, str]] = []
        while self._peek() != "]":
            self._expect("(")
            position = int(self._next())
            self._expect(",")
            _, token = self._term()
            self._expect(")")
            terms.append((position, token))
            if self._peek() == ",":
                self._next()
        self._expect("]", ",", "slop", ":")
        slop = int(self._next())
        self._expect("}")
        return Phrase(field, tuple(terms), slop)
