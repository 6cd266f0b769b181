"""The bundled demo news site, served on loopback for the demo and for tests.

Static files under ``demo/site/`` are served by a stdlib threaded HTTP server in a background
thread. ``news/live.html`` is a template: ``{edition}`` is replaced at request time with
``DemoSite.edition``, so a demo can change the page between two runs. ``media/court-hearing.mp4``
(made by ``demo/make_video.sh``) is served as ``video/mp4`` for the demo's transcription.
"""

from __future__ import annotations

import mimetypes
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import cast
from urllib.parse import unquote, urlsplit

__all__ = ["DEFAULT_ROOT", "DemoSite"]

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "demo" / "site"
# Pages whose "{edition}" placeholder is filled in per request (paths relative to the root).
TEMPLATE_PAGES = frozenset({"news/live.html"})
TEXT_TYPES = ("text/", "application/javascript", "application/json", "application/xml")
# Types the demo's media need, fixed here rather than left to the host's mime.types.
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4a": "audio/mp4",
    ".mp3": "audio/mpeg",
    ".webm": "video/webm",
}


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    site: DemoSite


class _DemoHandler(BaseHTTPRequestHandler):
    server_version = "osint-archive-demo/1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests and the demo print their own progress."""

    def _respond(self, *, send_body: bool) -> None:
        site = cast(_DemoServer, self.server).site
        found = site.resolve(self.path)
        if found is None:
            body = b"not found\n"
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", body, send_body)
            return
        path, relative = found
        body = path.read_bytes()
        if relative in TEMPLATE_PAGES:
            text = body.decode("utf-8").replace("{edition}", str(site.edition))
            body = text.encode("utf-8")
        self._send(HTTPStatus.OK, content_type(path), body, send_body)

    def _send(self, status: HTTPStatus, ctype: str, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


def content_type(path: Path) -> str:
    """The Content-Type for a served file; text types carry ``charset=utf-8``."""
    guessed = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0]
    ctype = guessed or "application/octet-stream"
    if ctype.startswith(TEXT_TYPES):
        ctype += "; charset=utf-8"
    return ctype


class DemoSite:
    """Serve a static directory on loopback; ``start()``/``stop()`` or use as a context manager."""

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = (root or DEFAULT_ROOT).resolve()
        self.host = host
        self.port = port
        self.edition: int = 1
        self._server: _DemoServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The site's root URL, e.g. ``http://127.0.0.1:8765/``; valid once started."""
        if self._server is None:
            raise RuntimeError("DemoSite is not started")
        return f"http://{self.host}:{self._server.server_address[1]}/"

    def start(self) -> DemoSite:
        """Bind the port and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _DemoServer((self.host, self.port), _DemoHandler)
        server.site = self
        self._server = server
        # A short poll interval keeps stop() fast (shutdown waits for the next poll).
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="demo-site", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def resolve(self, request_target: str) -> tuple[Path, str] | None:
        """Map a request target to ``(file, path relative to root)``, or None for a 404.

        Refuses anything that would leave the root (``..``, encoded or not, symlinks out) and
        directories without an ``index.html`` (no listings).
        """
        raw_path = unquote(urlsplit(request_target).path)
        if "\x00" in raw_path or "\\" in raw_path:
            return None
        # Any ".." segment is refused outright rather than normalised away.
        if ".." in raw_path.split("/"):
            return None
        candidate = (self.root / raw_path.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root):
            return None
        if candidate.is_dir():
            candidate = candidate / "index.html"
        if not candidate.is_file():
            return None
        return candidate, candidate.relative_to(self.root).as_posix()
