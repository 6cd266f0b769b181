"""A local web site for the browser-capture tests: pages that only a real browser gets right.

A stdlib threaded HTTP server on 127.0.0.1 (a free port) in a background thread, with a
request count per path. Routes:

``/js-page.html`` + ``/api/news.json``
    The visible text (``JS_TEXT``) is built by JavaScript from a fetched JSON document.
``/gzip-script.html`` + ``/static/gzip-script.js``
    A script sent with ``Content-Encoding: gzip`` writes ``GZIP_TEXT`` into the page.
``/alert.html``
    ``alert``, ``confirm`` and ``prompt`` on load, then ``AFTER_DIALOGS_TEXT`` with the answers.
``/popup.html`` + ``/popup-target.html``
    ``window.open`` and an auto-clicked ``target=_blank`` link.
``/download.html`` + ``/files/report.pdf``
    Navigates by itself to an attachment (``Content-Disposition: attachment``).
``/infinite.html`` + ``/api/more``
    Every scroll to the bottom fetches and appends more items, forever.
``/lazy.html`` + ``/api/lazy.json`` + ``/img/lazy.png``
    Text and an image loaded only once their placeholder scrolls into view.
``/never-finishes.html`` + ``/drip``
    An image whose body drips a byte every 0.2 s forever: the load event never fires.
``/redirect`` → ``/js-page.html``
    A 302 before the JavaScript page.
``/blocked.html``
    Loads ``/blocked/pixel.png`` and ``/blocked/data.json`` (the tests' fetch refuses them).
``/echo.html`` + ``/api/echo`` (POST)
    A fetch POST whose method and body the server echoes and the page shows.
``/leak.html``
    Tries every way around interception the tests know of, aimed at ``LeakCanary``:
    preconnect, WebSocket, WebRTC STUN; and an XHR redirected by the server.
``/tall.html``
    A page ``TALL_PX`` pixels high.
``/cookie.html``
    Sets two cookies (two ``Set-Cookie`` headers).
``/busy.html``
    Shows its text, then runs JavaScript that never returns: the renderer stops answering.
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from tests.loopback_server import LoopbackSite

__all__ = [
    "AFTER_DIALOGS_TEXT",
    "ECHO_TEXT",
    "GZIP_TEXT",
    "JS_TEXT",
    "LAZY_TEXT",
    "TALL_PX",
    "BrowserTestSite",
    "LeakCanary",
    "png_size",
]

JS_TEXT = "Arrested on 12 March: Ales Bialiatski"
GZIP_TEXT = "Written by a gzip-encoded script"
AFTER_DIALOGS_TEXT = "The page went on after its dialogs"
LAZY_TEXT = "Loaded when scrolled into view"
ECHO_TEXT = "echo: POST statement-2024"
TALL_PX = 100_000
DRIP_INTERVAL_SECONDS = 0.2


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A valid opaque red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


LAZY_PNG = tiny_png(40, 30)

JS_PAGE = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>News (rendered)</title></head>
<body><h1>Latest</h1><div id="news">Loading&hellip;</div>
<script>
fetch('/api/news.json').then(r => r.json()).then(data => {
  for (const item of data.items) {
    const p = document.createElement('p');
    p.textContent = item.event + ' on ' + item.date + ': ' + item.name;
    document.getElementById('news').appendChild(p);
  }
  document.getElementById('news').firstChild.remove();
});
</script></body></html>
"""
NEWS_JSON = json.dumps(
    {"items": [{"event": "Arrested", "date": "12 March", "name": "Ales Bialiatski"}]}
).encode()

GZIP_PAGE = b"""<!doctype html><html><head><title>Gzip script</title></head>
<body><p id="out">script not run</p><script src="/static/gzip-script.js"></script></body></html>
"""
GZIP_SCRIPT = gzip.compress(
    f"document.getElementById('out').textContent = '{GZIP_TEXT}';\n".encode() * 20
)

