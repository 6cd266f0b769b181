"""Login rate limiting: after too many failures for one account or from one address within
a window, further attempts are refused until the window has passed.

Failures are kept in SQLite beside the accounts, so every server process (``serve
--workers``) sees the same counts."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_by_key ON login_failures(key, at);
"""


class LoginThrottle:
    """Counts failed logins per key (``user:NAME``, ``addr:IP``) in a sliding window."""

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

    def retry_after(self, *keys: str) -> float:
        """Seconds until any of ``keys`` may try again; 0 when all may try now."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                recent = self._db.execute(
                    "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC"
                    " LIMIT ?",
                    (key, now - self.window, self.attempts),
                ).fetchall()
                if len(recent) >= self.attempts:
                    # The oldest of the last `attempts` failures leaves the window first.
                    wait = max(wait, recent[-1][0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE at <= ?", (now - self.window,))
            self._db.executemany(
                "INSERT INTO login_failures VALUES (?, ?)", [(key, now) for key in keys]
            )

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM login_failures WHERE key = ?", [(k,) for k in keys])

    def close(self) -> None:
        self._db.close()
