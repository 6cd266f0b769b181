"""Which collector handles a source: one per kind, declared in one place."""

from __future__ import annotations

from collectors.base import CollectContext, Collector
from collectors.telegram import TelegramCollector
from collectors.video import VideoCollector
from collectors.web import WebCrawler

# kind -> (collector class, one line for the docs); browser rendering is a web-source option.
COLLECTORS: dict[str, tuple[type, str]] = {
    "web": (WebCrawler, "HTTP crawl within scope; with `browser: true`, rendered in Chromium"),
    "telegram": (TelegramCollector, "public channel preview pages, one capture per post"),
    "video": (VideoCollector, "a page yt-dlp understands, or a direct media URL"),
}


def collector_for(ctx: CollectContext) -> Collector:
    """The collector for the context's source kind."""
    try:
        collector_class = COLLECTORS[ctx.source.kind][0]
    except KeyError:
        raise LookupError(f"no collector for kind {ctx.source.kind!r} in this version") from None
    collector: Collector = collector_class(ctx)
    return collector