ALERT_PAGE = f"""<!doctype html><html><head><title>Dialogs</title></head><body>
<p id="out">before dialogs</p><script>
alert('Breaking: detentions at the square');
const confirmed = confirm('Continue to the article?');
const answer = prompt('Your name?', 'anonymous');
document.getElementById('out').textContent =
  '{AFTER_DIALOGS_TEXT} (confirm=' + confirmed + ', prompt=' + answer + ')';
</script></body></html>
""".encode()

POPUP_PAGE = b"""<!doctype html><html><head><title>Popups</title></head><body>
<p>Main article stays here.</p>
<a id="tab" href="/popup-target.html?via=link" target="_blank">open in a new tab</a>
<script>
window.open('/popup-target.html?via=window-open');
document.getElementById('tab').click();
</script></body></html>
"""
POPUP_TARGET = b"<!doctype html><title>Advert</title><p>popup content</p>"

DOWNLOAD_PAGE = b"""<!doctype html><html><head><title>Report</title></head><body>
<p>The report downloads by itself.</p>
<script>setTimeout(() => { location.href = '/files/report.pdf'; }, 50);</script>
</body></html>
"""
REPORT_PDF = b"%PDF-1.4\n% test report\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"

INFINITE_PAGE = b"""<!doctype html><html><head><title>Feed</title>
<style>.item { height: 500px; border-bottom: 1px solid #ccc; }</style></head><body>
<div id="feed"><div class="item">item 0</div><div class="item">item 1</div></div>
<script>
let page = 0, loading = false;
function more() {
  if (loading) return;
  loading = true;
  fetch('/api/more?page=' + (++page)).then(r => r.json()).then(items => {
    for (const text of items) {
      const div = document.createElement('div');
      div.className = 'item'; div.textContent = text;
      document.getElementById('feed').appendChild(div);
    }
    loading = false;
  });
}
window.addEventListener('scroll', () => {
  if (window.innerHeight + window.scrollY >= document.body.scrollHeight - 600) more();
});
</script></body></html>
"""

LAZY_PAGE = b"""<!doctype html><html><head><title>Lazy</title></head><body>
<h1>Top of the page</h1><div style="height: 3000px">spacer</div>
<div id="lazy">placeholder</div><img id="lazy-img" alt="">
<div style="height: 400px"></div>
<script>
new IntersectionObserver((entries, observer) => {
  if (!entries.some(e => e.isIntersecting)) return;
  observer.disconnect();
  document.getElementById('lazy-img').src = '/img/lazy.png';
  fetch('/api/lazy.json').then(r => r.json()).then(d => {
    document.getElementById('lazy').textContent = d.text;
  });
}).observe(document.getElementById('lazy'));
</script></body></html>
"""

NEVER_PAGE = b"""<!doctype html><html><head><title>Never finishes</title></head><body>
<p>Visible before the image ends, which it never does.</p><img src="/drip">
</body></html>
"""

BLOCKED_PAGE = b"""<!doctype html><html><head><title>Partly blocked</title></head><body>
<p>Page with refused resources.</p><img src="/blocked/pixel.png">
<script>fetch('/blocked/data.json').catch(() => {});</script></body></html>
"""

ECHO_PAGE = b"""<!doctype html><html><head><title>Echo</title></head><body><p id="out">-</p>
<script>
fetch('/api/echo', {method: 'POST', body: 'statement-2024',
                    headers: {'Content-Type': 'text/plain'}})
  .then(r => r.json())
  .then(d => { document.getElementById('out').textContent = 'echo: ' + d.method + ' ' + d.body; });
</script></body></html>
"""

LEAK_PAGE = """<!doctype html><html><head><title>Leaks</title>
<link rel="preconnect" href="http://127.0.0.1:{tcp}/">
<link rel="dns-prefetch" href="http://canary.invalid/"></head><body>
<p id="xhr">-</p><p id="ws">-</p>
<script>
fetch('/redirect?to=/api/news.json').then(r => r.json()).then(d => {{
  document.getElementById('xhr').textContent = 'redirected xhr: ' + d.items[0].name;
}});
try {{
  const ws = new WebSocket('ws://127.0.0.1:{tcp}/socket');
  ws.onclose = e => {{ document.getElementById('ws').textContent = 'ws closed ' + e.code; }};
}} catch (e) {{}}
try {{
  const pc = new RTCPeerConnection({{iceServers: [{{urls: 'stun:127.0.0.1:{udp}'}}]}});
  pc.createDataChannel('x');
  pc.createOffer().then(o => pc.setLocalDescription(o));
}} catch (e) {{}}
</script></body></html>
"""

