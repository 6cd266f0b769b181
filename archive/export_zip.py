"""The ZIP container of a WACZ package: entries streamed in chunks and hashed as written.

WARCs go in uncompressed (``ZIP_STORED``), as WACZ requires so that replay tools can read a
record by byte range; they are read once, and the same bytes feed the package entry, the
SHA-256 check and the CDXJ indexer. Everything else is small and deflated.

A package has an entry or two per capture, so what is remembered per entry is kept small:
path, digest and size packed into one byte buffer (``PackageFiles``), and the ZIP central
directory records spilled to a temporary file until the package is closed
(``SpilledEntries``).
"""

from __future__ import annotations

import hashlib
import pickle
import struct
import tempfile
import zipfile
from array import array
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, BinaryIO, overload

from archive.export_sort import ExternalLineSort
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
    """The text sink sorted CDXJ lines are written to."""

    def __init__(self, entry: HashingEntry) -> None:
        self._entry = entry

    def write(self, text: str) -> None:
        self._entry.write(text.encode("utf-8"))


class CdxjCollector:
    """Indexes WARCs as they are copied; lines are sorted with sorted runs spilled to disk."""

    def __init__(self) -> None:
        self._sorter = ExternalLineSort()

    def index(self, reader: CopyingReader, filename: str) -> None:
        """Index every record of one WARC; ``filename`` is its name under ``archive/``."""
        # Imported here: cdxj-indexer pulls in surt and tldextract, which only exports need.
        from cdxj_indexer.main import CDXJIndexer

        indexer = CDXJIndexer(None, [], filename=filename, records=INDEXED_RECORDS)
        indexer.process_one(reader, self._sorter, filename)

    def write_sorted(self, entry: HashingEntry) -> None:
        """Write every line collected so far, sorted and each once, into the index entry."""
        sink = _TextToEntry(entry)
        for line in self._sorter.sorted_lines():
            sink.write(line)

    def discard(self) -> None:
        """Remove what was spilled, when the index will not be written."""
        self._sorter.discard()


_SIZE_AND_DIGEST = struct.Struct("<Q32s")


class PackageFiles(Sequence[PackageFile]):
    """The package's entries in order, packed: path, SHA-256 and size in about 50 bytes
    plus the path's length, where a ``PackageFile`` object takes some 400."""

    def __init__(self) -> None:
        self._packed = bytearray()
        self._starts = array("Q")

    def append(self, file: PackageFile) -> None:
        self._starts.append(len(self._packed))
        self._packed += _SIZE_AND_DIGEST.pack(file.size, bytes.fromhex(file.sha256))
        self._packed += file.path.encode("utf-8")

    def __len__(self) -> int:
        return len(self._starts)

    def _at(self, index: int) -> PackageFile:
        start = self._starts[index]
        end = self._starts[index + 1] if index + 1 < len(self._starts) else len(self._packed)
        size, digest = _SIZE_AND_DIGEST.unpack_from(self._packed, start)
        path = self._packed[start + _SIZE_AND_DIGEST.size : end].decode("utf-8")
        return PackageFile(path, digest.hex(), size)

    @overload
    def __getitem__(self, index: int) -> PackageFile: ...

    @overload
    def __getitem__(self, index: slice) -> list[PackageFile]: ...

    def __getitem__(self, index: int | slice) -> PackageFile | list[PackageFile]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("package file index out of range")
        return self._at(index)

    def __iter__(self) -> Iterator[PackageFile]:
        for index in range(len(self)):
            yield self._at(index)


class SpilledEntries(list[zipfile.ZipInfo]):
    """``ZipFile.filelist`` kept in a temporary file: the central directory records a ZIP
    writer must hold until it closes, a ``ZipInfo`` of some 350 bytes per entry.

    ``zipfile`` only appends to this list while writing and reads it through once, to write
    the central directory at close. Its duplicate-name warning goes with ``NameToInfo``; the
    export names every entry once (WARC names are made unique, evidence is deduplicated).
    """

    def __init__(self) -> None:
        super().__init__()
        # Closed by ``close`` when the package is; gone from disk as soon as it is closed.
        self._spill = tempfile.TemporaryFile(prefix="osint-export-zip-")  # noqa: SIM115
        self._count = 0

    def append(self, info: zipfile.ZipInfo) -> None:
        pickle.dump(info, self._spill, protocol=pickle.HIGHEST_PROTOCOL)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def __iter__(self) -> Iterator[zipfile.ZipInfo]:
        self._spill.seek(0)
        for _ in range(self._count):
            # Only ever this process's own records, written above to a private, unnamed file.
            yield pickle.load(self._spill)  # noqa: S301
        self._spill.seek(0, 2)

    def close(self) -> None:
        self._spill.close()


class _ForgetfulNames(dict[str, zipfile.ZipInfo]):
    """``ZipFile.NameToInfo`` that keeps nothing: written entries are never looked up."""

    def __setitem__(self, name: str, info: zipfile.ZipInfo) -> None:
        pass


class PackageZip:
    """Writes the package's entries in order, remembering each entry's path, hash and size."""

    def __init__(self, path: Path, created: datetime) -> None:
        self._zip = zipfile.ZipFile(path, "w", allowZip64=True)
        self._entries = SpilledEntries()
        self._zip.filelist = self._entries
        self._zip.NameToInfo = _ForgetfulNames()
        self._date_time = (
            created.year,
            created.month,
            created.day,
            created.hour,
            created.minute,
            created.second,
        )
        self.files = PackageFiles()

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
        self.last = PackageFile(path, entry.sha256, entry.size)
        self.files.append(self.last)

    def add_bytes(self, path: str, data: bytes) -> PackageFile:
        """A small, deflated entry (JSON, text, HTML)."""
        with self.entry(path, stored=False, size=len(data)) as entry:
            entry.write(data)
        return self.last

    def close(self) -> None:
        try:
            self._zip.close()
        finally:
            self._entries.close()
