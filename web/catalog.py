"""The capture catalogue: which manifest holds a capture, and which captures share a URL.

Manifests are filed by source and run day, so a capture id alone does not name its key. The
catalogue is derived from the archive (like the search index) and kept in SQLite beside the
accounts; it is brought up to date from the store's listing, reading only new manifests.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archive.manifest import iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from web.shared_database import open_shared_database

log = logging.getLogger(__name__)
SCHEMA = """
CREATE TABLE IF NOT EXISTS captures (
    capture_id TEXT PRIMARY KEY,
    manifest_key TEXT UNIQUE NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    requested_url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    status INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS captures_by_url ON captures(requested_url, captured_at);
CREATE INDEX IF NOT EXISTS captures_by_final_url ON captures(final_url);
CREATE TABLE IF NOT EXISTS access_log (
    capture_id TEXT NOT NULL,
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX IF NOT EXISTS access_log_by_capture ON access_log(capture_id, seq);
"""


@dataclass(frozen=True)
class CatalogEntry:
    capture_id: str
    manifest_key: str
    source: str
    kind: str
    requested_url: str
    final_url: str
    captured_at: str
    status: int


@dataclass(frozen=True)
class AccessRow:
    chain: str
    seq: int
    type: str
    at: str
    user: str
    role: str


class CaptureCatalog:
    """Capture id → manifest key, and the captures of each URL in time order."""

    def __init__(self, path: Path, store: ObjectStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._refreshing = threading.Lock()
        self._db = open_shared_database(path, SCHEMA)
        self._known: set[str] | None = None
        self.last_refresh = 0.0

    def refresh(self) -> int:
        """Add the manifests stored since the last refresh; returns how many were added.
        One refresh runs at a time; a caller arriving meanwhile waits for it."""
        with self._refreshing:
            if self._known is None:
                with self._lock:
                    rows = self._db.execute("SELECT manifest_key FROM captures").fetchall()
                self._known = {row[0] for row in rows}
            added: list[tuple[object, ...]] = []
            for key in iter_manifest_keys(self.store):
                if key in self._known:
                    continue
                try:
                    manifest = read_manifest(self.store, key)
                except ValueError as err:  # a damaged manifest is the audit's finding
                    log.warning("catalogue: cannot read %s: %s", key, err)
                    continue
                added.append(
                    (
                        manifest.capture_id,
                        key,
                        manifest.source_id,
                        manifest.kind,
                        manifest.requested_url,
                        manifest.final_url,
                        manifest.captured_at.isoformat(),
                        manifest.status,
                    )
                )
                self._known.add(key)
                if len(added) >= 1000:
                    self._insert(added)
                    added = []
            self._insert(added)
            self.last_refresh = time.monotonic()
            return len(added)

    def _insert(self, rows: list[tuple[object, ...]]) -> None:
        if not rows:
            return
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR IGNORE INTO captures VALUES (?,?,?,?,?,?,?,?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def get(self, capture_id: str) -> CatalogEntry | None:
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM captures WHERE capture_id = ?", (capture_id,)
            ).fetchone()
        return CatalogEntry(*row) if row is not None else None

    def versions(self, requested_url: str, limit: int = 200) -> list[CatalogEntry]:
        """Captures of one URL (as requested), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM captures WHERE requested_url = ? ORDER BY captured_at LIMIT ?",
                (requested_url, limit),
            ).fetchall()
        return [CatalogEntry(*row) for row in rows]

    def nearest(self, url: str, moment: str) -> CatalogEntry | None:
        """The capture of ``url`` (requested or final) closest in time to ``moment``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM captures WHERE requested_url = ? OR final_url = ?"
                " ORDER BY abs(julianday(captured_at) - julianday(?)) LIMIT 1",
                (url, url, moment),
            ).fetchall()
        return CatalogEntry(*rows[0]) if rows else None

    def note_access(self, capture_id: str, event: dict[str, Any]) -> None:
        """Remember a stored access event for the capture page (the chain holds the record)."""
        details = event.get("details", {})
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO access_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    capture_id,
                    event["chain"],
                    event["seq"],
                    event["type"],
                    event["at"],
                    details.get("user", ""),
                    details.get("role", ""),
                ),
            )

    def access_events(self, capture_id: str, limit: int = 50) -> list[AccessRow]:
        """The latest recorded views and downloads of a capture, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chain, seq, type, at, username, role FROM access_log"
                " WHERE capture_id = ? ORDER BY seq DESC LIMIT ?",
                (capture_id, limit),
            ).fetchall()
        return [AccessRow(*row) for row in rows]

    def close(self) -> None:
        self._db.close()
