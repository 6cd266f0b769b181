"""One HTTP(S) fetch as evidence: raw response bytes, digests, peer address, TLS certificate.

Built on aiohttp with decompression off, so the stored body is the bytes the server sent
(content-encoded as sent). Redirects are followed by hand so every hop is checked against the
network policy and recorded. Bodies stream into a spooled temporary file while hashed, under a
size cap and a total-time cap; a capped body is kept and marked truncated, never dropped.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import random
import socket
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.connector import Connection
from warcio.statusandheaders import StatusAndHeaders

from collectors.netguard import BlockedTargetError, NetworkPolicy

SPOOL_IN_MEMORY = 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Transfer coding is undone by the client; the original header is kept under this name so the
# stored record stays self-consistent (the convention of web-archive replay tools).
ORIGINAL_TRANSFER_ENCODING = "X-Archive-Orig-Transfer-Encoding"


# Connection-level headers a client sets for itself; a replayed browser request drops them.
HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
        # The fetcher asks for encodings it can undo (the page text and a browser's copy need
        # the decoded body), whatever the original client offered.
        "accept-encoding",
    }
)


@dataclass(frozen=True)
class _Request:
    method: str
    headers: dict[str, str] | None = None
    data: bytes | None = None


def _end_to_end(headers: Mapping[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    return {
        k: v
        for k, v in headers.items()
        if k.lower() not in HOP_BY_HOP_HEADERS and not k.startswith(":")
    }


class FetchError(Exception):
    """A fetch that produced no response to keep; ``retryable`` says whether to try again."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RedirectError(FetchError):
    """Too many redirects, or a redirect loop."""


@dataclass(frozen=True)
class FetchLimits:
    """Caps and retry behaviour for one fetch."""

    max_bytes: int = 50_000_000
    max_seconds: float = 120.0
    timeout_seconds: float = 30.0
    max_redirects: int = 10
    retries: int = 3
    backoff_seconds: float = 1.0
    max_retry_after_seconds: float = 120.0


@dataclass(frozen=True)
class TlsInfo:
    """The server certificate as seen during the fetch."""

    sha256_fingerprint: str
    subject: str
    issuer: str
    not_after: str
    protocol: str


@dataclass
class HttpExchange:
    """One request and its response (one hop of a redirect chain)."""

    url: str
    request_head: StatusAndHeaders
    response_head: StatusAndHeaders
    body: IO[bytes]
    body_size: int
    payload_sha256: str
    block_sha256: str
    ip_address: str | None
    tls: TlsInfo | None
    fetched_at: datetime
    elapsed_seconds: float
    truncated: str | None = None  # "length" or "time", as WARC-Truncated names them
    request_body: bytes = b""  # what a POST sent, kept for the WARC request record

    @property
    def status(self) -> int:
        return int(self.response_head.get_statuscode() or 0)

    def header(self, name: str) -> str | None:
        value = self.response_head.get_header(name)
        return str(value) if value is not None else None

    def close(self) -> None:
        self.body.close()


@dataclass
class FetchResult:
    """A requested URL and every hop it took; the last hop is the final response."""

    requested_url: str
    hops: list[HttpExchange] = field(default_factory=list)
    attempts: int = 1

    @property
    def final(self) -> HttpExchange:
        return self.hops[-1]

    @property
    def redirect_chain(self) -> list[str]:
        return [hop.url for hop in self.hops]

    def close(self) -> None:
        for hop in self.hops:
            hop.close()


class GuardedResolver(AbstractResolver):
    """Resolves names and refuses answers the network policy forbids.

    Checking the very addresses the connection will use (rather than resolving once to check
    and again to connect) closes the DNS-rebinding gap.
    """

    def __init__(self, policy: NetworkPolicy) -> None:
        self._policy = policy
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        self._policy.check_addresses(host, [result["host"] for result in results])
        return results

    async def close(self) -> None:
        await self._inner.close()


def _tls_info(ssl_object: ssl.SSLObject | None) -> TlsInfo | None:
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None
    cert: dict[str, Any] = ssl_object.getpeercert() or {}

    def name(field_name: str) -> str:
        return ", ".join(f"{k}={v}" for rdn in cert.get(field_name, ()) for (k, v) in rdn)

    return TlsInfo(
        sha256_fingerprint=hashlib.sha256(der).hexdigest(),
        subject=name("subject"),
        issuer=name("issuer"),
        not_after=str(cert.get("notAfter", "")),
        protocol=ssl_object.version() or "",
    )


