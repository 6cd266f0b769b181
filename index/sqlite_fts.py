"""The embedded search backend: one SQLite file with an FTS5 table, WAL mode, so parallel
tasks can write to it at once.

Words are matched by their index terms (:mod:`index.analysis`, through the tokenizer in
:mod:`index.sqlite_tokenizer`), ranked by BM25 with titles weighted three times, and
snippets are cut from the original text. Queries arrive parsed (:mod:`index.query`) and are
written out with every word quoted, so nothing typed is ever read as FTS5 or SQL syntax.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any as AnyValue

import apsw

from index.analysis import WordForms
from index.backend import (
    FACET_SIZE,
    Facets,
    Hit,
    IndexUnavailableError,
    SearchFilters,
    SearchRequest,
)
from index.documents import Document
from index.facets import check_facet_size, top_counts
from index.query import All, Any, Node, Phrase, Term
from index.snippets import (
    CLOSE_SENTINEL,
    OPEN_SENTINEL,
    sentinel_snippet_to_html,
    without_sentinels,
)
from index.sqlite_tokenizer import TOKENIZER_NAME, register

FORMAT = "osint-archive-index/2"
SNIPPET_TOKENS = 24
TITLE_WEIGHT = 3.0
BUSY_TIMEOUT_MS = 30_000
# Facet rows are counted this many at a time: Python memory stays bounded however many
# documents match, and Counter.update over a batch runs in C (measured on 1M documents: as
# fast as GROUP BYs over a materialised CTE for 35k matches, a fifth faster for 700k).
FACET_BATCH = 10_000
FACET_COLUMNS = ("kind", "source", "lang", "tags", "month")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    capture_id TEXT NOT NULL,
    lang TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    published_at TEXT,
    tags TEXT NOT NULL DEFAULT '',
    media_sha256 TEXT,
    start REAL,
    "end" REAL
);
CREATE INDEX IF NOT EXISTS documents_captured ON documents(captured_at);
"""
SORT_SQL = {
    "relevance": "documents_fts.rank",
    "newest": "d.captured_at DESC, d.rowid DESC",
    "oldest": "d.captured_at ASC, d.rowid ASC",
}


class IndexFormatError(IndexUnavailableError):
    """The index file was made by another version or with other settings; reindex."""


def fts_expression(node: Node) -> str:
    """The FTS5 form of a query tree. Every word is a quoted string (``"`` doubled), so its
    characters are never operators; the tokenizer turns it into terms."""
    if isinstance(node, Term):
        quoted = '"' + node.text.replace('"', '""') + '"'
        return f"{quoted} *" if node.prefix else quoted
    if isinstance(node, Phrase):
        return '"' + " ".join(node.words).replace('"', '""') + '"'
    if isinstance(node, All):
        kept = " AND ".join(f"({fts_expression(part)})" for part in node.include)
        dropped = "".join(f" NOT ({fts_expression(part)})" for part in node.exclude)
        return f"({kept}){dropped}" if dropped else kept
    if isinstance(node, Any):
        return " OR ".join(f"({fts_expression(part)})" for part in node.parts)
    raise TypeError(f"not a query node: {node!r}")


