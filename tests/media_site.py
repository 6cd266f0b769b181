"""A static media site on loopback: streams large files, answers Range requests.

``DemoSite`` reads each file whole into memory and has no Range support, which is fine for
news pages and wrong for multi-gigabyte videos and players that seek, so media tests use this
small server instead. ``lay_out_media_site`` fills a directory with the pages and media the
video collector's tests need:

``video.html``     an HTML5 ``<video src="clip.mp4">`` page
``clip.mp4``       the English speech clip
``silent.mp4``     video only
``notmedia.mp4``   an HTML page served as ``video/mp4``
``hls/index.m3u8`` the clip as HLS, with its ``.ts`` segments
``split/master.m3u8`` the clip as HLS with separate video and audio renditions (optional)
``two-videos.html`` a page with two ``<video>`` elements
``article.html``   a plain article with no media at all

``json_ld_page`` makes a page whose JSON-LD ``VideoObject`` states the clip's duration; its
``contentUrl`` must be absolute for yt-dlp, so it is written once the site has a port.
"""

from __future__ import annotations

import json
import re
import shutil
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import unquote, urlsplit

from tests.loopback_server import LoopbackSite

__all__ = ["MEDIA_TYPES", "MediaSite", "json_ld_page", "lay_out_media_site"]

# Explicit types: the platform's mimetypes tables vary (.ts is "text/vnd.trolltech.linguist"
# on some systems). notmedia.mp4 is HTML yet gets video/mp4, as a lying server would send.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".wav": "audio/wav",
    ".vtt": "text/vtt; charset=utf-8",
}
CHUNK = 256 * 1024
RANGE_PATTERN = re.compile(r"bytes=(\d*)-(\d*)$")

VIDEO_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Footage from the bridge</title></head>
<body><h1>Footage from the bridge</h1>
<video controls src="clip.mp4" width="320" height="240"></video>
<p>Filmed by a resident on Monday morning.</p></body></html>
"""
TWO_VIDEOS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Two angles</title></head>
<body><h1>Two angles</h1>
<video controls src="clip.mp4"></video>
<video controls src="silent.mp4"></video>
</body></html>
"""
ARTICLE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Statement</title></head>
<body><article><h1>Statement by the press office</h1>
<p>The ministry will publish its answer next week. No video accompanies this statement.</p>
</article></body></html>
"""


def json_ld_page(content_url: str, duration_seconds: float) -> str:
    """A page describing a video in JSON-LD, with its duration (as news sites do)."""
    video = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": "Footage from the bridge",
        "contentUrl": content_url,
        "duration": f"PT{duration_seconds:.0f}S",
        "uploadDate": "2026-03-02",
    }
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>Footage</title>\n'
        f'<script type="application/ld+json">{json.dumps(video)}</script></head>\n'
        "<body><h1>Footage from the bridge</h1></body></html>\n"
    )


def lay_out_media_site(
    root: Path,
    *,
    clip: Path,
    silent: Path,
    not_media: Path,
    hls_playlist: Path,
    hls_split_master: Path | None = None,
) -> Path:
    """Copy the media into ``root`` under the names above and write the pages; returns root."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(clip, root / "clip.mp4")
    shutil.copyfile(silent, root / "silent.mp4")
    shutil.copyfile(not_media, root / "notmedia.mp4")
    shutil.copytree(hls_playlist.parent, root / "hls", dirs_exist_ok=True)
    if hls_split_master is not None:
        shutil.copytree(hls_split_master.parent, root / "split", dirs_exist_ok=True)
    (root / "video.html").write_text(VIDEO_PAGE, encoding="utf-8")
    (root / "two-videos.html").write_text(TWO_VIDEOS_PAGE, encoding="utf-8")
    (root / "article.html").write_text(ARTICLE_PAGE, encoding="utf-8")
    return root


class _MediaServer(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    requests_seen: list[str]


class _MediaHandler(BaseHTTPRequestHandler):
    server_version = "osint-archive-media-test/1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet; tests read ``MediaSite.requests_seen`` instead."""

    def _respond(self, *, send_body: bool) -> None:
        server = cast(_MediaServer, self.server)
        server.requests_seen.append(self.path)
        path = resolve(server.root, self.path)
        if path is None:
            self._send_empty(HTTPStatus.NOT_FOUND)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        wanted = self.headers.get("Range")
        if wanted:
            parsed = parse_range(wanted, size)
            if parsed is None:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = parsed
            status = HTTPStatus.PARTIAL_CONTENT
        self.send_response(status)
        self.send_header("Content-Type", MEDIA_TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if send_body:
            self._stream(path, start, end - start + 1)

    def _stream(self, path: Path, start: int, length: int) -> None:
        with path.open("rb") as reader:
            reader.seek(start)
            while length > 0:
                chunk = reader.read(min(CHUNK, length))
                if not chunk:
                    return
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (a size cap): not an error here
                length -= len(chunk)

    def _send_empty(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


def resolve(root: Path, request_target: str) -> Path | None:
    """The file a request names inside ``root``, or None (no ``..``, no directories)."""
    raw = unquote(urlsplit(request_target).path)
    if "\x00" in raw or ".." in raw.split("/"):
        return None
    candidate = (root / raw.lstrip("/")).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range as inclusive offsets, or None when unsatisfiable."""
    match = RANGE_PATTERN.match(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        start, end = max(size - int(last), 0), size - 1  # the final N bytes
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return start, end


class MediaSite(LoopbackSite):
    """Serve ``root`` on 127.0.0.1 (a free port) in a thread; use as a context manager."""

    thread_name = "media-site"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.resolve()
        self.requests_seen: list[str] = []  # request targets in arrival order

    def make_server(self) -> ThreadingHTTPServer:
        server = _MediaServer((self.host, 0), _MediaHandler)
        server.root = self.root
        server.requests_seen = self.requests_seen
        return server
