"""Login rate limiting: after too many attempts that failed for one account or from one
address within a window, further attempts are refused until the window has passed.

An attempt is counted *before* its password is hashed, in one transaction that first checks
the count, so concurrent attempts cannot all slip under the limit (twenty wrong passwords
sent at once used to get twenty answers); a successful attempt takes its count back. Kept in
SQLite beside the accounts, so every server process (``serve --workers``) sees the same
counts."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_attempts (
    key TEXT NOT NULL, at REAL NOT NULL, attempt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_attempts_by_key ON login_attempts(key, at);
DROP TABLE IF EXISTS login_failures;
"""


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt counted against its keys until it succeeds."""

    id: str
    keys: tuple[str, ...]


class LoginThrottle:
    """Counts login attempts per key (``user:NAME``, ``addr:IP``) in a sliding window."""

    def __init__(
        self,
        path: Path,
        attempts: int,
        window_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(SCHEMA)

    def _wait(self, key: str, now: float) -> float:
        recent = self._db.execute(
            "SELECT at FROM login_attempts WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (key, now - self.window, self.attempts),
        ).fetchall()
        if len(recent) < self.attempts:
            return 0.0
        # The oldest of the last `attempts` leaves the window first.
        return float(recent[-1][0]) + self.window - now

    def retry_after(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again; 0 when all may try now."""
        now = self._clock()
        with self._lock:
            return max((self._wait(key, now) for key in keys), default=0.0)

    def begin(self, *keys: str) -> LoginAttempt | None:
        """Count an attempt against every key, or None when any key is at its limit."""
        now = self._clock()
        attempt = LoginAttempt(uuid.uuid4().hex, keys)
        with self._lock:
            # IMMEDIATE: the check and the count are one step for every server process.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM login_attempts WHERE at <= ?", (now - self.window,))
                if any(self._wait(key, now) > 0 for key in keys):
                    self._db.execute("COMMIT")
                    return None
                self._db.executemany(
                    "INSERT INTO login_attempts VALUES (?, ?, ?)",
                    [(key, now, attempt.id) for key in keys],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return attempt

    def succeeded(self, attempt: LoginAttempt, *cleared: str) -> None:
        """The attempt was right: it no longer counts, nor do earlier failures of
        ``cleared`` (the account's; an address keeps its other failures)."""
        with self._lock:
            self._db.execute("DELETE FROM login_attempts WHERE attempt = ?", (attempt.id,))
            self._db.executemany(
                "DELETE FROM login_attempts WHERE key = ?", [(key,) for key in cleared]
            )

    def close(self) -> None:
        self._db.close()
