"""The embedded search backend: one SQLite file with an FTS5 full-text table, WAL mode.

Queries are reduced to literal terms (quoted for FTS5), so operators or SQL typed by a user
are searched as words and never interpreted.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from index.backend import Hit, SearchFilters
from index.documents import Document

SCHEMA = """
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
CREATE INDEX IF NOT EXISTS documents_source ON documents(source, captured_at);
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    title, text, tokenize = 'unicode61 remove_diacritics 2'
);
"""
MEDIA_COLUMNS = (("media_sha256", "TEXT"), ("start", "REAL"), ("end", "REAL"))
_TERM = re.compile(r"\w+\*?", re.UNICODE)
MAX_TERMS = 32


def fts_query(text: str) -> str | None:
    """A literal FTS5 query: every word must occur; a trailing ``*`` keeps prefix search."""
    terms = []
    for match in _TERM.findall(text)[:MAX_TERMS]:
        word, star = (match[:-1], "*") if match.endswith("*") else (match, "")
        if word:
            terms.append(f'"{word}"{star}')
    return " AND ".join(terms) if terms else None


class SqliteFtsBackend:
    """SQLite FTS5 index in one file; safe for several writer processes (WAL, busy timeout)."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Indexes made before transcripts were indexed lack the media columns."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
        with self._db:
            for column, kind in MEDIA_COLUMNS:
                if column not in have:
                    self._db.execute(f'ALTER TABLE documents ADD COLUMN "{column}" {kind}')

    def index_documents(self, documents: Sequence[Document]) -> None:
        with self._db:
            for doc in documents:
                row = self._db.execute("SELECT rowid FROM documents WHERE id = ?", (doc.id,))
                found = row.fetchone()
                if found is not None:
                    self._db.execute("DELETE FROM documents_fts WHERE rowid = ?", found)
                    self._db.execute("DELETE FROM documents WHERE rowid = ?", found)
                cursor = self._db.execute(
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
                    "INSERT INTO documents_fts (rowid, title, text) VALUES (?, ?, ?)",
                    (cursor.lastrowid, doc.title, doc.text),
                )

    def search(self, query: str, filters: SearchFilters, limit: int = 20) -> list[Hit]:
        match = fts_query(query)
        if match is None:
            return []
        where = ["documents_fts MATCH ?"]
        params: list[object] = [match]
        for column, value in (
            ("d.kind", filters.kind),
            ("d.source", filters.source),
            ("d.lang", filters.lang),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if filters.since:
            where.append("d.captured_at >= ?")
            params.append(filters.since.isoformat())
        if filters.until:
            where.append("d.captured_at <= ?")
            params.append(filters.until.isoformat())
        params.append(max(1, min(limit, 1000)))
        # Only fixed column names are joined into the SQL; every value is a bound parameter.
        sql = (
            "SELECT d.id, d.kind, d.source, d.url, d.capture_id, d.lang, d.captured_at,"  # noqa: S608
            " documents_fts.title,"
            " snippet(documents_fts, 1, '[', ']', ' … ', 16), bm25(documents_fts),"
            ' d.media_sha256, d.start, d."end"'
            " FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid"
            f" WHERE {' AND '.join(where)} ORDER BY bm25(documents_fts) LIMIT ?"
        )
        return [
            Hit(
                id=r[0],
                kind=r[1],
                source=r[2],
                url=r[3],
                capture_id=r[4],
                lang=r[5],
                captured_at=r[6],
                title=r[7],
                snippet=r[8],
                score=-float(r[9]),
                media_sha256=r[10],
                start=r[11],
                end=r[12],
            )
            for r in self._db.execute(sql, params)
        ]

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def close(self) -> None:
        self._db.close()
