"""Which collector handles a source: one per kind, declared in one place.

Collector modules are imported when a source of their kind runs: the video collector loads
yt-dlp (a fifth of a second), which a web or Telegram capture never needs.
"""

from __future__ import annotations

import importlib

from collectors.base import CollectContext, Collector
from collectors.telegram_post import post_link

# kind -> ("module:Class", one line for the docs); browser rendering is a web-source option.
COLLECTORS: dict[str, tuple[str, str]] = {
    "web": (
        "collectors.web:WebCrawler",
        "HTTP crawl within scope; with `browser: true`, rendered in Chromium",
    ),
    "telegram": (
        "collectors.telegram:TelegramCollector",
        "public channel preview pages, one capture per post; a post link: that post alone",
    ),
    "video": (
        "collectors.video:VideoCollector",
        "a page yt-dlp understands, or a direct media URL",
    ),
}
TELEGRAM_POST_COLLECTOR = "collectors.telegram_post:TelegramPostCollector"


def _load(path: str) -> type:
    module, name = path.split(":")
    collector_class: type = getattr(importlib.import_module(module), name)
    return collector_class


def collector_for(ctx: CollectContext) -> Collector:
    """The collector for the context's source kind; a Telegram source whose URL links one
    post (``t.me/<channel>/<id>``) captures that post alone."""
    if ctx.source.kind == "telegram" and post_link(ctx.source.url) is not None:
        path = TELEGRAM_POST_COLLECTOR
    else:
        kind = ctx.source.kind
        try:
            path = COLLECTORS[kind][0]
        except KeyError:
            raise LookupError(f"no collector for kind {kind!r} in this version") from None
    collector: Collector = _load(path)(ctx)
    return collector
