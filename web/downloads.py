"""Streaming stored objects to the browser, with HTTP range requests (a video seeks)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import quote

from fastapi.responses import Response, StreamingResponse

from archive.store import ObjectStore

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``Range: bytes=a-b``; None for the whole object.
    Raises ``ValueError`` for a range that cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # multiple or odd ranges: send the whole object, as RFC 9110 allows
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # the last N bytes
        first, last = max(0, size - int(last_text)), size - 1
    else:
        first = int(first_text)
        last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise ValueError(header)
    return first, last


def _chunks(store: ObjectStore, key: str, offset: int, length: int) -> Iterator[bytes]:
    with store.open_range(key, offset, length) as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


# Shown in the page (a player, an <img>); anything else archived is only ever downloaded.
INLINE_TYPES = ("audio/", "video/", "image/png", "image/jpeg", "image/gif", "image/webp")
# Stored objects come from the web: opened on their own they may run nothing, load nothing.
OBJECT_POLICY = "sandbox; default-src 'none'; media-src 'self'; img-src 'self'"


def stream_object(
    store: ObjectStore,
    key: str,
    media_type: str,
    *,
    range_header: str | None = None,
    filename: str | None = None,
    offset: int = 0,
    length: int | None = None,
    on_serve: Callable[[str], None] | None = None,
) -> Response:
    """An object (or the slice ``offset``+``length`` of it) as a response; ranges are
    relative to the slice. ``on_serve`` runs before any response that carries bytes of the
    object (whole or any range; not a 416), once the object is known to exist, with the
    bytes served (``"whole"`` or ``"first-last"``): custody must never depend on how a range
    is spelled."""
    size = store.size(key) - offset if length is None else length
    headers = {"Accept-Ranges": "bytes", "Content-Security-Policy": OBJECT_POLICY}
    if filename is None and not media_type.lower().startswith(INLINE_TYPES):
        filename = key.rsplit("/", 1)[-1]
    if filename is not None:
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    try:
        wanted = parse_range(range_header, size)
    except ValueError:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    if on_serve is not None:
        on_serve("whole" if wanted is None else f"{wanted[0]}-{wanted[1]}")
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            _chunks(store, key, offset, size), media_type=media_type, headers=headers
        )
    first, last = wanted
    headers["Content-Range"] = f"bytes {first}-{last}/{size}"
    headers["Content-Length"] = str(last - first + 1)
    return StreamingResponse(
        _chunks(store, key, offset + first, last - first + 1),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )
