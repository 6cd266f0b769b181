"""Every request a rendered page makes, answered by the archive's own fetcher and recorded.

Chromium's requests are intercepted (``context.route``) and replayed through a caller-supplied
``Fetch`` (normally ``fetch_through(HttpFetcher)``); the route is fulfilled from the fetched
response. Chromium does not undo a Content-Encoding on a fulfilled body (measured: a gzip
script fulfilled with ``Content-Encoding: gzip`` never runs), so the browser gets the decoded
body without the coding and length headers, while the fetched result, bytes as sent, goes to
the archive. A 3xx handed to Chromium would be followed outside interception, so redirects
are followed by the fetcher and only final answers reach the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, Route

from collectors.http_fetch import FetchError, FetchResult, HttpExchange, HttpFetcher
from collectors.netguard import BlockedTargetError
from collectors.page_text import TextExtractionError, decoded_body

QUIET_SECONDS = 0.5  # no request in flight for this long counts as network idle
STOP_GRACE_SECONDS = 5.0
# Conditional requests could be answered 304 against a browser cache the archive never saw;
# without them every answer is a full response that can be archived and replayed.
CONDITIONAL_HEADERS = frozenset(
    {"if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range"}
)
# The browser gets a decoded body of a known length; these would describe the bytes as sent.
NOT_FOR_BROWSER = frozenset(
    {
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "x-archive-orig-transfer-encoding",
    }
)


@dataclass(frozen=True)
class BrowserRequest:
    """One request as Chromium made it (conditional headers removed, see above)."""

    url: str
    method: str
    headers: Mapping[str, str] = field(hash=False)
    post_data: bytes | None
    resource_type: str  # document, script, xhr, fetch, image, media, websocket, …
    is_navigation: bool


Fetch = Callable[[BrowserRequest], Awaitable[FetchResult]]
"""Fetches one browser request; raises ``FetchError``/``BlockedTargetError`` to refuse it."""


def fetch_through(fetcher: HttpFetcher) -> Fetch:
    """A ``Fetch`` replaying each browser request (method, headers, body) through ``fetcher``,
    so the network policy applies to every subresource; the fetcher follows redirects."""

    async def fetch(request: BrowserRequest) -> FetchResult:
        return await fetcher.fetch(
            request.url,
            method=request.method,
            headers=request.headers,
            data=request.post_data,
            follow_redirects=True,
        )

    return fetch


async def browser_request(request: Request) -> BrowserRequest:
    headers = await request.all_headers()
    return BrowserRequest(
        url=request.url,
        method=request.method,
        headers={k: v for k, v in headers.items() if k.lower() not in CONDITIONAL_HEADERS},
        post_data=request.post_data_buffer,
        resource_type=request.resource_type,
        is_navigation=request.is_navigation_request(),
    )


def browser_response(exchange: HttpExchange, max_bytes: int) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and decoded body to fulfil a route with; the stored body is rewound."""
    try:
        body = decoded_body(exchange.body, exchange.header("Content-Encoding"), max_bytes)
    finally:
        exchange.body.seek(0)
    headers: dict[str, str] = {}
    for name, value in exchange.response_head.headers:
        key = name.lower()
        if key in NOT_FOR_BROWSER or (key == "location" and 300 <= exchange.status < 400):
            continue  # a Location on a 3xx would send Chromium around the fetcher
        if key in headers:  # Playwright splits Set-Cookie on newlines, not commas
            value = headers[key] + ("\n" if key == "set-cookie" else ", ") + value
        headers[key] = value
    return exchange.status, headers, body


def is_attachment(exchange: HttpExchange) -> bool:
    disposition = exchange.header("Content-Disposition") or ""
    return disposition.strip().lower().startswith("attachment")


