"""Record-by-record WARC checks for the audit, built on warcio's digest-verifying reader.

``ArchiveIterator(check_digests=True)`` recomputes each record's ``WARC-Block-Digest`` and
``WARC-Payload-Digest`` as the record streams (warcio's ``DigestVerifyingReader``, the same
machinery as ``warcio check``). What warcio leaves to its caller is added here:

* a record cut short (the file ends inside it) is a problem, not a quiet end of file;
* a gzip member that is corrupt, or unfinished at the end of the file, is a problem (warcio
  would print the zlib error and carry on as if the file had ended);
* the ids, positions and payload digests the audit cross-checks against manifests and revisits.

Three honest outcomes per record, as in warcio: digests passed, failed, or not checked
(a revisit's payload digest describes another record; it is checked across WARCs by the audit).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.limitreader import LimitReader
from warcio.utils import BUFF_SIZE

from archive.store import CHUNK_SIZE

GZIP_MAGIC = b"\x1f\x8b"
WARC_MAGIC = b"WARC/"
_SNIFF_BYTES = 64 * 1024


class StoreReadError(Exception):
    """Reading the object from the store failed: not a property of the WARC's bytes."""


class _WarcDamagedError(Exception):
    """The WARC's bytes cannot be decoded further."""


class SupportsRead(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class WarcProblem:
    """Something wrong inside a WARC, located by record where one is known."""

    detail: str
    offset: int | None = None
    record_id: str | None = None

    def describe(self) -> str:
        where = []
        if self.record_id:
            where.append(f"record {self.record_id}")
        if self.offset is not None:
            where.append(f"at offset {self.offset}")
        return f"{' '.join(where)}: {self.detail}" if where else self.detail


@dataclass(frozen=True)
class Revisit:
    """A revisit record, to be matched with the record its ``WARC-Refers-To`` names."""

    record_id: str
    refers_to: str | None
    payload_digest: str | None
    offset: int


@dataclass
class WarcScan:
    """What one WARC held: counts, problems, and the facts cross-checks need."""

    records: int = 0
    digests_verified: int = 0
    digests_unchecked: int = 0
    problems: list[WarcProblem] = field(default_factory=list)
    # response/resource record id -> its normalised WARC-Payload-Digest
    payload_digests: dict[str, str] = field(default_factory=dict)
    revisits: list[Revisit] = field(default_factory=list)
    # response/revisit record id -> (offset, length) of its gzip member, as manifests record it
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)


def normalise_digest(value: str) -> str:
    """A labelled digest in one comparable form (labels and base32/hex are case-insensitive)."""
    algorithm, _, digest = value.strip().partition(":")
    return f"{algorithm.lower()}:{digest.upper()}"


def looks_like_warc(head: bytes) -> bool:
    """Whether an object's first bytes start a WARC, plain or gzipped record by record."""
    if head.startswith(WARC_MAGIC):
        return True
    if not head.startswith(GZIP_MAGIC):
        return False
    try:
        start = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(
            head[:_SNIFF_BYTES], len(WARC_MAGIC)
        )
    except zlib.error:
        return False
    return start.startswith(WARC_MAGIC)


class _StrictGzipReader(DecompressingBufferedReader):
    """warcio's reader, except that damaged gzip data raises instead of reading as the end."""

    unfinished_member = False

    def _decompress(self, data: bytes) -> bytes:
        # The very first block keeps warcio's behaviour: failing there means "not gzipped".
        if self.decompressor is not None and data and self.num_read > 0:
            try:
                return bytes(self.decompressor.decompress(data))
            except zlib.error as err:
                raise _WarcDamagedError(f"gzip data is corrupt ({err})") from err
        return bytes(super()._decompress(data))

    def close_decompressor(self) -> None:
        # Called once the file is exhausted: a member that never reached its end (CRC and
        # size trailer) means the file was cut, even if every record read whole.
        if self.decompressor is not None and not getattr(self.decompressor, "eof", True):
            self.unfinished_member = True
        super().close_decompressor()


def scan_warc(stream: SupportsRead) -> WarcScan:
    """Read a WARC record by record, verifying digests; damage becomes problems, not errors.

    ``StoreReadError`` raised by ``stream`` propagates: a failed read says nothing about the
    WARC's bytes. Anything else that stops warcio is reported as a problem at the record where
    it happened.
    """
    scan = WarcScan()
    iterator = ArchiveIterator(stream, check_digests=True)
    # warcio's default block (16 KiB) bounds what one gzip block can inflate to in memory.
    reader = _StrictGzipReader(iterator.fh, block_size=BUFF_SIZE)
    iterator.reader = reader
    record_id: str | None = None
    offset = 0
    try:
        for record in iterator:
            offset = iterator.offset
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            if not _check_record(iterator, reader, record, offset, scan):
                return scan  # the rest of the file cannot be located reliably
            record_id = None
    except StoreReadError:
        raise
    except Exception as err:
        # warcio raises many types on damaged input (parser, gzip, index errors); each one
        # means the WARC cannot be read past here, which is the finding.
        scan.problems.append(
            WarcProblem(f"unreadable: {type(err).__name__}: {err}".strip(), offset, record_id)
        )
        return scan
    if reader.unfinished_member:
        scan.problems.append(WarcProblem("the file ends inside a gzip member (cut short)"))
    if iterator.err_count:
        scan.problems.append(
            WarcProblem(
                f"{iterator.err_count} record(s) not followed by the blank lines WARC "
                "requires (a wrong Content-Length)"
            )
        )
    return scan


def _drain(read: Callable[[int], bytes]) -> None:
    while read(CHUNK_SIZE):
        pass


def _check_record(
    iterator: Any, reader: _StrictGzipReader, record: Any, offset: int, scan: WarcScan
) -> bool:
    """Check one record; False when the record is cut short and scanning must stop."""
    headers = record.rec_headers
    record_id = headers.get_header("WARC-Record-ID")
    record_type = headers.get_header("WARC-Type")
    scan.records += 1
    raw = record.raw_stream
    _drain(raw.read)  # digests are computed as the block streams through
    if not isinstance(raw, LimitReader):
        # Read to the end of its gzip member: an unfinished member means the file was cut
        # inside the record's headers, else the headers really lack a Content-Length.
        decompressor = reader.decompressor
        if decompressor is not None and not getattr(decompressor, "eof", True):
            detail = "record cut short: the file ends inside its headers"
        else:
            detail = "record has no valid Content-Length"
        scan.problems.append(WarcProblem(detail, offset, record_id))
        return False
    if raw.limit > 0:
        scan.problems.append(
            WarcProblem(
                f"record cut short: {raw.limit} of its {record.length} bytes are missing",
                offset,
                record_id,
            )
        )
        return False
    checker = record.digest_checker
    if checker.passed is False:
        for problem in checker.problems:
            scan.problems.append(WarcProblem(str(problem), offset, record_id))
    elif checker.passed:
        scan.digests_verified += 1
    else:
        scan.digests_unchecked += 1
    payload_digest = headers.get_header("WARC-Payload-Digest")
    if record_type in ("response", "revisit", "resource", "metadata"):
        # The record types a manifest may name as the capture's main evidence.
        scan.positions[record_id] = (offset, iterator.get_record_length())
    if record_type in ("response", "resource") and payload_digest:
        scan.payload_digests[record_id] = normalise_digest(payload_digest)
    elif record_type == "revisit":
        scan.revisits.append(
            Revisit(
                record_id=record_id,
                refers_to=headers.get_header("WARC-Refers-To"),
                payload_digest=normalise_digest(payload_digest) if payload_digest else None,
                offset=offset,
            )
        )
    return True
