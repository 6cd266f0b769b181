"""Temporary files that compute SHA-256 while written (hash while streaming), and the payload
writer every backend builds on."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from archive.keys import payload_key
from archive.store import CHUNK_SIZE, StoredObject

PublishFinishedFile = Callable[[Path, str, str, int], bool]


def stream_sha256(
    reader: BinaryIO, writer: BinaryIO | None = None, digest: hashlib._Hash | None = None
) -> hashlib._Hash:
    """Read ``reader`` to its end in chunks, feeding ``digest`` (a new SHA-256 by default) and
    copying to ``writer`` when one is given; returns the digest."""
    digest = digest or hashlib.sha256()
    while chunk := reader.read(CHUNK_SIZE):
        digest.update(chunk)
        if writer is not None:
            writer.write(chunk)
    return digest


class HashingTempFile:
    """Write-once temporary file with a running SHA-256 and byte count."""

    def __init__(self, directory: Path | None = None) -> None:
        fd, name = tempfile.mkstemp(prefix=".incoming-", dir=directory)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> int:
        self._file.write(data)
        self._digest.update(data)
        self._size += len(data)
        return len(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        self._file.flush()

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def finish(self, durable: bool = True) -> None:
        """Flush (and fsync when ``durable``), so the bytes are complete before publishing."""
        if not self._file.closed:
            self._file.flush()
            if durable:
                os.fsync(self._file.fileno())
            self._file.close()

    def discard(self) -> None:
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> HashingTempFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


class HashingPayloadWriter:
    """A ``PayloadWriter`` over a ``HashingTempFile``; ``publish`` is the backend's one step.

    ``publish(temp_path, key, sha256, size)`` stores the finished file under its content key
    and returns whether it created the object (False when it was already stored).
    """

    def __init__(self, directory: Path | None, publish: PublishFinishedFile) -> None:
        self._temp = HashingTempFile(directory)
        self._publish = publish

    def write(self, data: bytes) -> int:
        return self._temp.write(data)

    def tell(self) -> int:
        return self._temp.tell()

    def flush(self) -> None:
        self._temp.flush()

    def commit(self) -> StoredObject:
        """Make the bytes durable under ``objects/sha256/…`` of their digest."""
        self._temp.finish()
        sha256, size = self._temp.sha256, self._temp.tell()
        key = payload_key(sha256)
        created = self._publish(self._temp.path, key, sha256, size)
        return StoredObject(key=key, sha256=sha256, size=size, created=created)

    def abort(self) -> None:
        """Discard the temporary file (idempotent; also after ``commit``)."""
        self._temp.discard()

    def __enter__(self) -> HashingPayloadWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()
