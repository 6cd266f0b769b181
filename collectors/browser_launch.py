"""Starting Chromium for evidence capture: where the executable is, which flags it gets.

Every request a page makes is answered by the archive's own fetcher (see
``collectors.browser_traffic``), so the browser itself must never reach the network. Request
interception alone does not guarantee that: measured with Chromium 156 and Playwright 1.65,
``<link rel=preconnect>`` opens a TCP connection of its own, WebRTC sends STUN packets over
UDP to any address a page names, and a 3xx answer given through ``route.fulfill`` is followed
by Chromium straight to the network. So the browser also gets a backstop: a proxy that cannot
be reached (any connection Chromium opens itself fails), no DNS at all, and WebRTC limited to
proxied (hence failing) transports.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, Playwright
from playwright.async_api import Error as PlaywrightError

CHROMIUM_ENV = "OSINT_ARCHIVE_CHROMIUM"
DEBIAN_CHROMIUM = "/usr/bin/chromium"
# A name that never resolves (``.invalid`` is reserved, and DNS is switched off below): a
# connection Chromium tries on its own fails instead of leaving the machine.
BACKSTOP_PROXY = "http://no-direct-network.invalid:9"


class BrowserUnavailable(Exception):
    """Chromium cannot be started (missing executable, or it exits at launch)."""


def default_chromium_path() -> str:
    """``$OSINT_ARCHIVE_CHROMIUM``, else Debian's ``/usr/bin/chromium``, else ``chromium``
    on PATH; the Debian path when none exists, so the error names what to install."""
    configured = os.environ.get(CHROMIUM_ENV, "").strip()
    if configured:
        return configured
    if Path(DEBIAN_CHROMIUM).exists():
        return DEBIAN_CHROMIUM
    return shutil.which("chromium") or DEBIAN_CHROMIUM


@dataclass(frozen=True)
class BrowserOptions:
    """How Chromium is started and how long and how far one page is driven."""

    executable_path: str = field(default_factory=default_chromium_path)
    page_seconds: float = 60.0  # cap per page on navigation, waits and scrolling together
    # (the screenshot and DOM snapshot that follow have a budget of their own, 20 s)
    settle_seconds: float = 10.0  # longest wait for the network to go quiet, each time
    scroll_steps: int = 20  # viewport-high scrolls for lazy content; bounds infinite scroll
    max_scroll_height_px: int = 30_000  # stop scrolling once the page is this tall
    max_screenshot_height_px: int = 20_000  # taller pages are clipped (a PNG is w*h*4 in RAM)
    viewport: tuple[int, int] = (1280, 800)
    max_resources: int = 500  # requests fetched per page; later ones are refused and noted
    max_body_bytes: int = 100_000_000  # a decoded body handed to the browser (gzip bombs)
    js_heap_mb: int = 512
    renderer_processes: int = 2
    user_agent: str | None = None  # None: Chromium's own

    def __post_init__(self) -> None:
        if self.page_seconds <= 0 or self.settle_seconds < 0:
            raise ValueError("page_seconds must be positive and settle_seconds not negative")
        if self.scroll_steps < 0 or self.max_resources < 1:
            raise ValueError("scroll_steps must be >= 0 and max_resources >= 1")


def launch_arguments(options: BrowserOptions) -> list[str]:
    """Chromium flags: bounded memory, no background traffic, no way around interception."""
    # Chromium's sandbox will not start as root (as in most containers). Untrusted pages are
    # then only as contained as the process itself: run capture as a plain user to keep it.
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []
    return [
        *sandbox,
        "--disable-dev-shm-usage",
        f"--js-flags=--max-old-space-size={options.js_heap_mb}",
        f"--renderer-process-limit={options.renderer_processes}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-domain-reliability",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--disable-gpu",
        "--mute-audio",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--force-webrtc-ip-handling-policy",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]


async def launch_chromium(playwright: Playwright, options: BrowserOptions) -> Browser:
    """Launch the configured Chromium headless, or raise ``BrowserUnavailable``."""
    executable = options.executable_path
    resolved = shutil.which(executable) if os.sep not in executable else executable
    if not resolved or not Path(resolved).is_file():
        raise BrowserUnavailable(
            f"Chromium not found at {executable!r}: install the Debian package "
            f"(apt-get install chromium) or set {CHROMIUM_ENV} to the browser's path"
        )
    try:
        return await playwright.chromium.launch(
            executable_path=resolved,
            headless=True,
            args=launch_arguments(options),
            proxy={"server": BACKSTOP_PROXY},
        )
    except PlaywrightError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else repr(err)
        raise BrowserUnavailable(f"Chromium at {resolved!r} did not start: {first_line}") from err
