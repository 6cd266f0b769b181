"""Which evidence each session has already been recorded as receiving.

The unit of custody is who received which object, in which session. Every response that
carries an object's bytes (whole, any range, a WARC record) is covered by a custody event,
but a video being played asks for dozens of ranges: the first response of a session for an
object records it (with the range asked for), and later ranges of the same object in the same
session are the same receipt. Why not one event per range: the access chain would grow by
dozens of events a minute per viewer and say nothing more (the same user, object and session);
why not one per user and object: a later session of the same user, perhaps from another
address, must appear in the record on its own.

Kept in SQLite beside the accounts, so every server process agrees; an event is written
before its receipt is noted here, so a crash in between can only add an event, never lose one.
"""

from __future__ import annotations

import threading
from pathlib import Path

from web.shared_database import open_shared_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS session_accesses (
    session_id TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    PRIMARY KEY (session_id, action, subject)
);
"""


class SessionAccesses:
    """(session, action, object) receipts that already have a custody event."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_shared_database(path, SCHEMA)

    def recorded(self, session_id: str, action: str, subject: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM session_accesses WHERE session_id = ? AND action = ?"
                " AND subject = ?",
                (session_id, action, subject),
            ).fetchone()
        return row is not None

    def note(self, session_id: str, action: str, subject: str) -> None:
        """Remember that the receipt's custody event is stored."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO session_accesses VALUES (?, ?, ?)",
                (session_id, action, subject),
            )

    def forget_ended_sessions(self) -> None:
        """Drop the receipts of sessions that no longer exist (the sessions table lives in the
        same database): their custody events stay in the chain."""
        with self._lock:
            self._db.execute(
                "DELETE FROM session_accesses WHERE session_id NOT IN"
                " (SELECT token_sha256 FROM sessions)"
            )

    def close(self) -> None:
        self._db.close()
