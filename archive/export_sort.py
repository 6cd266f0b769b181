"""Sorting more text lines than memory should hold: sorted runs spilled to temporary files,
then merged.

The package's CDXJ index has a line per record, so its lines grow with the captures. Lines
are buffered up to a small budget, each full buffer is sorted and written out as a run, and
the runs are merged lazily; when too many runs pile up they are merged into one first, so
neither memory nor the number of open files grows with the input. Repeated lines are written
once, as cdxj-indexer's own sorter does.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack

# Characters buffered before a run is spilled: about 2 MiB of strings in memory.
BUFFER_CHARS = 1 << 20
# Runs merged at once: a file handle and a read buffer each.
MERGE_FAN_IN = 32


def _unique(lines: Iterable[str]) -> Iterator[str]:
    previous = None
    for line in lines:
        if line != previous:
            yield line
        previous = line


class ExternalLineSort:
    """Collects lines (each ending in a newline) and hands them back sorted, without repeats."""

    def __init__(self, buffer_chars: int | None = None, fan_in: int | None = None) -> None:
        self._buffer: list[str] = []
        self._chars = 0
        # The budgets are read when a sort starts, not when this module loads, so a test can
        # shrink them and exercise spilling and merging at a small size.
        self._buffer_chars = BUFFER_CHARS if buffer_chars is None else buffer_chars
        self._fan_in = MERGE_FAN_IN if fan_in is None else fan_in
        self._runs: list[str] = []  # paths of sorted run files

    def write(self, line: str) -> None:
        """Add one line (the name ``write`` lets an indexer use this as its output)."""
        self._buffer.append(line)
        self._chars += len(line)
        if self._chars >= self._buffer_chars:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort()
        self._runs.append(self._write_run(_unique(self._buffer)))
        self._buffer, self._chars = [], 0
        if len(self._runs) >= self._fan_in:
            merged = self._write_run(self._merge(self._runs))
            self._runs = [merged]

    @staticmethod
    def _write_run(lines: Iterable[str]) -> str:
        handle, path = tempfile.mkstemp(prefix="osint-export-sort-", suffix=".txt")
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as run:
            run.writelines(lines)
        return path

    @staticmethod
    def _merge(paths: list[str]) -> Iterator[str]:
        """Merge and remove the run files (removed once the merge is consumed)."""
        try:
            with ExitStack() as stack:
                runs = [
                    stack.enter_context(open(path, encoding="utf-8", newline="")) for path in paths
                ]
                yield from _unique(heapq.merge(*runs))
        finally:
            for path in paths:
                os.unlink(path)

    def sorted_lines(self) -> Iterator[str]:
        """Every line written so far, sorted, each once; the sorter is empty afterwards."""
        if not self._runs:
            self._buffer.sort()
            lines, self._buffer, self._chars = self._buffer, [], 0
            yield from _unique(lines)
            return
        if self._buffer:
            self._spill()
        runs, self._runs = self._runs, []
        yield from self._merge(runs)

    def discard(self) -> None:
        """Remove the spilled runs of a sort that will not be read (an export that failed)."""
        for path in self._runs:
            os.unlink(path)
        self._runs, self._buffer, self._chars = [], [], 0