class _EvidenceResponse(aiohttp.ClientResponse):
    """A response that notes the peer address and TLS certificate when it starts.

    aiohttp returns the connection to its pool as soon as the whole body has arrived, which for
    a small response happens before ``get()`` returns; ``response.connection`` is then None and
    the peer and certificate could no longer be read.
    """

    peer_address: str | None = None
    tls: TlsInfo | None = None

    async def start(self, connection: Connection) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None:
            peer = transport.get_extra_info("peername")
            self.peer_address = str(peer[0]) if peer else None
            self.tls = _tls_info(transport.get_extra_info("ssl_object"))
        return await super().start(connection)


def _response_head(response: aiohttp.ClientResponse) -> StatusAndHeaders:
    headers = []
    for raw_name, raw_value in response.raw_headers:
        name = raw_name.decode("latin-1")
        if name.lower() == "transfer-encoding":
            name = ORIGINAL_TRANSFER_ENCODING
        headers.append((name, raw_value.decode("latin-1")))
    version_info = response.version or aiohttp.HttpVersion11
    version = f"HTTP/{version_info.major}.{version_info.minor}"
    statusline = f"{response.status} {response.reason or ''}".strip()
    return StatusAndHeaders(statusline, headers, protocol=version)


def _request_head(response: aiohttp.ClientResponse) -> StatusAndHeaders:
    info = response.request_info
    target = info.url.raw_path_qs or "/"
    headers = [(str(k), str(v)) for k, v in info.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", info.url.raw_authority))
    return StatusAndHeaders(f"{info.method} {target} HTTP/1.1", headers, is_http_request=True)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class HttpFetcher:
    """Fetches URLs through one aiohttp session under a network policy and limits."""

    def __init__(
        self,
        policy: NetworkPolicy,
        limits: FetchLimits,
        user_agent: str,
        ssl_context: ssl.SSLContext | None = None,
        connections: int = 64,
        bodies_on_disk: bool = False,
    ) -> None:
        """``bodies_on_disk``: for media files, kept as objects rather than WARC response
        records: every body goes to a named temporary file (``body.name``) that ffprobe can
        read and the store can adopt, and no WARC block digest is computed (``block_sha256``
        is empty) since no response record will hold the body."""
        self.policy = policy
        self.limits = limits
        self.bodies_on_disk = bodies_on_disk
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(policy),
            limit=connections,
            ssl=ssl_context if ssl_context is not None else True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            response_class=_EvidenceResponse,
            trust_env=False,
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
                "Accept-Encoding": "gzip, deflate",
            },
            timeout=aiohttp.ClientTimeout(
                total=None,
                sock_connect=limits.timeout_seconds,
                sock_read=limits.timeout_seconds,
            ),
        )

    async def close(self) -> None:
        await self._session.close()

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        follow_redirects: bool = True,
    ) -> FetchResult:
        """Fetch ``url``, following redirects unless told not to; retries transient failures
        with backoff (only for GET and HEAD: repeating another method may repeat its effect).

        ``headers`` and ``data`` let a browser's own requests (XHR POSTs included) be replayed
        through the guarded fetcher; hop-by-hop headers are dropped.
        """
        request = _Request(method.upper(), _end_to_end(headers), data)
        retries = self.limits.retries if request.method in ("GET", "HEAD") else 0
        attempt = 0
        while True:
            attempt += 1
            result = FetchResult(requested_url=url, attempts=attempt)
            try:
                await self._follow(result, request, follow_redirects)
            except BlockedTargetError:
                result.close()
                raise
            except FetchError as err:
                result.close()
                if not err.retryable or attempt > retries:
                    raise
                await asyncio.sleep(self._backoff(attempt, None))
                continue
            final = result.final
            if final.status in RETRY_STATUSES and attempt <= retries:
                asked = retry_after_seconds(final.header("Retry-After"))
                if asked is not None and asked > self.limits.max_retry_after_seconds:
                    return result  # asked to wait longer than we may: keep the answer as is
                wait = self._backoff(attempt, final.header("Retry-After"))
                result.close()
                await asyncio.sleep(wait)
                continue
            return result

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            return asked
        base = self.limits.backoff_seconds * (2 ** (attempt - 1))
        return base + random.uniform(0, base / 2)  # noqa: S311 - jitter, not security

    async def _follow(self, result: FetchResult, request: _Request, follow: bool) -> None:
        url = result.requested_url
        seen: set[str] = set()
        while True:
            if url in seen:
                raise RedirectError(f"redirect loop at {url}", retryable=False)
            if len(seen) > self.limits.max_redirects:
                raise RedirectError(
                    f"more than {self.limits.max_redirects} redirects", retryable=False
                )
            seen.add(url)
            hop = await self._fetch_one(url, request)
            result.hops.append(hop)
            location = hop.header("Location")
            if not follow or hop.status not in REDIRECT_STATUSES or not location:
                return
            url = urljoin(url, location.strip())
            # As browsers do: 303, and 301/302 after a POST, continue as a GET without a body.
            if hop.status == 303 or (hop.status in (301, 302) and request.method == "POST"):
                request = _Request("HEAD" if request.method == "HEAD" else "GET", request.headers)

    async def _fetch_one(self, url: str, request: _Request) -> HttpExchange:
        self.policy.check_url(url)
        started = time.monotonic()
        fetched_at = datetime.now(UTC)
        try:
            async with asyncio.timeout(self.limits.max_seconds):
                response = await self._session.request(
                    request.method,
                    url,
                    headers=request.headers,
                    data=request.data,
                    allow_redirects=False,
                )
        except BlockedTargetError:
            raise
        except TimeoutError as err:
            # Either cap may have fired: say how long it waited and what the caps are.
            waited = time.monotonic() - started
            raise FetchError(
                f"timed out after {waited:.1f} s with no response (timeout_seconds "
                f"{self.limits.timeout_seconds:g}, max_seconds {self.limits.max_seconds:g})",
                retryable=True,
            ) from err
        except aiohttp.ClientConnectorCertificateError as err:
            # The same certificate comes back on a retry; say so once instead of backing off.
            raise FetchError(f"TLS certificate rejected: {err}", retryable=False) from err
        except aiohttp.ClientConnectorError as err:
            if isinstance(err.os_error, BlockedTargetError):
                raise err.os_error from None
            raise FetchError(f"cannot connect: {err}", retryable=True) from err
        except aiohttp.InvalidURL as err:
            raise FetchError(f"invalid URL: {err}", retryable=False) from err
        except (aiohttp.ClientError, OSError) as err:
            raise FetchError(f"{type(err).__name__}: {err}", retryable=True) from err
        try:
            exchange = await self._read(url, response, started, fetched_at)
            exchange.request_body = request.data or b""
            return exchange
        finally:
            response.close()

    async def _read(
        self,
        url: str,
        response: aiohttp.ClientResponse,
        started: float,
        fetched_at: datetime,
    ) -> HttpExchange:
        assert isinstance(response, _EvidenceResponse)  # the session's response_class
        ip_address = response.peer_address
        if ip_address:
            self.policy.check_addresses(urlsplit(url).hostname or "", [ip_address])
        tls = response.tls
        response_head = _response_head(response)
        payload_digest = hashlib.sha256()
        # warcio writes headers with non-ASCII bytes percent-encoded (to_ascii_bytes); the
        # block digest must cover the bytes as written, or `warcio check` fails.
        block_digest = (
            None if self.bodies_on_disk else hashlib.sha256(response_head.to_ascii_bytes())
        )
        body: IO[bytes] = (
            tempfile.NamedTemporaryFile(prefix="osint-archive-")  # noqa: SIM115
            if self.bodies_on_disk
            else tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        )
        size = 0
        truncated: str | None = None
        remaining = self.limits.max_seconds - (time.monotonic() - started)
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                async for chunk in response.content.iter_any():
                    if size + len(chunk) > self.limits.max_bytes:
                        chunk = chunk[: self.limits.max_bytes - size]
                        truncated = "length"
                    body.write(chunk)
                    payload_digest.update(chunk)
                    if block_digest is not None:
                        block_digest.update(chunk)
                    size += len(chunk)
                    if truncated:
                        break
        except TimeoutError:
            truncated = "time"
        except (aiohttp.ClientError, OSError) as err:
            body.close()
            raise FetchError(f"response body interrupted: {err}", retryable=True) from err
        except BaseException:
            body.close()  # cancelled (a browser page's time cap): no temporary file left behind
            raise
        body.seek(0)
        return HttpExchange(
            url=url,
            request_head=_request_head(response),
            response_head=response_head,
            body=body,
            body_size=size,
            payload_sha256=payload_digest.hexdigest(),
            block_sha256=block_digest.hexdigest() if block_digest is not None else "",
            ip_address=ip_address,
            tls=tls,
            fetched_at=fetched_at,
            elapsed_seconds=time.monotonic() - started,
            truncated=truncated,
        )
