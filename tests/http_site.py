"""A local web site for the fetcher's tests: every awkward answer a real server can give.

A stdlib threaded HTTP server on 127.0.0.1 (a free port) in a background thread, optionally
over TLS with a throwaway CA made by ``make_tls_material``. Routes:

``/page.html``, ``/base.html``
    HTML with links (relative, duplicate, fragments, javascript:, mailto:) and ``<base href>``.
``/redirect/301`` → ``/redirect/302`` → ``/page.html``; ``/loop/a`` ⇄ ``/loop/b``
    A redirect chain and a redirect loop.
``/redirect?to=URL``
    A 302 to any URL, e.g. a blocked address.
``/big``
    ``BIG_BODY`` (2 MB) with a Content-Length, for a size cap.
``/drip``
    One byte every 0.2 s, forever; stops when the client hangs up (``drip_finished`` is set).
``/gzip-bomb``, ``/corrupt-gzip``
    Content-Encoding gzip: ~200 KB that inflate to 200 MB; a gzip header then garbage.
``/bad-utf8``, ``/cp1251``
    Invalid UTF-8 declared as utf-8; a cp1251 page with no charset anywhere.
``/retry/429``, ``/retry/503-twice``, ``/retry/always-503``
    429 with ``Retry-After: 1`` then 200; 503 twice then 200; always 503. Counted per site.
``/chunked``
    ``Transfer-Encoding: chunked``; the de-chunked body is ``CHUNKED_BODY``.
``/echo`` (GET and POST), ``/see-other`` (POST → 303 → ``/echo``)
    The request as the server saw it, as JSON: method, headers, body.
``/robots.txt``, ``/robots-bom.txt``, ``/status/CODE``
    Robots rules (plain and with a UTF-8 byte-order mark); an empty answer with any status.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "BIG_BODY",
    "BOMB_INFLATED_BYTES",
    "CHUNKED_BODY",
    "CP1251_TITLE",
    "DRIP_INTERVAL_SECONDS",
    "LocalHttpSite",
    "TlsMaterial",
    "gzip_bomb",
    "make_tls_material",
]

BIG_BODY = bytes(range(256)) * (2 * 1024 * 1024 // 256)
BOMB_INFLATED_BYTES = 200 * 1024 * 1024
DRIP_INTERVAL_SECONDS = 0.2
CHUNKS = (b"<html><head><title>Chunked</title></head>", b"<body><p>in parts", b"</p></body></html>")
CHUNKED_BODY = b"".join(CHUNKS)
CP1251_TITLE = "Новости Минска"

PAGE_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Local test page</title></head>
<body><article>
<h1>Detentions reported in the capital</h1>
<p>Witnesses described several detentions near the central square on Saturday evening.
The reports were collected by volunteers and checked against photographs and video.</p>
<p><a href="/news/one.html">One</a> <a href="/news/one.html#comments">One, comments</a>
<a href="news/two.html">Two</a> <a href="https://example.org/elsewhere#x">Elsewhere</a>
<a href="#top">Top</a> <a href="javascript:alert(1)">Script</a>
<a href="mailto:editor@example.org">Mail</a> <a href="JavaScript:void(0)">Script 2</a></p>
</article></body></html>
"""

BASE_HTML = b"""<!doctype html>
<html><head><title>Mirrored</title><base href="https://mirror.example.org/archive/"></head>
<body><p><a href="item.html">Item</a> <a href="/root.html">Root</a>
<a href="item.html#part">Item again</a></p></body></html>
"""

BAD_UTF8_HTML = (
    b"<!doctype html><html><head><title>Caf\xe9 \xff\xfe report</title></head>"
    b"<body><p>Broken \xc3\x28 bytes in an otherwise ordinary paragraph of text.</p>"
    b"</body></html>"
)

CP1251_HTML = (
    f"<html><head><title>{CP1251_TITLE}</title></head><body>"
    "<p>Задержания у центральной площади: свидетели сообщили о нескольких задержанных.</p>"
    "</body></html>"
).encode("cp1251")

