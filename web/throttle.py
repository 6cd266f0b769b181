"""Login rate limiting: after too many attempts that failed within a window, further attempts
are refused until the window has passed. Each key has its own limit: an account from one
address (tight), one address for any account, and one account from anywhere (loose), so that
someone guessing from elsewhere cannot lock its owner out, nor one noisy address everyone.

An attempt is counted *before* its password is hashed, in one transaction that first checks
the counts, so concurrent attempts cannot all slip under a limit (twenty wrong passwords sent
at once used to get twenty answers); a successful attempt takes its count back. Kept in
SQLite beside the accounts, so every server process (``serve --workers``) sees the same
counts."""

from __future__ import annotations

import ipaddress
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from web.shared_database import open_shared_database

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
        self._db = open_shared_database(path, SCHEMA)

    def _wait(self, key: str, limit: int, now: float) -> float:
        recent = self._db.execute(
            "SELECT at FROM login_attempts WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
            (key, now - self.window, limit),
        ).fetchall()
        if len(recent) < limit:
            return 0.0
        # The oldest of the last `limit` leaves the window first.
        return max(float(recent[-1][0]) + self.window - now, 0.001)

    def retry_after(self, limits: Mapping[str, int]) -> float:
        """Seconds until every key of ``limits`` (key -> attempts allowed in the window) may
        try again; 0 when all may try now."""
        now = self._clock()
        with self._lock:
            return max((self._wait(k, n, now) for k, n in limits.items()), default=0.0)

    def begin(self, limits: Mapping[str, int]) -> LoginAttempt | None:
        """Count an attempt against every key, or None when any key is at its limit."""
        now = self._clock()
        attempt = LoginAttempt(uuid.uuid4().hex, tuple(limits))
        with self._lock:
            # IMMEDIATE: the check and the count are one step for every server process.
            self._db.execute("BEGIN IMMEDIATE")  # a failure here has nothing to roll back
            try:
                self._db.execute("DELETE FROM login_attempts WHERE at <= ?", (now - self.window,))
                if any(self._wait(k, n, now) > 0 for k, n in limits.items()):
                    self._db.execute("COMMIT")
                    return None
                self._db.executemany(
                    "INSERT INTO login_attempts VALUES (?, ?, ?)",
                    [(key, now, attempt.id) for key in limits],
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


def address_group(address: str) -> str:
    """The unit an address is counted in: an IPv4 address, or an IPv6 /64 (one subscriber's
    network: its holder can use every address in it)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def login_limits(username: str, address: str, attempts: int) -> dict[str, int]:
    """The keys one login attempt counts against, with their limits for ``attempts``
    (the configured per-account-and-address limit)."""
    group = address_group(address)
    return {
        f"pair:{username}|{group}": attempts,
        f"addr:{group}": attempts * 4,  # one address guessing many accounts
        f"user:{username}": attempts * 10,  # one account guessed from many addresses
    }