class PageTraffic:
    """The requests of one captured page: fetched, fulfilled or refused, all recorded."""

    def __init__(self, page: Page, fetch: Fetch, max_resources: int, max_body_bytes: int) -> None:
        self.page = page
        self.fetch = fetch
        self.max_resources = max_resources
        self.max_body_bytes = max_body_bytes
        self.exchanges: list[tuple[BrowserRequest, FetchResult]] = []
        self.failed: list[tuple[BrowserRequest, str]] = []
        self.notes: list[str] = []
        self.document_served = False
        # While the capture's own goto runs, a redirected document is re-navigated to its
        # final URL (served from ``_redirected``) so the page's URL and relative links are right.
        self.expect_navigation = False
        self.redirect_target: str | None = None
        self._redirected: dict[str, FetchResult] = {}
        self._in_flight = 0
        self._fetch_count = 0
        self._last_activity = time.monotonic()
        self._fetches: set[asyncio.Task[FetchResult]] = set()
        self._stop_reason: str | None = None

    def note(self, text: str, *, once: bool = False) -> None:
        if not (once and text in self.notes):
            self.notes.append(text)

    async def handle(self, route: Route, request: Request) -> None:
        """Answer one intercepted request of this page from ``fetch``, or refuse it."""
        if self._stop_reason is not None:
            await _abort(route, request)
            return
        self._in_flight += 1
        self._last_activity = time.monotonic()
        try:
            await self._answer(route, request)
        finally:
            self._in_flight -= 1
            self._last_activity = time.monotonic()

    async def refuse(self, route: Route, request: Request, reason: str) -> None:
        """Abort a request of another window (a popup) without fetching it, recording why."""
        wanted = await browser_request(request)
        self.failed.append((wanted, reason))
        if wanted.is_navigation:
            self.note(f"popup closed: {wanted.url}")
        with contextlib.suppress(PlaywrightError):
            # Not "aborted": a window whose first navigation is aborted is never reported
            # to Playwright as a page, so it could not be closed.
            await route.abort("blockedbyclient")

    def refuse_websocket(self, url: str) -> None:
        request = BrowserRequest(url, "GET", {}, None, "websocket", False)
        self.failed.append((request, "WebSocket refused: its traffic cannot be archived"))
        self.note(f"WebSocket refused: {url}")

    async def _answer(self, route: Route, request: Request) -> None:
        wanted = await browser_request(request)
        main_document = wanted.is_navigation and _is_main_frame(request, self.page)
        result = self._redirected.pop(wanted.url, None) if main_document else None
        if result is None:
            if self._fetch_count >= self.max_resources:
                self.note(
                    f"resource cap reached: requests after the first {self.max_resources} refused",
                    once=True,
                )
                self.failed.append((wanted, f"over max_resources ({self.max_resources})"))
                await _abort(route, request)
                return
            result = await self._fetch(wanted)
            if result is None:
                await _abort(route, request)
                return
            self.exchanges.append((wanted, result))
        final = result.final
        if main_document and self.expect_navigation and final.url != wanted.url:
            self._redirected[final.url] = result
            self.redirect_target = final.url
            await _abort(route, request)
            return
        if wanted.is_navigation and is_attachment(final):
            self.failed.append((wanted, "download refused (Content-Disposition: attachment)"))
            self.note(f"download refused: {final.url}")
            await _abort(route, request)
            return
        try:
            status, headers, body = browser_response(final, self.max_body_bytes)
        except TextExtractionError as err:
            self.failed.append((wanted, f"fetched and archived, not given to the browser: {err}"))
            await _abort(route, request)
            return
        if final.url != wanted.url:
            self.note(f"redirect {wanted.url} → {final.url} served at the requested URL")
        if 300 <= status < 400 and final.header("Location"):
            self.note(f"redirect of {final.url} not followed: Location withheld from the browser")
        if final.truncated:
            self.note(f"body of {final.url} truncated ({final.truncated}) by the fetcher")
        if main_document:
            self.document_served = True
        with contextlib.suppress(PlaywrightError):  # the page may be gone by now
            await route.fulfill(status=status, headers=headers, body=body)

    async def _fetch(self, wanted: BrowserRequest) -> FetchResult | None:
        if self._stop_reason is not None:  # stopped while this handler read the request
            self.failed.append((wanted, self._stop_reason))
            return None
        self._fetch_count += 1
        task = asyncio.ensure_future(self.fetch(wanted))
        self._fetches.add(task)
        try:
            return await task
        except (FetchError, BlockedTargetError) as err:
            kind = "blocked" if isinstance(err, BlockedTargetError) else "fetch failed"
            self.failed.append((wanted, f"{kind}: {err}"))
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this handler itself is being cancelled, not just its fetch
            self.failed.append((wanted, self._stop_reason or "fetch cancelled"))
        except Exception as err:  # a caller's fetch function must not take the browser down
            self.failed.append((wanted, f"fetch raised {type(err).__name__}: {err}"))
        finally:
            self._fetches.discard(task)
        return None

    async def wait_idle(self, seconds: float, *, from_now: bool = False) -> bool:
        """Wait until no request has been in flight for ``QUIET_SECONDS`` (counted from now
        with ``from_now``: a scroll's requests start a frame later); False on timeout."""
        if from_now:
            self._last_activity = max(self._last_activity, time.monotonic())
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            if self._in_flight == 0 and now - self._last_activity >= QUIET_SECONDS:
                return True
            if now >= end:
                return False
            await asyncio.sleep(min(0.1, end - now))

    async def stop(self, reason: str) -> None:
        """Refuse new requests, cancel fetches in flight (recorded as failed with ``reason``)
        and wait for every handler to finish recording, so the lists are final."""
        if self._stop_reason is not None:
            return
        self._stop_reason = reason
        for task in list(self._fetches):
            task.cancel()
        end = time.monotonic() + STOP_GRACE_SECONDS
        while self._in_flight and time.monotonic() < end:
            await asyncio.sleep(0.02)
        self._redirected.clear()  # each result is also in ``exchanges``; the caller closes it


def _is_main_frame(request: Request, page: Page) -> bool:
    try:
        return request.frame == page.main_frame
    except PlaywrightError:
        return False  # no frame yet: a navigation of a new window


async def _abort(route: Route, request: Request) -> None:
    # "aborted" leaves the current document in place; "failed" would commit an error page.
    code = "aborted" if request.is_navigation_request() else "blockedbyclient"
    with contextlib.suppress(PlaywrightError):
        await route.abort(code)
