"""The audit's per-capture lookups, kept in a temporary SQLite database instead of memory.

What custody events and manifests say is stored (which captures are listed with which
manifest hashes, who refers to each payload, where each capture's WARC record lies, which
tokens and transcript records custody lists) grows with the archive: about 1 KB per capture
held as Python objects, 1.7 GB at 1.5 million captures. Here it lives in one database file in
a temporary directory, written in batches and read by indexed key, so the audit's memory stays
flat in the number of captures; the directory is removed when the lookup is closed.

Only the thread that opened the lookup may use it: the audit's passes record and query from
the loop that consumes their pool's results, never from the workers.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from archive.audit_records import ExpectedRecord, Listed
from archive.audit_warc import Revisit

__all__ = ["AuditLookup"]

# Rows buffered per table before one executemany: large enough that inserts cost little,
# small enough to stay a few hundred KiB whatever the archive's size.
BATCH_ROWS = 2000
# SQLite's page cache, in KiB (a negative cache_size): the lookup's whole memory budget.
CACHE_KIB = 2048

_SCHEMA = """
CREATE TABLE listed (capture_id TEXT, manifest_sha256 TEXT, chain TEXT, seq INTEGER,
                     warc_key TEXT);
CREATE INDEX listed_by_capture ON listed (capture_id);
CREATE TABLE manifests (capture_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE refs (key TEXT PRIMARY KEY, first TEXT, count INTEGER) WITHOUT ROWID;
CREATE TABLE warcs (key TEXT PRIMARY KEY, run_day TEXT) WITHOUT ROWID;
CREATE TABLE expected (warc_key TEXT, record_id TEXT, offset INTEGER, length INTEGER,
                       manifest_key TEXT, capture_id TEXT);
CREATE INDEX expected_by_warc ON expected (warc_key);
CREATE TABLE tokens (key TEXT PRIMARY KEY, chain TEXT) WITHOUT ROWID;
CREATE TABLE transcripts (key TEXT PRIMARY KEY, sha256 TEXT, event TEXT,
                          stored INTEGER DEFAULT 0) WITHOUT ROWID;
CREATE TABLE payload_digests (record_id TEXT PRIMARY KEY, digest TEXT) WITHOUT ROWID;
CREATE TABLE pending_revisits (warc_key TEXT, record_id TEXT, refers_to TEXT,
                               payload_digest TEXT, offset INTEGER);
"""

# Each buffered write, by table. First writer wins where the in-memory index used
# ``setdefault``; a payload's referrer is the least one named (reports stay reproducible
# although records are read in parallel).
_WRITES = {
    "listed": "INSERT INTO listed VALUES (?, ?, ?, ?, ?)",
    "manifests": "INSERT OR IGNORE INTO manifests VALUES (?)",
    "refs": "INSERT INTO refs VALUES (?, ?, 1) ON CONFLICT (key) DO UPDATE SET "
    "first = min(first, excluded.first), count = count + 1",
    "warcs": "INSERT INTO warcs VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET "
    "run_day = coalesce(run_day, excluded.run_day)",
    "expected": "INSERT INTO expected VALUES (?, ?, ?, ?, ?, ?)",
    "tokens": "INSERT OR REPLACE INTO tokens VALUES (?, ?)",
    "transcripts": "INSERT OR REPLACE INTO transcripts (key, sha256, event) VALUES (?, ?, ?)",
    "payload_digests": "INSERT OR REPLACE INTO payload_digests VALUES (?, ?)",
    "pending_revisits": "INSERT INTO pending_revisits VALUES (?, ?, ?, ?, ?)",
}


class AuditLookup:
    """What custody and manifests say is stored, on disk, for the later passes to check.

    Use it as a context manager: leaving it closes the database and removes its directory.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="osint-audit-", dir=directory)
        self._db = sqlite3.connect(Path(self._tmp.name) / "lookup.sqlite3", isolation_level=None)
        # A scratch file rebuilt by every audit: durability would only cost time, so there
        # is no journal and one transaction, never committed (the file is deleted anyway).
        # Pages beyond the cache spill to the file: memory stays at the cache's size.
        self._db.executescript(
            f"PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; "
            f"PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = FILE; {_SCHEMA} BEGIN;"
        )
        self._pending: dict[str, list[tuple[Any, ...]]] = {table: [] for table in _WRITES}
        self.events = 0  # custody events read

    def __enter__(self) -> AuditLookup:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database and remove its directory."""
        self._db.close()
        self._tmp.cleanup()

    # -- writing (buffered) ------------------------------------------------------------

    def _add(self, table: str, row: tuple[Any, ...]) -> None:
        rows = self._pending[table]
        rows.append(row)
        if len(rows) >= BATCH_ROWS:
            self._flush_table(table)

    def _flush_table(self, table: str) -> None:
        rows = self._pending[table]
        if rows:
            self._db.executemany(_WRITES[table], rows)
            rows.clear()

    def _query(self, sql: str, *params: Any) -> sqlite3.Cursor:
        """Run a read after every buffered write has landed, so reads see all of them."""
        for table in _WRITES:
            self._flush_table(table)
        return self._db.execute(sql, params)

    def add_listed(self, capture_id: str, listed: Listed) -> None:
        """A capture as a custody ``captured`` event listed it."""
        self._add(
            "listed",
            (capture_id, listed.manifest_sha256, listed.chain, listed.seq, listed.warc_key),
        )

    def add_reference(self, key: str, referrer: str) -> None:
        """``referrer`` (a manifest, custody event or record) names the payload ``key``."""
        self._add("refs", (key, referrer))

    def add_warc(self, key: str, run_day: str | None = None) -> None:
        """``key`` is a WARC, filed on ``run_day`` (``YYYY/MM/DD``) when known."""
        self._add("warcs", (key, run_day))

    def add_manifest(self, capture_id: str) -> None:
        """The manifest of ``capture_id`` is stored."""
        self._add("manifests", (capture_id,))

    def add_expected(self, warc_key: str, expected: ExpectedRecord) -> None:
        """A manifest places its capture's record in ``warc_key``."""
        self._add(
            "expected",
            (
                warc_key,
                expected.record_id,
                expected.offset,
                expected.length,
                expected.manifest_key,
                expected.capture_id,
            ),
        )

    def add_tokens(self, token_keys: Iterable[str], chain: str) -> None:
        """Custody ``chain`` recorded these timestamp tokens."""
        for token_key in token_keys:
            self._add("tokens", (token_key, chain))

    def add_transcript(self, key: str, sha256: str, event: str) -> None:
        """Custody ``event`` recorded the transcript record ``key`` with these bytes' hash."""
        self._add("transcripts", (key, sha256, event))

    def add_payload_digests(self, digests: dict[str, str]) -> None:
        """Payload digests of response/resource records (record id -> digest) of a WARC."""
        for row in digests.items():
            self._add("payload_digests", row)

    def add_pending_revisit(self, warc_key: str, revisit: Revisit) -> None:
        """A revisit in ``warc_key`` whose original record is not read yet."""
        row = (revisit.record_id, revisit.refers_to, revisit.payload_digest, revisit.offset)
        self._add("pending_revisits", (warc_key, *row))

    # -- reading -------------------------------------------------------------------------

    def listings(self, capture_id: str) -> list[Listed]:
        """The custody listings of ``capture_id``, in the order they were recorded."""
        rows = self._query(
            "SELECT manifest_sha256, chain, seq, warc_key FROM listed "
            "WHERE capture_id = ? ORDER BY rowid",
            capture_id,
        )
        return [Listed(*row) for row in rows]

    def listed_without_manifest(self) -> Iterator[tuple[str, Listed]]:
        """(capture id, its first listing) for each listed capture whose manifest is not
        stored."""
        rows = self._query(
            "SELECT capture_id, manifest_sha256, chain, seq, warc_key FROM listed AS l "
            "WHERE rowid = (SELECT min(rowid) FROM listed WHERE capture_id = l.capture_id) "
            "AND capture_id NOT IN manifests ORDER BY rowid"
        )
        for capture_id, *listed in _rows(rows):
            yield capture_id, Listed(*listed)

    def run_day(self, warc_key: str) -> str | None:
        """The day a WARC's manifests are filed under, when custody or a manifest says."""
        row = self._query("SELECT run_day FROM warcs WHERE key = ?", warc_key).fetchone()
        return row[0] if row else None

    def is_warc(self, key: str) -> bool:
        """Whether custody or a manifest says the object ``key`` is a WARC."""
        return self._query("SELECT 1 FROM warcs WHERE key = ?", key).fetchone() is not None

    def expected_records(self, warc_key: str) -> Iterator[ExpectedRecord]:
        """Where manifests place their captures' records in ``warc_key``, streamed (one WARC
        may hold the records of very many captures)."""
        rows = self._query(
            "SELECT record_id, offset, length, manifest_key, capture_id FROM expected "
            "WHERE warc_key = ? ORDER BY rowid",
            warc_key,
        )
        return (ExpectedRecord(*row) for row in _rows(rows))

    def capture_of(self, warc_key: str, record_id: str) -> str | None:
        """The capture whose manifest names this record of ``warc_key``."""
        row = self._query(
            "SELECT capture_id FROM expected WHERE warc_key = ? AND record_id = ? "
            "ORDER BY rowid LIMIT 1",
            warc_key,
            record_id,
        ).fetchone()
        return row[0] if row else None

    def reference_found(self, key: str) -> bool:
        """Whether ``key`` is referenced; it leaves the references, so that once every
        stored key was found, those left are the missing ones."""
        return self._query("DELETE FROM refs WHERE key = ?", key).rowcount > 0

    def missing_references(self) -> Iterator[tuple[str, str]]:
        """(payload key, who refers to it) for each reference no stored key answered."""
        for key, first, count in _rows(self._query("SELECT key, first, count FROM refs")):
            others = count - 1
            yield key, first + (f" and {others} other record(s)" if others else "")

    def transcript_stored(self, key: str) -> tuple[str, str] | None:
        """(record SHA-256, custody event) custody lists for the stored transcript record
        ``key``, which is marked stored; None when custody does not list it."""
        row = self._query("SELECT sha256, event FROM transcripts WHERE key = ?", key).fetchone()
        if row is None:
            return None
        self._db.execute("UPDATE transcripts SET stored = 1 WHERE key = ?", (key,))
        return row[0], row[1]

    def transcripts_not_stored(self) -> Iterator[tuple[str, str, str]]:
        """(record key, SHA-256, custody event) of listed transcript records not stored."""
        return _rows(self._query("SELECT key, sha256, event FROM transcripts WHERE stored = 0"))

    def payload_digest(self, record_id: str) -> str | None:
        """The payload digest of a response/resource record read so far."""
        row = self._query(
            "SELECT digest FROM payload_digests WHERE record_id = ?", record_id
        ).fetchone()
        return row[0] if row else None

    def pending_revisits(self) -> Iterator[tuple[str, Revisit]]:
        """(WARC key, revisit) of the revisits left unmatched, in the order they were met."""
        rows = self._query("SELECT * FROM pending_revisits ORDER BY rowid")
        for warc_key, *revisit in _rows(rows):
            yield warc_key, Revisit(*revisit)

    def discard_token(self, token_key: str) -> None:
        """A stored token: it leaves the listed ones, so those left are missing."""
        self._add("tokens", (token_key, None))

    def tokens_not_found(self) -> Iterator[tuple[str, str]]:
        """(token key, chain) of the tokens custody listed that are not stored, by key."""
        return _rows(
            self._query("SELECT key, chain FROM tokens WHERE chain IS NOT NULL ORDER BY key")
        )


def _rows(cursor: sqlite3.Cursor) -> Iterator[Any]:
    """A query's rows in batches: the caller may query again before the last one."""
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield from batch
