"""The query language both search backends share, parsed once into a small tree.

Syntax: words (every word must occur), ``"quoted phrases"``, ``AND``, ``OR``, ``NOT``
(upper case; lower-case ``and/or/not`` are words), parentheses, and a trailing ``*`` for a
prefix (``задерж*``). ``a NOT b`` keeps what has ``a`` and lacks ``b``.

Whatever is typed, the result is a tree of literal words: nothing reaches a backend's own
query syntax unescaped. Slips are forgiven with a note (an unclosed quote or parenthesis is
closed at the end, a stray ``)`` or dangling operator is ignored); what cannot mean anything
raises :class:`QueryError` with a message for the user.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_QUERY_CHARS = 1000
MAX_TERMS = 64
# Parentheses are parsed (and the tree later compiled) by recursion; 400 nested ones would
# exhaust Python's stack. Nobody writes more than a few levels by hand.
MAX_NESTING = 32
OPERATORS = ("AND", "OR", "NOT")
_WORD_CHAR = re.compile(r"\w", re.UNICODE)
_LEXEME = re.compile(r'"|\(|\)|[^\s"()]+')


class QueryError(ValueError):
    """A query that cannot be searched; the message is for the user."""


@dataclass(frozen=True)
class Term:
    """A word as typed; ``prefix`` when it ended in ``*``."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must occur together, in order."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class All:
    """Every ``include`` part must match and no ``exclude`` part may."""

    include: tuple[Node, ...]
    exclude: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Any:
    """At least one part must match."""

    parts: tuple[Node, ...]


Node = Term | Phrase | All | Any


@dataclass(frozen=True)
class Query:
    """A parsed query: its tree, the text it came from, and notes on what was forgiven."""

    root: Node
    text: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def terms(self) -> list[Term | Phrase]:
        """Every word and phrase in the tree, in order (for highlighting)."""
        found: list[Term | Phrase] = []
        _collect(self.root, found)
        return found


def _collect(node: Node, found: list[Term | Phrase]) -> None:
    if isinstance(node, Term | Phrase):
        found.append(node)
    elif isinstance(node, All):
        for part in (*node.include, *node.exclude):
            _collect(part, found)
    else:
        for part in node.parts:
            _collect(part, found)


def clean_query_text(text: str) -> str:
    """Control and format characters become spaces; the rest is kept as typed."""
    return "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    ).strip()


def _has_word(text: str) -> bool:
    return _WORD_CHAR.search(text) is not None


class _Parser:
    def __init__(self, lexemes: list[str]) -> None:
        self.lexemes = lexemes
        self.pos = 0
        self.notes: list[str] = []
        self.term_count = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.lexemes[self.pos] if self.pos < len(self.lexemes) else None

    def take(self) -> str:
        lexeme = self.lexemes[self.pos]
        self.pos += 1
        return lexeme

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def count(self, n: int) -> None:
        self.term_count += n
        if self.term_count > MAX_TERMS:
            raise QueryError(f"the query has more than {MAX_TERMS} words; shorten it")

    def parse(self) -> Node | None:
        parts: list[Node] = []
        while self.peek() is not None:
            node = self.any_of()
            if node is not None:
                parts.append(node)
            if self.peek() == ")":
                self.take()
                self.note("an unmatched ')' was ignored")
        return _all(parts, [])

    def any_of(self) -> Node | None:
        parts: list[Node] = []
        node = self.all_of()
        if node is not None:
            parts.append(node)
        while self.peek() == "OR":
            self.take()
            node = self.all_of()
            if node is None:
                self.note("an 'OR' with nothing after it was ignored")
            else:
                parts.append(node)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else Any(tuple(parts))

    def all_of(self) -> Node | None:
        include: list[Node] = []
        exclude: list[Node] = []
        while True:
            lexeme = self.peek()
            if lexeme is None or lexeme in (")", "OR"):
                break
            if lexeme == "AND":
                self.take()
                continue
            negated = lexeme == "NOT"
            if negated:
                self.take()
            node = self.primary()
            if node is None:
                if negated:
                    self.note("a 'NOT' with nothing after it was ignored")
                continue
            (exclude if negated else include).append(node)
        if exclude and not include:
            raise QueryError(
                "NOT needs something to keep: search for a word and exclude another, "
                "e.g. «суд NOT Минск»"
            )
        return _all(include, exclude)

    def primary(self) -> Node | None:
        lexeme = self.peek()
        if lexeme is None or lexeme in (")", "OR", "AND", "NOT"):
            return None
        self.take()
        if lexeme == "(":
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise QueryError(
                    f"the query nests parentheses more than {MAX_NESTING} deep; simplify it"
                )
            node = self.any_of()
            self.depth -= 1
            if self.peek() == ")":
                self.take()
            else:
                self.note("an unclosed '(' was closed at the end of the query")
            return node
        if lexeme == '"':
            return self.phrase()
        return self.term(lexeme)

    def phrase(self) -> Node | None:
        words: list[str] = []
        while (lexeme := self.peek()) is not None and lexeme != '"':
            words.append(self.take())
        if self.peek() == '"':
            self.take()
        else:
            self.note("an unclosed quote was closed at the end of the query")
        words = [w for w in words if _has_word(w)]
        self.count(len(words))
        if not words:
            return None
        return Phrase(tuple(words)) if len(words) > 1 else Term(words[0])

    def term(self, lexeme: str) -> Node | None:
        prefix = lexeme.endswith("*")
        text = lexeme.replace("*", "")
        if not _has_word(text):
            return None
        self.count(1)
        return Term(text, prefix=prefix)


def _all(include: list[Node], exclude: list[Node]) -> Node | None:
    if not include:
        return None
    if len(include) == 1 and not exclude:
        return include[0]
    return All(tuple(include), tuple(exclude))


def parse_query(text: str) -> Query:
    """Parse what a user typed; raises :class:`QueryError` when nothing searchable is left."""
    cleaned = clean_query_text(text)
    if len(cleaned) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(cleaned)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    if not cleaned:
        raise QueryError("the query is empty: type one or more words to search for")
    parser = _Parser(_LEXEME.findall(cleaned))
    root = parser.parse()
    if root is None:
        raise QueryError(f"the query {cleaned!r} has no words to search for")
    return Query(root=root, text=cleaned, notes=tuple(parser.notes))
