"""A test site's life: a stdlib HTTP server on 127.0.0.1 (a free port) in a daemon thread.

The sites the tests serve (a Telegram imitation, media files, pages for the browser) differ in
what they answer; this is what they share: start, stop, the address, use as a context manager.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackSite(ABC):
    """Subclasses make their server in ``make_server``; ``on_start``/``on_stop`` for extras."""

    thread_name = "loopback-site"
    host = "127.0.0.1"

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @abstractmethod
    def make_server(self) -> ThreadingHTTPServer:
        """A server bound to ``(self.host, 0)``, not yet serving."""

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:8765`` (no trailing slash); valid once started."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (with or without its leading slash)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = self.make_server()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        self.on_start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.on_stop()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def on_start(self) -> None:  # noqa: B027 - an optional hook, empty by design
        """Called once serving has begun."""

    def on_stop(self) -> None:  # noqa: B027 - an optional hook, empty by design
        """Called before the server shuts down."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


HTML = "text/html; charset=utf-8"


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers in one call."""

    def send_body(self, status: int, body: bytes, content_type: str = HTML) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass
