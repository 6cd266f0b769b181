"""Browser capture with real Chromium and real Playwright against a local site.

Every request the browser makes is answered by the real ``HttpFetcher`` (policy: 127.0.0.1
only), so these tests also prove the fetcher can replay a browser's traffic. Each page in
``tests/browser_site.py`` is built to break a naive capture: text made by JavaScript,
gzip-encoded scripts, dialogs, popups, downloads, infinite scroll, lazy content, a resource
that never ends, a redirect, and pages that try to reach the network around interception.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from collectors.browser import (
    BrowserCaptureError,
    BrowserOptions,
    BrowserRequest,
    BrowserSession,
    BrowserUnavailable,
    Fetch,
    RenderedPage,
    fetch_through,
)
from collectors.browser_launch import default_chromium_path
from collectors.http_fetch import FetchLimits, FetchResult, HttpFetcher
from collectors.netguard import BlockedTargetError, NetworkPolicy
from collectors.page_text import decoded_body
from tests.browser_site import (
    AFTER_DIALOGS_TEXT,
    ECHO_TEXT,
    GZIP_TEXT,
    JS_TEXT,
    LAZY_TEXT,
    BrowserTestSite,
    png_size,
)

CHROMIUM = default_chromium_path()
if not Path(CHROMIUM).exists():
    warnings.warn(
        f"\n\n*** BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM}. "
        "Install it with `apt-get install chromium` (make test does). ***\n",
        stacklevel=1,
    )
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"NO CHROMIUM AT {CHROMIUM}: apt-get install chromium — browser capture untested",
)

LOOPBACK_ONLY = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
LIMITS = FetchLimits(timeout_seconds=10, max_seconds=60, retries=0)
OPTIONS = BrowserOptions(page_seconds=30, settle_seconds=3)
T = TypeVar("T")


@pytest.fixture
def site() -> Iterator[BrowserTestSite]:
    with BrowserTestSite() as running:
        yield running


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.Runner]:
    """One event loop for the module, so one Chromium serves most tests."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture(scope="module")
def session(loop: asyncio.Runner) -> Iterator[BrowserSession]:
    browser = BrowserSession(OPTIONS)
    loop.run(browser.__aenter__())
    try:
        yield browser
    finally:
        loop.run(browser.__aexit__(None, None, None))


def test_fetch(fetcher: HttpFetcher, refuse: str | None = None) -> Fetch:
    """The real fetcher, refusing URLs containing ``refuse`` as the network guard would."""
    through = fetch_through(fetcher)

    async def fetch(request: BrowserRequest) -> FetchResult:
        if refuse is not None and refuse in request.url:
            raise BlockedTargetError(f"test policy refuses {request.url}")
        return await through(request)

    return fetch


test_fetch.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


async def with_fetcher(work: Callable[[HttpFetcher], Awaitable[T]]) -> T:
    fetcher = HttpFetcher(LOOPBACK_ONLY, LIMITS, "osint-archive-tests/1")
    try:
        return await work(fetcher)
    finally:
        await fetcher.close()


def render(
    loop: asyncio.Runner, session: BrowserSession, url: str, refuse: str | None = None
) -> RenderedPage:
    return loop.run(with_fetcher(lambda f: session.capture(url, test_fetch(f, refuse))))


def render_with(options: BrowserOptions, url: str) -> RenderedPage:
    """A capture in a Chromium of its own, for options the shared session does not have."""

    async def run() -> RenderedPage:
        async with BrowserSession(options) as own:
            return await with_fetcher(lambda f: own.capture(url, test_fetch(f)))

    return asyncio.run(run())


def exchange_for(page: RenderedPage, path: str) -> tuple[BrowserRequest, FetchResult]:
    matches = [(req, res) for req, res in page.exchanges if req.url.split("?")[0].endswith(path)]
    assert matches, f"no exchange for {path} in {[req.url for req, _ in page.exchanges]}"
    return matches[0]


def body_of(result: FetchResult) -> bytes:
    final = result.final
    return decoded_body(final.body, final.header("Content-Encoding"), 10_000_000)


# --- what a page shows ---


