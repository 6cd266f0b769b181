"""One Telegram post, by its link (``https://t.me/<channel>/<id>`` or ``/s/<channel>/<id>``).

What an analyst preserves on the spot: the channel's preview page that shows the post (asked
for with ``?before=<id + 1>``, so the post is the newest on it) goes into the WARC, and the post
becomes a capture of its own with its structured record, text and media, exactly as a channel
crawl stores it. No channel cursor is read or moved: a single post says nothing about what the
channel published before or since. A post missing from the page (deleted, private, never
published) is a failure with that reason; the page that shows its absence is still kept.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from archive.capture_extras import PostItem
from collectors.base import CollectReport
from collectors.telegram import TelegramCollector
from collectors.telegram_parse import PreviewPage, preview_url

_POST_PATH = re.compile(r"^/(?:s/)?(?P<channel>[A-Za-z0-9_]{3,64})/(?P<id>[0-9]{1,12})/?$")


def post_link(url: str) -> tuple[str, int] | None:
    """(channel, message id) when ``url`` names one post, else None."""
    parts = urlsplit(url)
    match = _POST_PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or match is None:
        return None
    return match["channel"], int(match["id"])


class TelegramPostCollector(TelegramCollector):
    """Archives the one post a Telegram link names."""

    async def collect(self) -> CollectReport:
        link = post_link(self.source.url)
        if link is None:
            self.report.fail(self.source.url, "post", "not a Telegram post link")
            return self.report
        self.message_id = link[1]
        page = await self._capture_page(preview_url(self.source.url, before=link[1] + 1), True)
        if page is not None and not any(p.message_id == link[1] for p in page.posts):
            # The page is kept (it shows the post absent); the post itself was not captured.
            self.report.seed_captured = False
        return self.report

    async def _posts(self, page: PreviewPage) -> list[PostItem]:
        wanted = [post for post in page.posts if post.message_id == self.message_id]
        if not wanted:
            self.report.fail(
                self.source.url,
                "post",
                f"post {self.message_id} is not on @{page.channel}'s public preview: "
                "deleted, private, or never published",
            )
        return [await self._post_item(post, edited=False) for post in wanted]
