"""Local-directory object store: the embedded default under ``OSINT_ARCHIVE_HOME``.

Writes are atomic (temporary file, fsync, then a hard link or rename into place, then a
directory fsync), so a crash leaves either the whole object or nothing. Payloads and records
are made read-only once written and are never replaced.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, cast

from archive.hashing import HashingPayloadWriter, HashingTempFile
from archive.keys import STATE_PREFIX, check_key, is_evidence_key, payload_key
from archive.store import ObjectNotFoundError, StoredObject, existing_record_matches, put_payload

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Limited(io.RawIOBase):
    """A read-only view of the next ``length`` bytes of a stream."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._left)
        if wanted <= 0:
            return 0
        data = self._stream.read(wanted)
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


class LocalStore:
    """Object store in a directory tree that mirrors the archive keys."""

    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.incoming_dir = self.root / ".incoming"
        self.incoming_dir.mkdir(parents=True, exist_ok=True)
        self._remove_abandoned_temp_files()

    def _remove_abandoned_temp_files(self, older_than_seconds: float = 86400) -> None:
        """Drop temporary files a killed writer left behind (never published, not evidence).

        Only old ones: a file younger than a day may belong to a writer still at work.
        """
        cutoff = time.time() - older_than_seconds
        for path in self.incoming_dir.glob(".incoming-*"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def publish(self, temp_path: Path, key: str) -> bool:
        """Move a finished temporary file to ``key`` unless an object is already there."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp_path, READ_ONLY)
        try:
            # link() refuses to replace an existing file, unlike rename(): no overwrite race.
            os.link(temp_path, target)
        except FileExistsError:
            return False
        finally:
            temp_path.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return True

    def payload_writer(
        self, content_type: str = "application/octet-stream"
    ) -> HashingPayloadWriter:
        """A writer that hashes into ``.incoming/`` and links the file to its content key."""
        return HashingPayloadWriter(
            self.incoming_dir, lambda path, key, _sha, _size: self.publish(path, key)
        )

    def adopt_payload(
        self, path: Path, sha256: str, size: int, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Link the file in place (same file system) instead of copying and hashing it again;
        copies, hashing as it goes, when the file lives on another file system."""
        key = payload_key(sha256)
        if self.exists(key):
            return StoredObject(key, sha256, size, created=False)
        with open(path, "rb") as finished:
            os.fsync(finished.fileno())
        temp = self.incoming_dir / f"adopted-{uuid.uuid4().hex}"
        try:
            os.link(path, temp)
        except OSError:
            with open(path, "rb") as stream:
                return put_payload(self, stream, content_type)
        return StoredObject(key, sha256, size, created=self.publish(temp, key))

    def put_record(self, key: str, data: bytes) -> bool:
        if not is_evidence_key(key) or key.startswith("objects/"):
            raise ValueError(f"records live under captures/ or custody/: {key!r}")
        with HashingTempFile(self.incoming_dir) as temp:
            temp.write(data)
            temp.finish()
            if self.publish(temp.path, key):
                return True
        return existing_record_matches(self, key, data)

    def put_state(self, key: str, data: bytes) -> None:
        if not check_key(key).startswith(STATE_PREFIX):
            raise ValueError(f"state lives under {STATE_PREFIX}: {key!r}")
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # State is a cache of derived cursors, not evidence: the rename keeps it whole, and
        # skipping fsync keeps the many small updates of a crawl cheap.
        with HashingTempFile(self.incoming_dir) as temp:
            temp.write(data)
            temp.finish(durable=False)
            os.replace(temp.path, target)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as err:
            raise ObjectNotFoundError(key) from err

    @contextlib.contextmanager
    def open_range(self, key: str, offset: int, length: int) -> Iterator[BinaryIO]:
        if offset < 0 or length < 0:
            raise ValueError(f"invalid range {offset}+{length} of {key}")
        with self.open(key) as stream:
            stream.seek(offset)
            yield cast(BinaryIO, io.BufferedReader(_Limited(stream, length)))

    def read_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as err:
            raise ObjectNotFoundError(key) from err

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError as err:
            raise ObjectNotFoundError(key) from err

    def list_keys(self, prefix: str) -> Iterator[str]:
        directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / directory
        if not start.is_dir():
            return
        yield from _sorted_keys(start, f"{directory}/" if directory else "", prefix)


def _sorted_keys(path: Path, path_key: str, prefix: str) -> Iterator[str]:
    """Keys under ``path`` (whose keys start ``path_key``) that start with ``prefix``, in
    lexical order, one directory's names in memory at a time: never a list of every key.

    A directory sorts as its name plus "/", which is where its keys fall among its siblings.
    Hidden names and links to directories are skipped, as ``os.walk`` did.
    """
    names = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if not entry.is_symlink():
                    names.append(f"{entry.name}/")
            else:
                names.append(entry.name)
    names.sort()
    for name in names:
        key = path_key + name
        if not name.endswith("/"):
            if key.startswith(prefix):
                yield key
        elif key.startswith(prefix) or prefix.startswith(key):
            yield from _sorted_keys(path / name, key, prefix)
