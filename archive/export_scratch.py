"""Working storage an export keeps on disk, so its memory does not grow with the selection.

An export must remember a few things per capture: which ids and keys its custody events may
mention, which objects and texts it has already copied, how each capture is bound into its
chain. Held as Python strings in sets and dicts these cost a few hundred bytes per capture,
gigabytes at a programme's scale; a private temporary SQLite database (deleted when closed)
holds them with a bounded page cache instead. Per-capture digests, needed in selection order,
are packed 32 bytes each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from types import TracebackType


class ScratchTable:
    """A set of strings, each with an optional string value, kept in the scratch database."""

    def __init__(self, db: sqlite3.Connection, number: int) -> None:
        self._db = db
        self._number = number  # every table is a slice of one SQLite table

    def add(self, key: str, value: str = "") -> bool:
        """Store ``key`` unless present (the first value stays); True when it was new."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO scratch (tab, key, value) VALUES (?, ?, ?)",
            (self._number, key, value),
        )
        return cursor.rowcount == 1

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        query = "SELECT 1 FROM scratch WHERE tab = ? AND key = ?"
        return self._db.execute(query, (self._number, key)).fetchone() is not None

    def get(self, key: str) -> str | None:
        query = "SELECT value FROM scratch WHERE tab = ? AND key = ?"
        row = self._db.execute(query, (self._number, key)).fetchone()
        return None if row is None else str(row[0])

    def items(self) -> Iterator[tuple[str, str]]:
        """Every key and value in key order: SQLite's binary order of UTF-8 is code-point
        order, the order ``sorted`` gives."""
        # A cursor of its own: the caller may add to other tables while this one is read.
        query = "SELECT key, value FROM scratch WHERE tab = ? ORDER BY key"
        for key, value in self._db.execute(query, (self._number,)):
            yield str(key), str(value)


class ExportScratch:
    """The scratch database of one export; a context manager that deletes it on exit."""

    def __init__(self) -> None:
        # An empty name is SQLite's private temporary database: on disk, gone when closed.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE scratch (tab INTEGER, key TEXT, value TEXT, PRIMARY KEY (tab, key))"
            " WITHOUT ROWID"
        )
        self._tables = 0

    def table(self) -> ScratchTable:
        """A new, empty table."""
        self._tables += 1
        return ScratchTable(self._db, self._tables)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ExportScratch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class DigestColumn:
    """SHA-256 digests by position (the selection's order), 32 bytes each."""

    def __init__(self) -> None:
        self._packed = bytearray()

    def append(self, sha256_hex: str) -> None:
        self._packed += bytes.fromhex(sha256_hex)

    def __getitem__(self, index: int) -> str:
        return self._packed[index * 32 : (index + 1) * 32].hex()

    def __len__(self) -> int:
        return len(self._packed) // 32
