"""Reading a capture's archived bytes back out of its WARC: the HTTP response of the page
(for replay and downloads) and of each resource a rendering browser recorded."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator

from archive.manifest import CaptureManifest
from archive.store import ObjectStore

MAX_REPLAY_BYTES = 32 * 1024 * 1024  # larger payloads are downloaded, not replayed
_OFFSET_CACHE_WARCS = 64


class PayloadTooLargeError(Exception):
    """The archived payload is larger than replay reads into memory."""


@dataclass(frozen=True)
class ArchivedResponse:
    """An archived HTTP response: status, headers as recorded, and the (decoded) body."""

    url: str
    status: int
    content_type: str
    body: bytes


def _response_of(record: object, url: str) -> ArchivedResponse:
    http = getattr(record, "http_headers", None)
    status = int(http.get_statuscode()) if http is not None else 200
    content_type = (http.get_header("Content-Type") if http is not None else None) or (
        record.rec_headers.get_header("Content-Type")  # type: ignore[attr-defined]
        or "application/octet-stream"
    )
    stream = record.content_stream()  # type: ignore[attr-defined]
    body = stream.read(MAX_REPLAY_BYTES + 1)
    if len(body) > MAX_REPLAY_BYTES:
        raise PayloadTooLargeError(url)
    return ArchivedResponse(url, status, content_type, body)


class WarcReader:
    """Finds records by id in stored WARC files; remembers record offsets of recent files."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._offsets: OrderedDict[str, dict[str, tuple[int, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def _positions(self, warc_key: str) -> dict[str, tuple[int, int]]:
        with self._lock:
            if warc_key in self._offsets:
                self._offsets.move_to_end(warc_key)
                return self._offsets[warc_key]
        starts: list[tuple[str, int]] = []
        with self.store.open(warc_key) as stream:
            iterator = ArchiveIterator(stream)
            for record in iterator:  # record bodies are skipped, never held in memory
                starts.append((record.rec_headers.get_header("WARC-Record-ID"), iterator.offset))
        # Each record (a gzip member) runs to where the next begins, the last to the end.
        ends = [offset for _, offset in starts[1:]] + [self.store.size(warc_key)]
        positions = {
            rid: (start, end - start) for (rid, start), end in zip(starts, ends, strict=True)
        }
        with self._lock:
            self._offsets[warc_key] = positions
            while len(self._offsets) > _OFFSET_CACHE_WARCS:
                self._offsets.popitem(last=False)
        return positions

    def response(
        self, warc_key: str, record_id: str, url: str, where: tuple[int, int] | None = None
    ) -> ArchivedResponse | None:
        """The response held by a record, or None when the WARC has no such record."""
        if where is None:
            where = self._positions(warc_key).get(record_id)
            if where is None:
                return None
        offset, length = where
        with self.store.open_range(warc_key, offset, length) as stream:
            for record in ArchiveIterator(stream):
                if record.rec_headers.get_header("WARC-Record-ID") == record_id:
                    return _response_of(record, url)
        return None

    def page(self, manifest: CaptureManifest) -> ArchivedResponse | None:
        """The page's own response; for a revisit, the identical response it refers to."""
        warc = manifest.warc
        if warc.record_type == "revisit" and warc.refers_to is not None:
            original = warc.refers_to
            where = (
                (original.offset, original.length)
                if original.offset is not None and original.length is not None
                else None
            )
            return self.response(original.warc_key, original.record_id, manifest.final_url, where)
        if warc.record_type != "response":
            return None
        return self.response(
            warc.key, warc.response_record_id, manifest.final_url, (warc.offset, warc.length)
        )

    def resource(self, manifest: CaptureManifest, url: str) -> ArchivedResponse | None:
        """A resource the rendering browser recorded for this capture, by its URL."""
        if manifest.browser is None:
            return None
        for entry in manifest.browser.resources:
            if entry.url == url and entry.method == "GET":
                return self.response(manifest.warc.key, entry.response_record_id, url)
        return None
