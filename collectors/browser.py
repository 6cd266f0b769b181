"""Render a page in headless Chromium and keep what it showed: DOM, screenshot, every request.

Recording is done by request interception, not by a recording proxy (warcprox-style), which
would need a certificate authority of its own trusted by the browser to see HTTPS, and would
make its own connections outside the project's network guard. Instead every request the
browser makes (document, XHR/fetch, scripts, styles, images, media) is intercepted and
replayed through a caller-supplied fetch function, normally the project's guarded
``HttpFetcher``, and answered from its result (``collectors.browser_traffic``). So:

* the bytes the page rendered are the bytes archived: the caller writes each fetched
  request/response, digests included, to WARC;
* the network policy (no private targets, DNS-rebinding check) applies to every
  subresource, not just the first URL;
* no man-in-the-middle certificate authority is needed: Chromium never speaks TLS, the
  fetcher does, and records the server's real certificate.

What interception cannot see is stopped at launch (``collectors.browser_launch``): a proxy
that cannot be reached, no DNS, WebRTC without UDP, WebSockets refused, service workers
blocked. ``data:`` and ``blob:`` URLs need no network.

A page is driven within ``page_seconds``: navigate, wait for load and network idle (each
bounded by ``settle_seconds``), scroll down step by step for lazy content (bounded, so
infinite scroll stops), wait again, then take the full-page screenshot and the DOM (within a
further ``FINISH_SECONDS``). Dialogs are dismissed, popups closed, downloads refused; each is
recorded in ``notes``. When the cap is hit the page is kept as far as it got, and requests
still loading are cut off and listed in ``failed``.

Pages of one ``SourceContext`` share cookies and cache and are captured one at a time, so
every intercepted request belongs to the page being captured (or to a popup it opened).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType

from playwright.async_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    WebSocketRoute,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError

from collectors.browser_launch import BrowserOptions, BrowserUnavailable, launch_chromium
from collectors.browser_page import scroll_through, take_screenshot, watch_page
from collectors.browser_traffic import BrowserRequest, Fetch, PageTraffic, fetch_through
from collectors.http_fetch import FetchResult

__all__ = [
    "BrowserCaptureError",
    "BrowserOptions",
    "BrowserRequest",
    "BrowserSession",
    "BrowserUnavailable",
    "Fetch",
    "RenderedPage",
    "SourceContext",
    "fetch_through",
]

FINISH_SECONDS = 20.0  # screenshot (two tries at most) and DOM, after page_seconds
MAX_REDIRECT_NAVIGATIONS = 3


class BrowserCaptureError(Exception):
    """A page gave nothing worth keeping (no document, or no DOM); names URL, stage, reason."""

    def __init__(self, url: str, stage: str, reason: str) -> None:
        super().__init__(f"{url}: browser capture failed at {stage}: {reason}")
        self.url = url
        self.stage = stage
        self.reason = reason


@dataclass
class RenderedPage:
    """What one page rendered, and every request it made.

    ``exchanges`` are in the order their responses arrived (the document first); the caller
    writes them to WARC and closes them. ``failed`` lists requests refused or cut off.
    """

    requested_url: str
    final_url: str
    title: str
    dom_html: str
    screenshot_png: bytes
    exchanges: list[tuple[BrowserRequest, FetchResult]]
    failed: list[tuple[BrowserRequest, str]]
    notes: list[str]
    browser_version: str
    elapsed_seconds: float
    options: BrowserOptions = field(default_factory=BrowserOptions)

    def close(self) -> None:
        for _, result in self.exchanges:
            result.close()


class SourceContext:
    """One browser context (cookies, cache) for the pages of one source, captured in turn."""

    def __init__(self, context: BrowserContext, options: BrowserOptions, version: str) -> None:
        self._context = context
        self._options = options
        self._version = version
        self._lock = asyncio.Lock()
        self._traffic: PageTraffic | None = None

    async def start(self) -> None:
        await self._context.route(lambda _url: True, self._route)
        await self._context.route_web_socket(lambda _url: True, self._refuse_websocket)

    async def capture(self, url: str, fetch: Fetch) -> RenderedPage:
        """Render ``url`` with every request answered by ``fetch``; see the module docstring."""
        async with self._lock:
            started = time.monotonic()
            page = await self._context.new_page()
            traffic = PageTraffic(
                page, fetch, self._options.max_resources, self._options.max_body_bytes
            )
            self._traffic = traffic
            watch_page(page, traffic)
            try:
                return await self._capture(page, traffic, url, started)
            except BaseException:
                await traffic.stop("capture failed")
                for _, result in traffic.exchanges:
                    result.close()
                raise
            finally:
                await traffic.stop("still loading when the capture ended")
                self._traffic = None
                with contextlib.suppress(PlaywrightError):
                    await page.close()

    async def _capture(
        self, page: Page, traffic: PageTraffic, url: str, started: float
    ) -> RenderedPage:
        options = self._options
        try:
            async with asyncio.timeout(options.page_seconds):
                await self._navigate(page, traffic, url)
                try:
                    await page.wait_for_load_state("load", timeout=options.settle_seconds * 1000)
                except PlaywrightError:
                    traffic.note("load event not fired within settle_seconds; went on")
                await traffic.wait_idle(options.settle_seconds)
                await scroll_through(page, traffic, options)
                await traffic.wait_idle(options.settle_seconds)
        except TimeoutError:
            traffic.note(f"stopped at page_seconds ({options.page_seconds:g} s)")
            await traffic.stop("still loading at page_seconds")
            if not traffic.document_served:
                reason = f"no document within page_seconds ({options.page_seconds:g} s)"
                raise BrowserCaptureError(url, "navigation", reason) from None
        try:
            async with asyncio.timeout(FINISH_SECONDS):
                screenshot = await take_screenshot(page, traffic, options)
                dom_html = await page.content()
                title = await page.title()
        except (TimeoutError, PlaywrightError) as err:
            reason = str(err).strip().splitlines()[0] if str(err).strip() else "timed out"
            raise BrowserCaptureError(url, "DOM snapshot", reason) from err
        final_url = page.url
        await traffic.stop("still loading when the capture ended")
        return RenderedPage(
            requested_url=url,
            final_url=final_url,
            title=title,
            dom_html=dom_html,
            screenshot_png=screenshot,
            exchanges=traffic.exchanges,
            failed=traffic.failed,
            notes=traffic.notes,
            browser_version=self._version,
            elapsed_seconds=time.monotonic() - started,
            options=options,
        )

    async def _navigate(self, page: Page, traffic: PageTraffic, url: str) -> None:
        target = url
        for _ in range(MAX_REDIRECT_NAVIGATIONS):
            traffic.expect_navigation = True
            traffic.redirect_target = None
            try:
                await page.goto(target, wait_until="commit", timeout=0)
            except PlaywrightError as err:
                if traffic.redirect_target is not None:
                    target = traffic.redirect_target  # served from the fetched redirect chain
                    continue
                reasons = [reason for request, reason in traffic.failed if request.url == target]
                reason = reasons[-1] if reasons else str(err).strip().splitlines()[0]
                raise BrowserCaptureError(url, "navigation", reason) from err
            finally:
                traffic.expect_navigation = False
            if traffic.document_served:
                return
            raise BrowserCaptureError(url, "navigation", "no document was served")
        raise BrowserCaptureError(url, "navigation", "redirected document did not load")

    async def _route(self, route: Route, request: Request) -> None:
        traffic = self._traffic
        if traffic is None:
            with contextlib.suppress(PlaywrightError):
                await route.abort("aborted")
            return
        try:
            own_page = request.frame.page == traffic.page
        except PlaywrightError:
            own_page = False  # a navigation issued before its frame exists: a new window
        if own_page:
            await traffic.handle(route, request)
        else:
            await traffic.refuse(route, request, "from a popup window (closed, not followed)")

    async def _refuse_websocket(self, websocket: WebSocketRoute) -> None:
        if self._traffic is not None:
            self._traffic.refuse_websocket(websocket.url)
        with contextlib.suppress(PlaywrightError):
            await websocket.close(code=1008, reason="not archived")


class BrowserSession:
    """Playwright and one Chromium, started once; pages are captured in fresh contexts.

    ``async with BrowserSession(options) as session:`` then either
    ``await session.capture(url, fetch)`` (a context of its own) or
    ``async with session.source_context() as ctx: await ctx.capture(url, fetch)`` for
    several pages of one source sharing cookies.
    """

    def __init__(self, options: BrowserOptions | None = None) -> None:
        self.options = options if options is not None else BrowserOptions()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    @property
    def browser_version(self) -> str:
        if self._browser is None:
            raise RuntimeError("BrowserSession is not started")
        return f"Chromium {self._browser.version}"

    async def __aenter__(self) -> BrowserSession:
        self._playwright = await async_playwright().start()
        try:
            self._browser = await launch_chromium(self._playwright, self.options)
        except BaseException:
            await self._playwright.stop()
            self._playwright = None
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            with contextlib.suppress(PlaywrightError):
                await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None

    @contextlib.asynccontextmanager
    async def source_context(
        self, options: BrowserOptions | None = None
    ) -> AsyncIterator[SourceContext]:
        """A fresh browser context (no cookies, no cache) whose pages share state; ``options``
        override the session's per-page settings (time cap, scrolling, user agent) for it."""
        if self._browser is None:
            raise RuntimeError("BrowserSession is not started")
        options = options if options is not None else self.options
        width, height = options.viewport
        context = await self._browser.new_context(
            viewport={"width": width, "height": height},
            user_agent=options.user_agent,
            accept_downloads=False,
            service_workers="block",  # a service worker's own requests escape interception
        )
        try:
            source = SourceContext(context, options, self.browser_version)
            await source.start()
            yield source
        finally:
            with contextlib.suppress(PlaywrightError):
                await context.unroute_all(behavior="ignoreErrors")
                await context.close()

    async def capture(self, url: str, fetch: Fetch) -> RenderedPage:
        """Capture one page in a context of its own."""
        async with self.source_context() as source:
            return await source.capture(url, fetch)