def _filter_sql(filters: SearchFilters) -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    for column, value in (
        ("d.kind", filters.kind),
        ("d.source", filters.source),
        ("d.lang", filters.lang),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if filters.tag:
        where.append("instr(' ' || d.tags || ' ', ?) > 0")
        params.append(f" {filters.tag} ")
    for column, operator, bound in (
        ("d.captured_at", ">=", filters.since),
        ("d.captured_at", "<=", filters.until),
        ("d.published_at", ">=", filters.published_since),
        ("d.published_at", "<=", filters.published_until),
    ):
        if bound is not None:
            where.append(f"{column} {operator} ?")
            params.append(bound.isoformat())
    return where, params


class SqliteFtsBackend:
    """SQLite FTS5 index in one file; safe for several writer processes (WAL, busy timeout).

    ``stemming=False`` makes a plain ``unicode61`` index (words matched as written), kept for
    comparison in the benchmark."""

    name = "sqlite"

    def __init__(self, path: Path, stemming: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.stemming = stemming
        self.forms = WordForms(stemming=stemming)
        self._db = apsw.Connection(str(path))
        self._db.set_busy_timeout(BUSY_TIMEOUT_MS)
        register(self._db, self.forms)
        self._db.execute("PRAGMA journal_mode=WAL").fetchall()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._create_or_check()

    @property
    def settings_label(self) -> str:
        return f"{FORMAT} stemming={'on' if self.stemming else 'off'}"

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction that takes the write lock up front: a deferred one that reads
        first would fail at once, busy timeout or not, if another writer committed since."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _format(self) -> str | None:
        tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        if "documents" in tables and "meta" not in tables:
            raise IndexFormatError(
                f"the search index {self.path} was made by an earlier version of"
                " osint-archive; run `osint-archive reindex` to rebuild it from the archive"
            )
        if "meta" not in tables:
            return None
        found = self._db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        return str(found[0]) if found is not None else None

    def _create_or_check(self) -> None:
        """Check the index's format; create the tables first if it is new (under the write
        lock, so two processes opening a new index at once create it once)."""
        found = self._format()
        if found is None:
            with self._writing():
                found = self._format()
                if found is None:
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._create_fts()
                    found = self.settings_label
        if found != self.settings_label:
            raise IndexFormatError(
                f"the search index {self.path} is {found!r}, not {self.settings_label!r};"
                " run `osint-archive reindex` to rebuild it"
            )

    def _create_fts(self) -> None:
        tokenizer = TOKENIZER_NAME if self.stemming else "unicode61 remove_diacritics 2"
        self._db.execute(
            "CREATE VIRTUAL TABLE documents_fts USING fts5("
            f"title, text, tokenize = '{tokenizer}', locale = 1)"
        )
        self._db.execute(
            "INSERT INTO documents_fts(documents_fts, rank) VALUES ('rank', ?)",
            (f"bm25({TITLE_WEIGHT}, 1.0)",),
        )
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('format', ?)", (self.settings_label,)
        )

    def index_documents(self, documents: Sequence[Document]) -> None:
        with self._writing():
            for doc in documents:
                found = self._db.execute(
                    "SELECT rowid FROM documents WHERE id = ?", (doc.id,)
                ).fetchone()
                if found is not None:
                    self._db.execute("DELETE FROM documents_fts WHERE rowid = ?", found)
                    self._db.execute("DELETE FROM documents WHERE rowid = ?", found)
                self._db.execute(
                    "INSERT INTO documents (id, kind, source, url, capture_id, lang, captured_at,"
                    ' published_at, tags, media_sha256, start, "end")'
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        doc.id,
                        doc.kind,
                        doc.source,
                        doc.url,
                        doc.capture_id,
                        doc.lang,
                        doc.captured_at.isoformat(),
                        doc.published_at.isoformat() if doc.published_at else None,
                        " ".join(doc.tags),
                        doc.media_sha256,
                        doc.start,
                        doc.end,
                    ),
                )
                self._db.execute(
                    "INSERT INTO documents_fts (rowid, title, text) VALUES"
                    " (last_insert_rowid(), fts5_locale(?1, ?2), fts5_locale(?1, ?3))",
                    (doc.lang, without_sentinels(doc.title), without_sentinels(doc.text)),
                )

    def search(self, request: SearchRequest) -> list[Hit]:
        where, params = _filter_sql(request.filters)
        # Only fixed column names and operators are joined into the SQL; every value,
        # the query included, is a bound parameter.
        sql = (
            "SELECT d.id, d.kind, d.source, d.url, d.capture_id, d.lang, d.captured_at,"  # noqa: S608
            " documents_fts.title, snippet(documents_fts, 1, ?, ?, ' … ', ?),"
            ' documents_fts.rank, d.published_at, d.tags, d.media_sha256, d.start, d."end"'
            " FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid"
            " WHERE documents_fts MATCH fts5_locale(?, ?)"
            + "".join(f" AND {condition}" for condition in where)
            + f" ORDER BY {SORT_SQL[request.sort]} LIMIT ? OFFSET ?"
        )
        bound = [
            OPEN_SENTINEL,
            CLOSE_SENTINEL,
            SNIPPET_TOKENS,
            request.filters.lang,
            fts_expression(request.query.root),
            *params,
            request.limit,
            request.offset,
        ]
        return [_hit(row) for row in self._db.execute(sql, bound)]

    def facets(
        self, request: SearchRequest, size: int = FACET_SIZE, max_matches: int | None = None
    ) -> Facets:
        check_facet_size(size)
        if max_matches is not None and max_matches < 1:
            raise ValueError("max_matches must be at least 1")
        where, params = _filter_sql(request.filters)
        # One pass over the matches, no ranking; values are bound as in ``search``. Capture
        # times are stored as UTC ISO strings (collectors stamp them in UTC, and the date
        # filters compare them as text), so the first seven characters are the UTC month.
        sql = (
            "SELECT d.kind, d.source, d.lang, d.tags, substr(d.captured_at, 1, 7)"  # noqa: S608
            " FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid"
            " WHERE documents_fts MATCH fts5_locale(?, ?)"
            + "".join(f" AND {condition}" for condition in where)
        )
        bound: list[object] = [request.filters.lang, fts_expression(request.query.root), *params]
        if max_matches is not None:
            sql += " LIMIT ?"  # one more than counted tells that more exist
            bound.append(max_matches + 1)
        cursor = self._db.execute(sql, bound)
        counts: dict[str, Counter[str]] = {column: Counter() for column in FACET_COLUMNS}
        total = 0
        complete = True
        while rows := list(islice(cursor, FACET_BATCH)):
            if max_matches is not None and total + len(rows) > max_matches:
                rows = rows[: max_matches - total]
                complete = False
            total += len(rows)
            for position, column in enumerate(FACET_COLUMNS):
                counts[column].update(map(itemgetter(position), rows))
            if not complete:
                break
        tags: Counter[str] = Counter()
        for joined, count in counts["tags"].items():
            for tag in set(joined.split()):  # a tag listed twice is one document, as on ES
                tags[tag] += count
        return Facets(
            total=total,
            kind=top_counts(counts["kind"], size),
            source=top_counts(counts["source"], size),
            lang=top_counts(counts["lang"], size),
            tag=top_counts(tags, size),
            captured_months=top_counts(counts["month"], size),
            complete=complete,
        )

    def stored_documents(self) -> list[tuple[AnyValue, ...]]:
        """Every indexed document's fields and stored text, in id order (for checks: two
        indexes of one archive hold the same rows)."""
        return list(
            self._db.execute(
                "SELECT d.id, d.kind, d.source, d.url, d.capture_id, d.lang, d.captured_at,"
                ' d.published_at, d.tags, d.media_sha256, d.start, d."end", f.title, f.text'
                " FROM documents d JOIN documents_fts f ON f.rowid = d.rowid ORDER BY d.id"
            )
        )

    def count(self) -> int:
        rows: list[AnyValue] = self._db.execute("SELECT count(*) FROM documents").fetchall()
        return int(rows[0][0])

    def close(self) -> None:
        self._db.close()


def _hit(row: tuple[AnyValue, ...]) -> Hit:
    (id_, kind, source, url, capture_id, lang, captured_at, title, snippet, rank) = row[:10]
    published_at, tags, media_sha256, start, end = row[10:]
    return Hit(
        id=str(id_),
        kind=str(kind),
        source=str(source),
        url=str(url),
        capture_id=str(capture_id),
        lang=str(lang),
        captured_at=str(captured_at),
        title=str(title),
        snippet=sentinel_snippet_to_html(str(snippet)),
        score=-float(rank),
        published_at=str(published_at) if published_at is not None else None,
        tags=tuple(str(tags).split()),
        media_sha256=str(media_sha256) if media_sha256 is not None else None,
        start=float(start) if start is not None else None,
        end=float(end) if end is not None else None,
    )