TALL_PAGE = f"""<!doctype html><html><head><title>Tall</title></head>
<body style="margin:0"><div style="height:{TALL_PX}px;background:linear-gradient(#fff,#00f)">
top</div></body></html>
""".encode()


BUSY_PAGE = b"""<!doctype html><html><head><title>Busy</title></head><body>
<p>About to hang.</p><script>setTimeout(() => { for (;;) {} }, 200);</script></body></html>
"""


class LeakCanary:
    """A TCP listener and a UDP socket on loopback that nothing legitimate ever contacts."""

    def __init__(self) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp_connections = 0
        self.udp_datagrams = 0
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, daemon=True),
            threading.Thread(target=self._receive, daemon=True),
        ]

    @property
    def tcp_port(self) -> int:
        return int(self.tcp.getsockname()[1])

    @property
    def udp_port(self) -> int:
        return int(self.udp.getsockname()[1])

    def _accept(self) -> None:
        self.tcp.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                connection, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            self.tcp_connections += 1
            connection.close()

    def _receive(self) -> None:
        self.udp.settimeout(0.1)
        while not self._stopping.is_set():
            try:
                self.udp.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            self.udp_datagrams += 1

    def start(self) -> LeakCanary:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self.tcp.close()
        self.udp.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: BrowserTestSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up is what the tests cause."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "osint-archive-browser-test/1"
    timeout = 10

    @property
    def site(self) -> BrowserTestSite:
        return cast(_Server, self.server).site

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the tests report what matters."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.site.count(parts.path)
        route = ROUTES.get(parts.path)
        if route is None:
            self.send(404, b"not found\n", "text/plain; charset=utf-8")
        else:
            route(self, parse_qs(parts.query))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.site.count(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if parts.path != "/api/echo":
            self.send(404, b"not found\n", "text/plain")
            return
        echo = {"method": self.command, "body": body.decode("utf-8", "replace")}
        self.send(200, json.dumps(echo).encode(), "application/json")

    def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.write(body)

    def write(self, data: bytes) -> bool:
        """Write and flush; False (and the connection marked closed) if the client is gone."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
            return False
        return True

    def html(self, body: bytes) -> None:
        self.send(200, body, "text/html; charset=utf-8")

    # Routes: (handler, query).
    def js_page(self, query: dict[str, list[str]]) -> None:
        self.html(JS_PAGE)

    def news(self, query: dict[str, list[str]]) -> None:
        self.send(200, NEWS_JSON, "application/json")

    def gzip_page(self, query: dict[str, list[str]]) -> None:
        self.html(GZIP_PAGE)

    def gzip_script(self, query: dict[str, list[str]]) -> None:
        headers = (("Content-Encoding", "gzip"),)
        self.send(200, GZIP_SCRIPT, "application/javascript", headers)

    def alert(self, query: dict[str, list[str]]) -> None:
        self.html(ALERT_PAGE)

    def popup(self, query: dict[str, list[str]]) -> None:
        self.html(POPUP_PAGE)

    def popup_target(self, query: dict[str, list[str]]) -> None:
        self.html(POPUP_TARGET)

    def download(self, query: dict[str, list[str]]) -> None:
        self.html(DOWNLOAD_PAGE)

    def report(self, query: dict[str, list[str]]) -> None:
        headers = (("Content-Disposition", 'attachment; filename="report.pdf"'),)
        self.send(200, REPORT_PDF, "application/pdf", headers)

    def infinite(self, query: dict[str, list[str]]) -> None:
        self.html(INFINITE_PAGE)

    def more(self, query: dict[str, list[str]]) -> None:
        page = int(query.get("page", ["1"])[0])
        items = [f"item {page}.{n}" for n in range(3)]
        self.send(200, json.dumps(items).encode(), "application/json")

    def lazy(self, query: dict[str, list[str]]) -> None:
        self.html(LAZY_PAGE)

    def lazy_json(self, query: dict[str, list[str]]) -> None:
        self.send(200, json.dumps({"text": LAZY_TEXT}).encode(), "application/json")

    def lazy_png(self, query: dict[str, list[str]]) -> None:
        self.send(200, LAZY_PNG, "image/png")

    def never(self, query: dict[str, list[str]]) -> None:
        self.html(NEVER_PAGE)

    def drip(self, query: dict[str, list[str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Connection", "close")  # no length: the body never ends
        self.end_headers()
        self.close_connection = True
        while not self.site.stopping.is_set() and self.write(b"."):
            time.sleep(DRIP_INTERVAL_SECONDS)
        self.site.drip_finished.set()

    def redirect(self, query: dict[str, list[str]]) -> None:
        location = query.get("to", ["/js-page.html"])[0]
        self.send(302, b"moved\n", "text/plain", (("Location", location),))

    def blocked(self, query: dict[str, list[str]]) -> None:
        self.html(BLOCKED_PAGE)

    def echo_page(self, query: dict[str, list[str]]) -> None:
        self.html(ECHO_PAGE)

    def leak(self, query: dict[str, list[str]]) -> None:
        canary = self.site.canary
        page = LEAK_PAGE.format(tcp=canary.tcp_port, udp=canary.udp_port)
        self.html(page.encode())

    def tall(self, query: dict[str, list[str]]) -> None:
        self.html(TALL_PAGE)

    def cookie(self, query: dict[str, list[str]]) -> None:
        headers = (("Set-Cookie", "session=abc; Path=/"), ("Set-Cookie", "consent=yes; Path=/"))
        self.send(200, b"<!doctype html><title>Cookies</title>", "text/html", headers)

    def busy(self, query: dict[str, list[str]]) -> None:
        self.html(BUSY_PAGE)


Route = Callable[[_Handler, dict[str, list[str]]], None]
ROUTES: dict[str, Route] = {
    "/js-page.html": _Handler.js_page,
    "/api/news.json": _Handler.news,
    "/gzip-script.html": _Handler.gzip_page,
    "/static/gzip-script.js": _Handler.gzip_script,
    "/alert.html": _Handler.alert,
    "/popup.html": _Handler.popup,
    "/popup-target.html": _Handler.popup_target,
    "/download.html": _Handler.download,
    "/files/report.pdf": _Handler.report,
    "/infinite.html": _Handler.infinite,
    "/api/more": _Handler.more,
    "/lazy.html": _Handler.lazy,
    "/api/lazy.json": _Handler.lazy_json,
    "/img/lazy.png": _Handler.lazy_png,
    "/never-finishes.html": _Handler.never,
    "/drip": _Handler.drip,
    "/redirect": _Handler.redirect,
    "/blocked.html": _Handler.blocked,
    "/echo.html": _Handler.echo_page,
    "/leak.html": _Handler.leak,
    "/tall.html": _Handler.tall,
    "/cookie.html": _Handler.cookie,
    "/busy.html": _Handler.busy,
}


class BrowserTestSite(LoopbackSite):
    """Serve the routes above on loopback; use as a context manager."""

    thread_name = "browser-test-site"

    def __init__(self) -> None:
        super().__init__()
        self.stopping = threading.Event()
        self.drip_finished = threading.Event()
        self.canary = LeakCanary()
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def make_server(self) -> ThreadingHTTPServer:
        server = _Server((self.host, 0), _Handler)
        server.site = self
        return server

    def on_start(self) -> None:
        self.canary.start()

    def on_stop(self) -> None:
        self.stopping.set()
        self.canary.stop()

    def count(self, path: str) -> None:
        with self._lock:
            self._hits[path] += 1

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]
