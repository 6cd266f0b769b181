"""What is done to a loaded page: scrolled for lazy content, photographed, and its dialogs,
popups and downloads answered the way an unattended capture must (dismissed, closed,
refused), each one recorded in the page's notes."""

from __future__ import annotations

import contextlib

from playwright.async_api import Dialog, Download, Page
from playwright.async_api import Error as PlaywrightError

from collectors.browser_launch import BrowserOptions
from collectors.browser_traffic import PageTraffic

SCREENSHOT_SECONDS = 7.5  # each attempt; the full-page one, then the viewport-only fallback
SCROLL_STEP_SETTLE_SECONDS = 2.0
_SCROLL = """() => {
  const el = document.scrollingElement || document.documentElement;
  window.scrollBy(0, window.innerHeight);
  return [window.scrollY + window.innerHeight, el.scrollHeight];
}"""
_PAGE_HEIGHT = "() => (document.scrollingElement || document.documentElement).scrollHeight"


def watch_page(page: Page, traffic: PageTraffic) -> None:
    """Dismiss dialogs, close popups and note refused downloads for as long as ``page`` lives."""
    page.on("dialog", lambda dialog: _dismiss(dialog, traffic))
    page.on("popup", lambda popup: _close_popup(popup, traffic))
    page.on("download", lambda download: _note_download(download, traffic))


async def scroll_through(page: Page, traffic: PageTraffic, options: BrowserOptions) -> None:
    """Scroll a viewport at a time until the end stops moving, within the bounds; then back
    to the top, where the screenshot starts."""
    for _ in range(options.scroll_steps):
        bottom, height = await page.evaluate(_SCROLL)
        await traffic.wait_idle(
            min(options.settle_seconds, SCROLL_STEP_SETTLE_SECONDS), from_now=True
        )
        grown = await page.evaluate(_PAGE_HEIGHT)
        if bottom >= height - 1 and grown <= height:
            break  # at the bottom and nothing more loaded
        if grown > options.max_scroll_height_px:
            traffic.note(f"scroll stopped at max_scroll_height_px ({options.max_scroll_height_px})")
            break
    else:
        if options.scroll_steps:
            traffic.note(f"scroll stopped after scroll_steps ({options.scroll_steps}); more below")
    await page.evaluate("() => window.scrollTo(0, 0)")


async def take_screenshot(page: Page, traffic: PageTraffic, options: BrowserOptions) -> bytes:
    """Full-page PNG, clipped to ``max_screenshot_height_px`` (a PNG is decoded as
    width x height x 4 bytes); the viewport alone if the full page fails."""
    width, _ = options.viewport
    height = int(await page.evaluate(_PAGE_HEIGHT))
    limit = options.max_screenshot_height_px
    timeout_ms = SCREENSHOT_SECONDS * 1000
    try:
        if height <= limit:
            return await page.screenshot(full_page=True, timeout=timeout_ms)
        traffic.note(f"screenshot clipped to the top {limit} px of {height} px")
        return await page.screenshot(
            full_page=True,
            clip={"x": 0, "y": 0, "width": width, "height": limit},
            timeout=timeout_ms,
        )
    except PlaywrightError as err:
        traffic.note(f"full-page screenshot failed ({_first_line(err)}); viewport only")
    # A request that never ends (a web font, say) holds the screenshot back: cut it off.
    await traffic.stop("still loading when the screenshot was taken")
    return await page.screenshot(timeout=timeout_ms)


async def _dismiss(dialog: Dialog, traffic: PageTraffic) -> None:
    traffic.note(f"dialog dismissed: {dialog.type} {dialog.message[:200]!r}")
    with contextlib.suppress(PlaywrightError):
        await dialog.dismiss()


async def _close_popup(popup: Page, traffic: PageTraffic) -> None:
    if not popup.url.startswith("chrome-error:"):  # else noted when its navigation was refused
        traffic.note(f"popup closed: {popup.url}")
    with contextlib.suppress(PlaywrightError):
        await popup.close()


async def _note_download(download: Download, traffic: PageTraffic) -> None:
    # With accept_downloads=False Chromium has already cancelled it.
    traffic.note(f"download refused: {download.url} ({download.suggested_filename})")


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
