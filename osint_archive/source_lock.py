"""One pass at a time per source: an exclusive lock file under the data directory.

Two processes on the same source would resume the same run id and collide on its capture
ids; the second one is refused instead. The lock is per machine; on a cluster, Airflow's
``max_active_runs=1`` per source DAG plays this part.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SourceBusyError(Exception):
    """Another process is running this source right now."""


@contextmanager
def source_lock(home: Path, source_id: str) -> Iterator[None]:
    """Hold the source's lock for the duration; raise ``SourceBusyError`` if it is taken."""
    directory = home / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{source_id}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SourceBusyError(
                f"source {source_id!r} is being run by another process (lock {directory})"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock, also after kill -9
