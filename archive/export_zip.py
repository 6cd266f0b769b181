"""The ZIP container of a WACZ package: entries streamed in chunks and hashed as written.

WARCs go in uncompressed (``ZIP_STORED``), as WACZ requires so that replay tools can read a
record by byte range; they are read once, and the same bytes feed the package entry, the
SHA-256 check and the CDXJ indexer. Everything else is small and deflated.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO

from archive.store import CHUNK_SIZE

# WARC record types a replay index needs; request, metadata and warcinfo records stay in the
# WARCs (and in evidence) but would only confuse a URL lookup.
INDEXED_RECORDS = "response,revisit,resource"
ZIP64_THRESHOLD = 1 << 31
DEFLATE_LEVEL = 1


@dataclass(frozen=True)
class PackageFile:
    """A file inside the package: its path, SHA-256 (hex) and size in bytes."""

    path: str
    sha256: str
    size: int


class HashingEntry:
    """A writable package entry that counts and hashes the bytes written to it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._raw.write(data)
        self._digest.update(data)
        self.size += len(data)
        return len(data)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()


class CopyingReader:
    """A stream over a stored object that copies every byte it hands out into an entry.

    The CDXJ indexer reads the WARC through it, so indexing, hashing and packaging share one
    pass over the object.
    """

    def __init__(self, source: BinaryIO, entry: HashingEntry) -> None:
        self._source = source
        self._entry = entry

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(CHUNK_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        data = self._source.read(size)
        self._entry.write(data)
        return data

    def tell(self) -> int:
        return self._entry.size

    def drain(self) -> None:
        """Copy whatever the indexer did not read (trailing bytes after the last record)."""
        while self.read(CHUNK_SIZE):
            pass


class _TextToEntry:
    """The text sink ``SortingWriter`` writes sorted CDXJ lines to."""

    def __init__(self, entry: HashingEntry) -> None:
        self._entry = entry

    def write(self, text: str) -> None:
        self._entry.write(text.encode("utf-8"))

    def flush(self) -> None:
        """Nothing buffered here; the ZIP entry flushes when it closes."""


class CdxjCollector:
    """Indexes WARCs as they are copied; lines are sorted (spilling to disk when large)."""

    def __init__(self) -> None:
        # Imported here: cdxj-indexer pulls in surt and tldextract, which only exports need.
        from cdxj_indexer.main import SortingWriter

        self._sorter = SortingWriter(None)

    def index(self, reader: CopyingReader, filename: str) -> None:
        """Index every record of one WARC; ``filename`` is its name under ``archive/``."""
        from cdxj_indexer.main import CDXJIndexer

        indexer = CDXJIndexer(None, [], filename=filename, records=INDEXED_RECORDS)
        indexer.process_one(reader, self._sorter, filename)

    def write_sorted(self, entry: HashingEntry) -> None:
        """Write every line collected so far, sorted, into the index entry."""
        self._sorter.out = _TextToEntry(entry)
        self._sorter.flush()


class PackageZip:
    """Writes the package's entries in order, remembering each entry's path, hash and size."""

    def __init__(self, path: Path, created: datetime) -> None:
        self._zip = zipfile.ZipFile(path, "w", allowZip64=True)
        self._date_time = (
            created.year,
            created.month,
            created.day,
            created.hour,
            created.minute,
            created.second,
        )
        self.files: list[PackageFile] = []

    @contextmanager
    def entry(self, path: str, *, stored: bool, size: int = 0) -> Iterator[HashingEntry]:
        """An entry to stream into; ``size`` (when known) lets large entries get ZIP64 headers."""
        info = zipfile.ZipInfo(path, self._date_time)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        # Level 1 deflates text and JSON about three times faster than the default 6, for a
        # few per cent more bytes (ZipInfo names the level publicly only from Python 3.13).
        info._compresslevel = DEFLATE_LEVEL  # type: ignore[attr-defined]
        info.external_attr = 0o444 << 16  # read-only, like the evidence it carries
        info.file_size = size
        with self._zip.open(info, "w", force_zip64=size >= ZIP64_THRESHOLD) as raw:
            entry = HashingEntry(raw)
            yield entry
        self.files.append(PackageFile(path, entry.sha256, entry.size))

    def add_bytes(self, path: str, data: bytes) -> PackageFile:
        """A small, deflated entry (JSON, text, HTML)."""
        with self.entry(path, stored=False, size=len(data)) as entry:
            entry.write(data)
        return self.files[-1]

    def close(self) -> None:
        self._zip.close()
