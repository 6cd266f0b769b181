"""Which collector a URL needs when the analyst says ``--kind auto`` (or names one).

A Telegram post link becomes a single-post capture; a direct media file or a page one of
yt-dlp's site extractors recognises becomes a video capture; anything else a browser-rendered
capture with its media, or a plain HTTP capture when no browser is installed (said in the
result).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from collectors.browser_launch import default_chromium_path
from collectors.telegram_post import post_link
from osint_archive.adhoc.records import RequestedKind

SourceKind = Literal["web", "telegram", "video"]
TELEGRAM_HOSTS_ENV = "OSINT_ARCHIVE_TELEGRAM_HOSTS"
DEFAULT_TELEGRAM_HOSTS = ("t.me", "telegram.me", "www.t.me")
MEDIA_SUFFIXES = frozenset(
    [
        ".mp4",
        ".m4v",
        ".mov",
        ".webm",
        ".mkv",
        ".avi",
        ".mpg",
        ".mpeg",
        ".ts",
        ".m3u8",
        ".mpd",
        ".mp3",
        ".m4a",
        ".aac",
        ".ogg",
        ".oga",
        ".opus",
        ".wav",
        ".flac",
    ]
)


class KindError(Exception):
    """The URL cannot be captured as the kind asked for; the message says why."""


@dataclass(frozen=True)
class KindChoice:
    """The collector kind chosen, whether it renders in the browser, and why (for a note)."""

    kind: SourceKind
    browser: bool = False
    note: str = ""

    @property
    def label(self) -> str:
        """The kind as results name it: ``browser`` for a rendered web capture."""
        return "browser" if self.browser else self.kind


def telegram_hosts(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """Hosts whose ``/<channel>/<id>`` links are Telegram posts (``host`` or ``host:port``)."""
    configured = environ.get(TELEGRAM_HOSTS_ENV, "")
    hosts = [h.strip().lower() for h in configured.split(",") if h.strip()]
    return frozenset(hosts or DEFAULT_TELEGRAM_HOSTS)


def is_telegram_post(url: str, hosts: frozenset[str]) -> bool:
    parts = urlsplit(url)
    on_host = parts.netloc.lower() in hosts or (parts.hostname or "") in hosts
    return on_host and post_link(url) is not None


def is_direct_media(url: str) -> bool:
    return PurePosixPath(urlsplit(url).path).suffix.lower() in MEDIA_SUFFIXES


@functools.cache
def _site_extractors() -> tuple[Any, ...]:
    from yt_dlp.extractor import gen_extractor_classes

    # The generic extractor "suits" every URL; only a site's own extractor says "video".
    return tuple(ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic")


def is_video_site(url: str) -> bool:
    """Whether one of yt-dlp's site extractors claims ``url`` (YouTube, Vimeo, …)."""
    return any(ie.suitable(url) for ie in _site_extractors())


def browser_available() -> bool:
    path = default_chromium_path()
    return os.path.isfile(path) and os.access(path, os.X_OK)


def choose_kind(
    url: str,
    requested: RequestedKind,
    telegram: frozenset[str],
    have_browser: bool,
) -> KindChoice:
    """The collector for ``url``; ``KindError`` when the requested kind cannot take it."""
    if requested == "telegram":
        if post_link(url) is None:
            raise KindError(
                "not a Telegram post link (https://t.me/<channel>/<id>); to follow a whole "
                "channel, add it to the sources file"
            )
        return KindChoice("telegram")
    if requested == "video":
        return KindChoice("video")
    if requested == "web":
        return KindChoice("web")
    if requested == "browser":
        if not have_browser:
            raise KindError(
                f"no browser installed at {default_chromium_path()} (install Debian's "
                "chromium or set OSINT_ARCHIVE_CHROMIUM), or use --kind web"
            )
        return KindChoice("web", browser=True)
    if is_telegram_post(url, telegram):
        return KindChoice("telegram")
    if is_direct_media(url) or is_video_site(url):
        return KindChoice("video")
    if have_browser:
        return KindChoice("web", browser=True)
    return KindChoice("web", note="plain HTTP capture: no browser is installed")