ROBOTS_TXT = b"""User-agent: *
Disallow: /private/

User-agent: osint-archive
Disallow: /no-archive/
"""
# A byte-order mark, then a single group: lose the first line and every rule is lost.
ROBOTS_BOM_TXT = b"\xef\xbb\xbfUser-agent: *\nDisallow: /private/\n"


@functools.cache
def gzip_bomb() -> bytes:
    """A gzip body of about 200 KB that inflates to ``BOMB_INFLATED_BYTES`` of HTML."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [compressor.compress(b"<html><body><p>")]
    block = b" " * (1024 * 1024)
    parts.extend(compressor.compress(block) for _ in range(BOMB_INFLATED_BYTES // len(block)))
    parts.append(compressor.flush())
    return b"".join(parts)


def corrupt_gzip() -> bytes:
    """A valid gzip header followed by bytes that are not a deflate stream."""
    return bytes([0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0xFF]) + b"\xff" * 64


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    site: LocalHttpSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up and failed TLS handshakes are what tests cause."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "osint-archive-test/1"
    timeout = 10  # idle keep-alive connections end instead of holding a thread forever

    @property
    def site(self) -> LocalHttpSite:
        return cast(_Server, self.server).site

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()  # here, not in the accept loop, so one bad client
        super().setup()  # cannot stall the server

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the tests report what matters."""

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        hits = self.site.count(parts.path)
        route = ROUTES.get(parts.path)
        if route is not None:
            route(self, parse_qs(parts.query), hits)
        elif parts.path.startswith("/status/") and parts.path[8:].isdigit():
            self.send(int(parts.path[8:]), b"", "text/plain")
        else:
            self.send(404, b"not found\n", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        self.site.count(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if parts.path == "/retry/always-503":
            self.send(503, b"busy\n", "text/plain")
        elif parts.path == "/see-other":
            self.redirect(303, "/echo")
        elif parts.path == "/echo":
            self.echo(body)
        else:
            self.send(404, b"not found\n", "text/plain; charset=utf-8")

    def echo(self, body: bytes = b"") -> None:
        seen = {
            "method": self.command,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
        }
        self.send(200, json.dumps(seen).encode(), "application/json")

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
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.close_connection = True
            return False
        return True

    def redirect(self, status: int, location: str) -> None:
        self.send(status, b"moved\n", "text/plain", (("Location", location),))

    # Routes: (handler, query, hits on this path so far including this one).
    def page(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, PAGE_HTML, "text/html; charset=utf-8")

    def base_page(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, BASE_HTML, "text/html; charset=utf-8")

    def redirect_301(self, query: dict[str, list[str]], hits: int) -> None:
        self.redirect(301, "/redirect/302")

    def redirect_302(self, query: dict[str, list[str]], hits: int) -> None:
        self.redirect(302, "/page.html")

    def loop_a(self, query: dict[str, list[str]], hits: int) -> None:
        self.redirect(302, "/loop/b")

    def loop_b(self, query: dict[str, list[str]], hits: int) -> None:
        self.redirect(302, "/loop/a")

    def redirect_anywhere(self, query: dict[str, list[str]], hits: int) -> None:
        self.redirect(302, query["to"][0])

    def big(self, query: dict[str, list[str]], hits: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(BIG_BODY)))
        self.end_headers()
        for start in range(0, len(BIG_BODY), 65536):
            if not self.write(BIG_BODY[start : start + 65536]):
                return

    def drip(self, query: dict[str, list[str]], hits: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Connection", "close")  # no length: the body never ends
        self.end_headers()
        self.close_connection = True
        try:
            while not self.site.stopping.is_set() and self.write(b"."):
                time.sleep(DRIP_INTERVAL_SECONDS)
        finally:
            self.site.drip_finished.set()

    def bomb(self, query: dict[str, list[str]], hits: int) -> None:
        headers = (("Content-Encoding", "gzip"),)
        self.send(200, gzip_bomb(), "text/html; charset=utf-8", headers)

    def corrupt(self, query: dict[str, list[str]], hits: int) -> None:
        headers = (("Content-Encoding", "gzip"),)
        self.send(200, corrupt_gzip(), "text/html; charset=utf-8", headers)

    def bad_utf8(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, BAD_UTF8_HTML, "text/html; charset=utf-8")

    def cp1251(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, CP1251_HTML, "text/html")

    def retry_429(self, query: dict[str, list[str]], hits: int) -> None:
        if hits == 1:
            self.send(429, b"slow down\n", "text/plain", (("Retry-After", "1"),))
        else:
            self.send(200, PAGE_HTML, "text/html; charset=utf-8")

    def retry_503_twice(self, query: dict[str, list[str]], hits: int) -> None:
        if hits <= 2:
            self.send(503, b"unavailable\n", "text/plain")
        else:
            self.send(200, PAGE_HTML, "text/html; charset=utf-8")

    def always_503(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(503, f"still unavailable ({hits})\n".encode(), "text/plain")

    def chunked(self, query: dict[str, list[str]], hits: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in CHUNKS:
            if not self.write(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                return
        self.write(b"0\r\n\r\n")

    def robots(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, ROBOTS_TXT, "text/plain")

    def robots_bom(self, query: dict[str, list[str]], hits: int) -> None:
        self.send(200, ROBOTS_BOM_TXT, "text/plain")


Route = Callable[[_Handler, dict[str, list[str]], int], None]
ROUTES: dict[str, Route] = {
    "/": _Handler.page,
    "/page.html": _Handler.page,
    "/base.html": _Handler.base_page,
    "/redirect/301": _Handler.redirect_301,
    "/redirect/302": _Handler.redirect_302,
    "/loop/a": _Handler.loop_a,
    "/loop/b": _Handler.loop_b,
    "/redirect": _Handler.redirect_anywhere,
    "/big": _Handler.big,
    "/drip": _Handler.drip,
    "/gzip-bomb": _Handler.bomb,
    "/corrupt-gzip": _Handler.corrupt,
    "/bad-utf8": _Handler.bad_utf8,
    "/cp1251": _Handler.cp1251,
    "/retry/429": _Handler.retry_429,
    "/retry/503-twice": _Handler.retry_503_twice,
    "/retry/always-503": _Handler.always_503,
    "/chunked": _Handler.chunked,
    "/echo": lambda handler, query, hits: handler.echo(),
    "/robots.txt": _Handler.robots,
    "/robots-bom.txt": _Handler.robots_bom,
}


class LocalHttpSite:
    """Serve the routes above on loopback; ``start()``/``stop()`` or use as a context manager."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.ssl_context = ssl_context
        self.stopping = threading.Event()
        self.drip_finished = threading.Event()
        self._hits: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalHttpSite is not started")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """E.g. ``http://127.0.0.1:8765`` (no trailing slash); valid once started."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def count(self, path: str) -> int:
        """Record a request for ``path``; the number of requests for it so far."""
        with self._lock:
            self._hits[path] += 1
            return self._hits[path]

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def start(self) -> LocalHttpSite:
        if self._server is not None:
            return self
        server = _Server((self.host, 0), _Handler)
        server.site = self
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="local-http-site", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> LocalHttpSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class TlsMaterial:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""

    ca_pem: bytes
    cert_path: Path
    key_path: Path
    cert_der: bytes
    common_name: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_path, self.key_path)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts only this CA."""
        return ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))


def make_tls_material(
    directory: Path, common_name: str = "osint-archive test server"
) -> TlsMaterial:
    """Create a CA and a server certificate (SAN IP 127.0.0.1) under ``directory``."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "osint-archive test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsMaterial(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_path=cert_path,
        key_path=key_path,
        cert_der=cert.public_bytes(serialization.Encoding.DER),
        common_name=common_name,
    )
