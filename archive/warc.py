"""WARC 1.1 files written with warcio, straight into the object store as they are built.

Each record is gzipped on its own (the ``.warc.gz`` convention), and digests are SHA-256 in
warcio's ``sha256:<base32>`` form, which ``warcio check`` verifies.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from archive.store import ObjectStore, PayloadWriter, StoredObject

WARC_VERSION = "WARC/1.1"


def warc_digest(sha256_hex: str) -> str:
    """A hex SHA-256 in the labelled base32 form WARC headers use."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def warc_date(moment: datetime) -> str:
    """WARC-Date with microseconds, as WARC 1.1 allows."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


GZIP_LEVEL = 6  # warcio's level 9 costs twice the CPU for about 1 % smaller files


class _GzipMember:
    """Compresses one record as its own gzip member (what ``.warc.gz`` readers expect)."""

    def __init__(self, out: Any) -> None:
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
        self._out = out

    def write(self, data: bytes) -> None:
        self._out.write(self._compressor.compress(data))

    def flush(self) -> None:
        """Called by warcio after the record; the member is finished once, in ``close``."""

    def close(self) -> None:
        self._out.write(self._compressor.flush())
        self._out.flush()


class Sha256WarcWriter(WARCWriter):
    """warcio's writer with SHA-256 digests (not SHA-1) and a faster gzip level."""

    def _create_digester(self) -> Digester:
        return Digester("sha256")

    def _write_warc_record(self, out: Any, record: Any) -> None:
        member = _GzipMember(out)
        self.gzip = False  # warcio would wrap ``out`` in its own level-9 compressor
        try:
            super()._write_warc_record(member, record)
        finally:
            self.gzip = True
        member.close()


@dataclass(frozen=True)
class RecordRef:
    """Where a record sits: its id and byte offset and length in the (gzipped) WARC."""

    record_id: str
    offset: int
    length: int


class WarcFileWriter:
    """Builds one WARC file into a payload writer; ``close`` stores it content-addressed."""

    def __init__(self, store: ObjectStore, filename: str) -> None:
        self.filename = filename
        self._sink: PayloadWriter = store.payload_writer("application/warc")
        self._writer = Sha256WarcWriter(self._sink, gzip=True, warc_version=WARC_VERSION)

    def _write(self, record: Any) -> RecordRef:
        offset = self._sink.tell()
        self._writer.write_record(record)
        return RecordRef(
            record_id=record.rec_headers.get_header("WARC-Record-ID"),
            offset=offset,
            length=self._sink.tell() - offset,
        )

    def write_warcinfo(self, info: dict[str, str]) -> RecordRef:
        """The file's ``warcinfo`` record: software, versions, operator, source."""
        record = self._writer.create_warcinfo_record(self.filename, info)
        return self._write(record)

    def write_request(
        self,
        url: str,
        head: StatusAndHeaders,
        moment: datetime,
        concurrent_to: str,
        ip: str | None,
        body: bytes = b"",
    ) -> RecordRef:
        """The request as sent: headers, and the body a browser's POST carried."""
        headers = {"WARC-Date": warc_date(moment), "WARC-Concurrent-To": concurrent_to}
        if ip:
            headers["WARC-IP-Address"] = ip
        record = self._writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=head,
            warc_headers_dict=headers,
        )
        return self._write(record)

    def write_response(
        self,
        url: str,
        head: StatusAndHeaders,
        body: IO[bytes],
        body_size: int,
        payload_sha256: str,
        block_sha256: str,
        moment: datetime,
        ip: str | None,
        truncated: str | None,
    ) -> RecordRef:
        """A response record whose digests were computed while the body streamed in."""
        if not block_sha256:
            raise ValueError(f"{url}: no block digest (a media download is not a response record)")
        headers = {
            "WARC-Date": warc_date(moment),
            "WARC-Block-Digest": warc_digest(block_sha256),
            "WARC-Payload-Digest": warc_digest(payload_sha256),
        }
        if ip:
            headers["WARC-IP-Address"] = ip
        if truncated:
            headers["WARC-Truncated"] = truncated
        record = self._writer.create_warc_record(
            url,
            "response",
            payload=body,
            length=body_size,
            http_headers=head,
            warc_headers_dict=headers,
        )
        return self._write(record)

    def write_revisit(
        self,
        url: str,
        head: StatusAndHeaders,
        payload_sha256: str,
        refers_to_uri: str,
        refers_to_date: str,
        refers_to_record: str,
        moment: datetime,
        ip: str | None,
    ) -> RecordRef:
        """An identical-payload-digest revisit: the headers of this response, no payload."""
        headers = {"WARC-Date": warc_date(moment), "WARC-Refers-To": refers_to_record}
        if ip:
            headers["WARC-IP-Address"] = ip
        record = self._writer.create_revisit_record(
            url,
            warc_digest(payload_sha256),
            refers_to_uri,
            refers_to_date,
            http_headers=head,
            warc_headers_dict=headers,
        )
        return self._write(record)

    def write_metadata(
        self, url: str, fields: dict[str, Any], moment: datetime, concurrent_to: str | None
    ) -> RecordRef:
        """A ``metadata`` record (JSON) about a capture: redirects, TLS, truncation."""
        data = json.dumps(fields, ensure_ascii=False, sort_keys=True).encode("utf-8")
        headers = {"WARC-Date": warc_date(moment)}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        record = self._writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(data),
            length=len(data),
            warc_content_type="application/json",
            warc_headers_dict=headers,
        )
        return self._write(record)

    def write_resource(
        self,
        url: str,
        content_type: str,
        data: bytes,
        moment: datetime,
        concurrent_to: str | None = None,
    ) -> RecordRef:
        """A ``resource`` record: something the capture made rather than fetched (a
        screenshot, the rendered DOM, a parsed post), under a ``urn:`` or the page's URL."""
        headers = {"WARC-Date": warc_date(moment)}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        record = self._writer.create_warc_record(
            url,
            "resource",
            payload=io.BytesIO(data),
            length=len(data),
            warc_content_type=content_type,
            warc_headers_dict=headers,
        )
        return self._write(record)

    def close(self) -> StoredObject:
        """Store the finished WARC under its content address."""
        try:
            return self._sink.commit()
        finally:
            self._sink.abort()

    def abort(self) -> None:
        self._sink.abort()
