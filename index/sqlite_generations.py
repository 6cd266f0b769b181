"""Generations of the embedded index: ``reindex`` fills a new file beside the live one and
then points ``CURRENT`` at it in one rename, so searches never meet a half-built index.

The index directory holds ``CURRENT`` (the live file's name) and that file with its WAL.
Before the first rebuild there is no ``CURRENT`` and the live file is ``search.sqlite``.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from index.sqlite_fts import SqliteFtsBackend

POINTER = "CURRENT"
FIRST_GENERATION = "search.sqlite"
SIDE_FILES = ("", "-wal", "-shm", "-journal")


def live_index_path(directory: Path) -> Path:
    pointer = directory / POINTER
    if pointer.exists():
        return directory / pointer.read_text(encoding="utf-8").strip()
    return directory / FIRST_GENERATION


def _remove_generation(path: Path) -> None:
    for suffix in SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


class SqliteRebuild:
    """A new generation being filled; ``activate`` swaps it in, ``discard`` drops it."""

    def __init__(self, directory: Path, stemming: bool = True) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = directory / f"search-{stamp}.sqlite"
        self.index = SqliteFtsBackend(self.path, stemming=stemming)

    def activate(self) -> None:
        previous = live_index_path(self.directory)
        self.index.close()
        pointer = self.directory / POINTER
        staged = self.directory / f"{POINTER}.tmp"
        with staged.open("w", encoding="utf-8") as out:
            out.write(self.path.name + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, pointer)
        directory_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)
        if previous != self.path:
            # Open readers keep their file handles; the next open finds the new generation.
            _remove_generation(previous)

    def discard(self) -> None:
        self.index.close()
        _remove_generation(self.path)
