"""Which collector handles a source: one per kind, declared in one place."""

from __future__ import annotations

from collectors.base import CollectContext, Collector
from collectors.telegram import TelegramCollector
from collectors.telegram_post import TelegramPostCollector, post_link
from collectors.video import VideoCollector
from collectors.web import WebCrawler

# kind -> (collector class, one line for the docs); browser rendering is a web-source option.
COLLECTORS: dict[str, tuple[type, str]] = {
    "web": (WebCrawler, "HTTP crawl within scope; with `browser: true`, rendered in Chromium"),
    "telegram": (
        TelegramCollector,
        "public channel preview pages, one capture per post; a post link: that post alone",
    ),
    "video": (VideoCollector, "a page yt-dlp understands, or a direct media URL"),
}


def collector_for(ctx: CollectContext) -> Collector:
    """The collector for the context's source kind; a Telegram source whose URL links one
    post (``t.me/<channel>/<id>``) captures that post alone."""
    if ctx.source.kind == "telegram" and post_link(ctx.source.url) is not None:
        return TelegramPostCollector(ctx)
    try:
        collector_class = COLLECTORS[ctx.source.kind][0]
    except KeyError:
        raise LookupError(f"no collector for kind {ctx.source.kind!r} in this version") from None
    collector: Collector = collector_class(ctx)
    return collector
