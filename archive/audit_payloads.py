"""Re-hashing one stored payload, and reading it record by record when it is a WARC.

Each object is read once, in 1 MiB chunks: the chunks are hashed as they arrive and, for a
WARC, the same bytes feed warcio. Nothing holds a whole object in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from archive.audit_warc import StoreReadError, WarcScan, looks_like_warc, scan_warc
from archive.local_store import LocalStore
from archive.store import CHUNK_SIZE, ObjectNotFoundError, ObjectStore


class HashingReader:
    """Reads a stream in large chunks, hashing every byte once, whoever consumes it."""

    def __init__(self, raw: BinaryIO, chunk_size: int = CHUNK_SIZE) -> None:
        self._raw = raw
        self._chunk_size = chunk_size
        self._digest = hashlib.sha256()
        self._buffer = b""
        self._position = 0  # next unconsumed byte in _buffer
        self._consumed = 0
        self.bytes_read = 0

    def _fill(self) -> bool:
        """Read the next chunk once the buffer is used up; False at end of stream."""
        try:
            chunk = self._raw.read(self._chunk_size)
        except Exception as err:
            # Store failures (disk, network) must not be mistaken for damaged bytes.
            raise StoreReadError(f"{type(err).__name__}: {err}") from err
        if not chunk:
            return False
        self._digest.update(chunk)
        self.bytes_read += len(chunk)
        self._buffer, self._position = chunk, 0
        return True

    def peek(self, size: int) -> bytes:
        """Up to ``size`` of the next bytes, without consuming them."""
        if self._position >= len(self._buffer) and not self._fill():
            return b""
        return self._buffer[self._position : self._position + size]

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (fewer at a chunk boundary, as a raw stream may return)."""
        if size is None or size < 0:
            parts = []
            while part := self.read(self._chunk_size):
                parts.append(part)
            return b"".join(parts)
        if self._position >= len(self._buffer) and not self._fill():
            return b""
        data = self._buffer[self._position : self._position + size]
        self._position += len(data)
        self._consumed += len(data)
        return data

    def tell(self) -> int:
        """Bytes consumed so far (warcio uses it for record offsets)."""
        return self._consumed

    def drain(self) -> None:
        """Read (and hash) the rest of the stream."""
        while self._fill():
            pass
        self._buffer, self._position = b"", 0

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@dataclass
class PayloadCheck:
    """Result of reading one payload: its actual hash, or why it could not be read."""

    key: str
    expected: str
    actual: str | None = None
    size: int = 0
    missing: bool = False
    error: str | None = None
    warc: WarcScan | None = None  # set when the object was read as a WARC

    @property
    def corrupt(self) -> bool:
        return self.actual is not None and self.actual != self.expected


def check_payload(store: ObjectStore, key: str, expected: str, known_warc: bool) -> PayloadCheck:
    """Re-hash one payload; WARCs (known from references, or by their first bytes) are also
    read record by record in the same pass."""
    check = PayloadCheck(key, expected)
    try:
        with store.open(key) as raw:
            reader = HashingReader(raw)
            if known_warc or looks_like_warc(reader.peek(CHUNK_SIZE)):
                check.warc = scan_warc(reader)
            reader.drain()  # a damaged WARC stops early; the hash still covers every byte
    except ObjectNotFoundError:
        check.missing = True  # deleted between listing and reading
        return check
    except StoreReadError as err:
        check.error = str(err)
        return check
    except Exception as err:
        # Opening failed in the backend (disk, network, permissions): the object is reported
        # as unreadable and the audit goes on with the others.
        check.error = f"{type(err).__name__}: {err}"
        return check
    check.actual = reader.hexdigest()
    check.size = reader.bytes_read
    return check


def payload_stored_at(store: ObjectStore, key: str) -> datetime | None:
    """When a payload was stored, where the backend can tell without a protocol change.

    The local store keeps the file's modification time from its write (payloads are never
    rewritten); other backends answer None, and the audit then re-hashes the object.
    """
    if isinstance(store, LocalStore):
        try:
            return datetime.fromtimestamp((store.root / key).stat().st_mtime, UTC)
        except OSError:
            return None
    return None


def in_sample(seed: int, key: str, fraction: float) -> bool:
    """Whether ``key`` is in the seeded sample: the same seed picks the same keys, in any
    listing order and whatever else was stored since."""
    draw = int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big")
    return draw < fraction * 2**64
