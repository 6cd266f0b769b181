"""The SQLite files every server process shares (accounts, catalogue, receipts, throttle,
capture jobs): one way to open them."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_shared_database(path: Path, schema: str) -> sqlite3.Connection:
    """A connection for one process's threads (callers hold their own lock), in autocommit
    mode, with write-ahead logging so readers never wait for a writer and a writer waits up
    to ten seconds for another process; ``schema`` is applied (idempotent DDL)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA busy_timeout=10000")
    db.executescript(schema)
    return db
