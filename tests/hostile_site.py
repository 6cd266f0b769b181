"""A hostile web site on loopback, for the web UI's tests: a page that tries to run script in
whoever shows it.

Its title and text carry markup as text (``SCRIPT_TEXT``, ``IMG_TEXT``), which the UI must
show escaped; its markup carries script in every common place (a ``<script>`` in the head and
one in the body that rewrites the page, a body ``onload``, an ``<img onerror>``, an
``<svg onload>``, a ``javascript:`` link, a ``javascript:`` frame), each of which would open a
dialog, set ``window.__pwned`` (in its own window and the top one) and retitle its document
``PWNED_TITLE``. Routes: ``/`` (the page) and 404 for anything else; every request is counted,
so a test can tell whether the live site was contacted.
"""

from __future__ import annotations

import html
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from tests.loopback_server import LoopbackSite

__all__ = [
    "DOM_TEXT",
    "HOSTILE_TITLE",
    "IMG_TEXT",
    "JS_LINK_TEXT",
    "PWNED_TITLE",
    "SCRIPT_TEXT",
    "SEARCH_WORD",
    "HostileSite",
    "hostile_page",
]

SEARCH_WORD = "zebrafinch"  # on this page only, so a search finds exactly it
SCRIPT_TEXT = "<script>alert(1)</script>"
IMG_TEXT = "<img src=x onerror=alert(2)>"
JS_LINK_TEXT = "javascript:alert(3)"
HOSTILE_TITLE = f"Zebrafinch dossier {SCRIPT_TEXT} {IMG_TEXT}"
PWNED_TITLE = "pwned"
DOM_TEXT = "Rewritten by the hostile script"  # what the body script puts in the page
ORIGINAL_TEXT = "Zebrafinch witness statement, as published."
# What every hostile handler does: a marker in its own window and the top one, a new title.
_PWN = (
    "window.__pwned = 1; try { window.top.__pwned = 1; } catch (e) {}"
    f" document.title = '{PWNED_TITLE}';"
)


def hostile_page() -> bytes:
    """The page: markup as text in its title and paragraphs, script wherever it can hide."""
    pwn = html.escape(_PWN, quote=True)
    # <title> holds raw text: the tags in it are text, as a browser reads them too.
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{HOSTILE_TITLE}</title>
<script>{_PWN} alert(4);</script>
</head>
<body onload="{pwn} alert(6);">
<h1>{html.escape(HOSTILE_TITLE)}</h1>
<p id="victim">{ORIGINAL_TEXT}</p>
<p>The {SEARCH_WORD} report quotes {html.escape(SCRIPT_TEXT)}
and {html.escape(IMG_TEXT)} verbatim.</p>
<p><img src="x" alt="" onerror="{pwn} alert(2);"></p>
<p><a id="js-link" href="javascript:{pwn} alert(3);">{JS_LINK_TEXT}</a></p>
<svg width="10" height="10" onload="{pwn} alert(7);"><rect width="10" height="10"/></svg>
<iframe src="javascript:parent.__pwned = 1; alert(8);" title="x"></iframe>
<script>{_PWN} document.getElementById('victim').textContent = '{DOM_TEXT}'; alert(4);</script>
</body></html>
""".encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: HostileSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up is not what these tests are about."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hostile-test-site/1"
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the tests report what matters."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        cast(_Server, self.server).site.count(path)
        if path == "/":
            self.send(200, hostile_page(), "text/html; charset=utf-8")
        else:
            self.send(404, b"not found\n", "text/plain; charset=utf-8")

    def send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class HostileSite(LoopbackSite):
    """Serve the hostile page on loopback; counts requests per path."""

    thread_name = "hostile-site"

    def __init__(self) -> None:
        super().__init__()
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def make_server(self) -> ThreadingHTTPServer:
        server = _Server((self.host, 0), _Handler)
        server.site = self
        return server

    def count(self, path: str) -> None:
        with self._lock:
            self._hits[path] += 1

    def requests(self) -> int:
        """How many requests the site has answered so far, all paths together."""
        with self._lock:
            return sum(self._hits.values())
