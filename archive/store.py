"""The ``ObjectStore`` interface that every storage backend implements.

Three kinds of writes exist, matching the archive layout:

* payloads (``objects/…``): streamed, hashed while written, content-addressed, never replaced;
* records (``captures/…``, ``custody/…``): small immutable JSON documents at a chosen key,
  created once; writing different bytes to an existing record key is an error;
* state (``state/…``): small mutable cursors, never evidence.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

CHUNK_SIZE = 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    """A payload as stored: its key, SHA-256 (hex), size, and whether this call created it."""

    key: str
    sha256: str
    size: int
    created: bool


class ObjectExistsError(Exception):
    """A record key already holds different bytes; evidence is never overwritten."""


class ObjectNotFoundError(KeyError):
    """No object is stored under the key."""


class PayloadWriter(Protocol):
    """A file-like sink that hashes what is written and stores it on ``commit``."""

    def write(self, data: bytes) -> int: ...

    def tell(self) -> int: ...

    def flush(self) -> None: ...

    def commit(self) -> StoredObject:
        """Make the bytes written so far durable under their content address."""
        ...

    def abort(self) -> None:
        """Discard what was written (idempotent; also called after ``commit``)."""
        ...


@runtime_checkable
class ObjectStore(Protocol):
    """Storage of payloads, records and state under the archive layout."""

    name: str

    def payload_writer(self, content_type: str = "application/octet-stream") -> PayloadWriter:
        """A writer for one payload; use it as a context manager or call ``abort``."""
        ...

    def adopt_payload(
        self, path: Path, sha256: str, size: int, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Store a finished file whose SHA-256 was computed while it was written (a download
        hashed as it streamed), without copying it again where the backend can."""
        ...

    def put_record(self, key: str, data: bytes) -> bool:
        """Create an immutable record; True if created, False if identical bytes existed.

        Raises ``ObjectExistsError`` when the key holds different bytes.
        """
        ...

    def put_state(self, key: str, data: bytes) -> None:
        """Write (or replace) a mutable state object under ``state/``."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream an object's bytes."""
        ...

    def open_range(self, key: str, offset: int, length: int) -> AbstractContextManager[BinaryIO]:
        """Stream at most ``length`` bytes of an object from ``offset`` (a WARC record, a
        seek in a video) without reading what comes before."""
        ...

    def read_bytes(self, key: str) -> bytes:
        """Read a small object whole (records, state)."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object is stored under the key."""
        ...

    def local_path(self, key: str) -> Path | None:
        """The object's file when the backend keeps objects as local files (read-only; tools
        such as ffmpeg then read it in place), else None."""
        ...

    def size(self, key: str) -> int:
        """Stored size in bytes."""
        ...

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys under a prefix, in lexical order."""
        ...


def existing_record_matches(store: ObjectStore, key: str, data: bytes) -> bool:
    """After a create found ``key`` taken: False for an idempotent retry, else refuse."""
    if store.read_bytes(key) != data:
        raise ObjectExistsError(f"{key} already holds different bytes")
    return False


def put_payload(
    store: ObjectStore, stream: BinaryIO, content_type: str = "application/octet-stream"
) -> StoredObject:
    """Stream a payload into the store, hashing as it is written."""
    writer = store.payload_writer(content_type)
    try:
        while chunk := stream.read(CHUNK_SIZE):
            writer.write(chunk)
        return writer.commit()
    finally:
        writer.abort()


def put_payload_bytes(
    store: ObjectStore, data: bytes, content_type: str = "application/octet-stream"
) -> StoredObject:
    """Store a small in-memory payload (extracted text, JSON artefacts)."""
    writer = store.payload_writer(content_type)
    try:
        writer.write(data)
        return writer.commit()
    finally:
        writer.abort()