def test_text_built_by_javascript_is_captured_with_the_xhr_it_came_from(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/js-page.html"))
    assert JS_TEXT in page.dom_html
    document, result = page.exchanges[0]
    assert document.is_navigation and document.resource_type == "document"
    assert JS_TEXT.encode() not in body_of(result)  # only the browser could produce it
    request, news = exchange_for(page, "/api/news.json")
    assert request.resource_type == "fetch" and not request.is_navigation
    assert b"Ales Bialiatski" in body_of(news)
    assert news.final.payload_sha256  # a full fetcher record, ready for WARC
    assert page.title == "News (rendered)"
    assert page.final_url == site.url("/js-page.html")
    assert page.browser_version.startswith("Chromium ")
    assert page.failed == [] and page.elapsed_seconds < OPTIONS.page_seconds
    width, height = png_size(page.screenshot_png)
    assert (width, height) == (1280, 800)
    assert site.hits("/js-page.html") == 1 and site.hits("/api/news.json") == 1
    page.close()


def test_gzip_encoded_script_runs_and_is_archived_as_sent(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/gzip-script.html"))
    assert GZIP_TEXT in page.dom_html
    _, script = exchange_for(page, "/static/gzip-script.js")
    assert script.final.header("Content-Encoding") == "gzip"
    raw = script.final.body.read()
    assert raw.startswith(b"\x1f\x8b")  # the archive keeps the bytes as the server sent them
    page.close()


def test_dialogs_are_dismissed_and_recorded(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/alert.html"))
    assert f"{AFTER_DIALOGS_TEXT} (confirm=false, prompt=null)" in page.dom_html
    dialogs = [note for note in page.notes if note.startswith("dialog dismissed")]
    assert [note.split()[2] for note in dialogs] == ["alert", "confirm", "prompt"]
    assert "detentions at the square" in dialogs[0]
    page.close()


def test_popups_are_closed_without_being_fetched(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/popup.html"))
    popups = [note for note in page.notes if note.startswith("popup closed")]
    assert len(popups) == 2, page.notes
    refused = {req.url.split("via=")[1] for req, reason in page.failed if "popup" in reason}
    assert refused == {"window-open", "link"}
    assert site.hits("/popup-target.html") == 0
    assert page.final_url == site.url("/popup.html")
    assert "Main article stays here." in page.dom_html
    page.close()


def test_download_is_refused_recorded_and_its_bytes_archived(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/download.html"))
    assert any(note.startswith("download refused") for note in page.notes), page.notes
    assert any("download refused" in reason for _, reason in page.failed)
    _, attachment = exchange_for(page, "/files/report.pdf")
    assert body_of(attachment).startswith(b"%PDF-1.4")
    assert page.final_url == site.url("/download.html")
    assert "downloads by itself" in page.dom_html
    page.close()


def test_lazy_content_appears_after_scrolling(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/lazy.html"))
    assert LAZY_TEXT in page.dom_html
    _, image = exchange_for(page, "/img/lazy.png")
    assert png_size(body_of(image)) == (40, 30)
    assert not any("scroll stopped" in note for note in page.notes)
    page.close()


def test_a_post_is_replayed_with_its_body(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/echo.html"))
    assert ECHO_TEXT in page.dom_html
    request, _ = exchange_for(page, "/api/echo")
    assert request.method == "POST" and request.post_data == b"statement-2024"
    page.close()


def test_redirected_navigation_lands_on_the_final_url_fetched_once(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/redirect"))
    assert page.final_url == site.url("/js-page.html")
    assert JS_TEXT in page.dom_html
    _, document = page.exchanges[0]
    assert [hop.status for hop in document.hops] == [302, 200]
    assert site.hits("/redirect") == 1 and site.hits("/js-page.html") == 1
    page.close()


def test_tall_page_screenshot_is_clipped(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/tall.html"))
    assert png_size(page.screenshot_png) == (1280, OPTIONS.max_screenshot_height_px)
    assert any(note.startswith("screenshot clipped") for note in page.notes)
    page.close()


def test_pages_of_one_source_context_share_cookies_and_others_do_not(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    async def pages(fetcher: HttpFetcher) -> list[RenderedPage]:
        async with session.source_context() as source:
            first = await source.capture(site.url("/cookie.html"), test_fetch(fetcher))
            second = await source.capture(site.url("/js-page.html"), test_fetch(fetcher))
        elsewhere = await session.capture(site.url("/js-page.html"), test_fetch(fetcher))
        return [first, second, elsewhere]

    first, second, elsewhere = loop.run(with_fetcher(pages))
    assert JS_TEXT in second.dom_html
    assert second.exchanges[0][0].url == site.url("/js-page.html")  # each page its own list
    assert second.exchanges[0][0].headers.get("cookie") == "session=abc; consent=yes"
    assert "cookie" not in elsewhere.exchanges[0][0].headers  # a fresh context
    for page in (first, second, elsewhere):
        page.close()


# --- what is refused ---


def test_refused_subresources_are_listed_and_never_fetched(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/blocked.html"), refuse="/blocked/")
    reasons = {req.url.rsplit("/", 1)[1]: reason for req, reason in page.failed}
    assert set(reasons) == {"pixel.png", "data.json"}
    assert all(reason.startswith("blocked: test policy refuses") for reason in reasons.values())
    assert site.hits("/blocked/pixel.png") == site.hits("/blocked/data.json") == 0
    assert "Page with refused resources." in page.dom_html
    page.close()


def test_a_refused_document_is_a_capture_error(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    with pytest.raises(BrowserCaptureError) as caught:
        render(loop, session, site.url("/js-page.html"), refuse="/js-page.html")
    assert caught.value.stage == "navigation"
    assert "test policy refuses" in caught.value.reason
    assert site.hits("/js-page.html") == 0


def test_nothing_escapes_interception(
    loop: asyncio.Runner, session: BrowserSession, site: BrowserTestSite
) -> None:
    page = render(loop, session, site.url("/leak.html"))
    time.sleep(0.5)  # let a stray packet arrive, if one was sent
    assert site.canary.tcp_connections == 0, "Chromium connected around interception"
    assert site.canary.udp_datagrams == 0, "WebRTC sent UDP around interception"
    assert "redirected xhr: Ales Bialiatski" in page.dom_html  # redirect followed by the fetcher
    assert any(note.startswith("WebSocket refused") for note in page.notes)
    assert any(req.resource_type == "websocket" for req, _ in page.failed)
    page.close()


# --- bounds ---


def test_infinite_scroll_is_bounded(site: BrowserTestSite) -> None:
    options = BrowserOptions(page_seconds=20, settle_seconds=2, scroll_steps=8)
    page = render_with(options, site.url("/infinite.html"))
    assert page.elapsed_seconds < options.page_seconds + 5
    assert any(note.startswith("scroll stopped") for note in page.notes), page.notes
    assert 2 <= site.hits("/api/more") <= options.scroll_steps + 1
    assert "item 2.0" in page.dom_html
    page.close()


def test_never_finishing_page_returns_at_the_cap_with_what_loaded(site: BrowserTestSite) -> None:
    options = BrowserOptions(page_seconds=4, settle_seconds=10)
    started = time.monotonic()
    page = render_with(options, site.url("/never-finishes.html"))
    assert time.monotonic() - started < options.page_seconds + 10  # launch and finish included
    assert page.elapsed_seconds < options.page_seconds + 3
    assert "stopped at page_seconds (4 s)" in page.notes
    assert "Visible before the image ends" in page.dom_html
    assert png_size(page.screenshot_png)[0] == 1280
    assert [reason for req, reason in page.failed if req.url.endswith("/drip")] == [
        "still loading at page_seconds"
    ]
    assert site.drip_finished.wait(5)  # the fetch was cancelled and hung up
    page.close()


def test_a_document_that_never_arrives_is_a_capture_error(site: BrowserTestSite) -> None:
    options = BrowserOptions(page_seconds=2)
    started = time.monotonic()
    with pytest.raises(BrowserCaptureError) as caught:
        render_with(options, site.url("/drip"))
    assert caught.value.stage == "navigation"
    assert caught.value.reason == "no document within page_seconds (2 s)"
    assert time.monotonic() - started < 10
    assert site.drip_finished.wait(5)


def test_a_page_that_stops_answering_is_a_capture_error(
    site: BrowserTestSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Shorter waits for the snapshot than production's, so the test takes seconds, not 30.
    monkeypatch.setattr("collectors.browser.FINISH_SECONDS", 3.0)
    monkeypatch.setattr("collectors.browser_page.SCREENSHOT_SECONDS", 1.0)
    options = BrowserOptions(page_seconds=2)
    started = time.monotonic()
    with pytest.raises(BrowserCaptureError) as caught:
        render_with(options, site.url("/busy.html"))
    assert caught.value.stage == "DOM snapshot"
    assert time.monotonic() - started < 15


def test_resource_cap_refuses_later_requests(site: BrowserTestSite) -> None:
    options = BrowserOptions(page_seconds=10, settle_seconds=2, max_resources=1)
    page = render_with(options, site.url("/js-page.html"))
    assert [req.url for req, _ in page.exchanges] == [site.url("/js-page.html")]
    assert any(reason == "over max_resources (1)" for _, reason in page.failed)
    assert any(note.startswith("resource cap reached") for note in page.notes)
    page.close()


def test_missing_executable_is_browser_unavailable() -> None:
    async def start() -> None:
        async with BrowserSession(BrowserOptions(executable_path="/nonexistent/chromium")):
            pass

    with pytest.raises(BrowserUnavailable, match=r"/nonexistent/chromium.*apt-get install"):
        asyncio.run(start())


def test_executable_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSINT_ARCHIVE_CHROMIUM", "/opt/chromium/chrome")
    assert BrowserOptions().executable_path == "/opt/chromium/chrome"
