"""The Telegram collector: a public channel's web preview (``https://<host>/s/<channel>``).

Each preview page fetched goes into the WARC like any page; each post on it becomes a capture of
its own (structured JSON, text for the index, photos and videos stored as objects). Pages are
followed back ("more" link, ``?before=<id>``) until the newest post already archived, whose id
is kept as a cursor in ``state/telegram/<source>.json``, so a run fetches only new posts.

Posts archived before that show up again on the newest page are compared with what was
archived: an edited text is captured again and an ``post_edited`` custody event links both
versions; a post missing from a page whose id range covers it gets a ``post_deleted`` event.
Nothing archived is ever overwritten. The cursor is saved only after the captures it covers are
committed, so a crash never skips a post.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from archive.capture_extras import MediaDownload, PostItem
from archive.capture_writer import PageCapture, capture_id_for
from archive.custody import CustodyEvent, CustodyLog
from archive.store import ObjectNotFoundError, ObjectStore
from collectors.base import CollectContext, CollectReport, polite_fetch
from collectors.media_download import MediaDownloadError, MediaHints, download_media
from collectors.page_text import TextExtractionError, decoded_body
from collectors.telegram_parse import (
    NotAChannelPage,
    PreviewPage,
    TelegramPost,
    parse_preview_page,
    preview_url,
)

# Posts remembered for edit and deletion checks: a channel's newest page shows about 20, so
# this covers many pages back without the cursor growing with the channel.
REMEMBERED_POSTS = 2000
MAX_PAGE_BYTES = 8 * 1024 * 1024


def cursor_key(source_id: str) -> str:
    return f"state/telegram/{source_id}.json"


@dataclass
class ArchivedPost:
    text_sha256: str
    capture_id: str


@dataclass
class ChannelCursor:
    """What earlier runs archived: the newest message id and recent posts' text digests."""

    last_message_id: int = 0
    posts: dict[int, ArchivedPost] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, store: ObjectStore, source_id: str) -> ChannelCursor:
        try:
            data = json.loads(store.read_bytes(cursor_key(source_id)))
            return cls(
                int(data["last_message_id"]),
                {int(k): ArchivedPost(**v) for k, v in data.get("posts", {}).items()},
                {int(i) for i in data.get("deleted", [])},
            )
        except (ObjectNotFoundError, ValueError, KeyError, TypeError):
            return cls()  # state is a cache: without it the newest pages are archived again

    def save(self, store: ObjectStore, source_id: str) -> None:
        kept = sorted(self.posts)[-REMEMBERED_POSTS:]
        data = {
            "last_message_id": self.last_message_id,
            "posts": {str(i): vars(self.posts[i]) for i in kept},
            "deleted": sorted(i for i in self.deleted if kept and i >= kept[0]),
        }
        store.put_state(cursor_key(source_id), json.dumps(data).encode("utf-8"))


def text_digest(post: TelegramPost) -> str:
    """What an edit changes: the text as served (views and media URLs change on every visit)."""
    return hashlib.sha256(post.text_html.encode("utf-8")).hexdigest()


class TelegramCollector:
    """Archives the posts a channel published since the last run."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.media_fetcher = ctx.media_fetcher
        self.report = CollectReport()
        self.cursor = ChannelCursor.load(ctx.store, ctx.source.id)
        self._next = ChannelCursor(
            self.cursor.last_message_id, dict(self.cursor.posts), set(self.cursor.deleted)
        )
        self._events: list[CustodyEvent] = []

    async def collect(self) -> CollectReport:
        try:
            url: str | None = preview_url(self.source.url)
        except ValueError as err:
            self.report.fail(self.source.url, "channel", str(err))
            return self.report
        pages = 0
        last_before: int | None = None
        while url is not None and pages < self.source.max_pages:
            page = await self._capture_page(url, first=pages == 0)
            pages += 1
            if page is None:
                break
            if not page.posts or page.before is None:
                break
            if page.posts[0].message_id <= self.cursor.last_message_id:
                break  # reached what earlier runs archived
            if last_before is not None and page.before >= last_before:
                self.report.notes.append(f"{url}: the older-posts link does not go back; stopped")
                break
            last_before, url = page.before, page.more_url
        else:
            if url is not None:
                self.report.notes.append(
                    f"stopped after max_pages ({self.source.max_pages}) preview pages; "
                    "older posts are left for a later run"
                )
        self.report.after_commit.append(self._after_commit)
        return self.report

    async def _capture_page(self, url: str, first: bool) -> PreviewPage | None:
        result = await polite_fetch(self.ctx, self.report, url)
        if result is None:
            return None
        final = result.final
        if first:
            self.report.seed_status = final.status
        page = None
        try:
            if final.status != 200:
                raise NotAChannelPage(
                    f"the preview page answered HTTP {final.status}", "not_found", final.url
                )
            body = decoded_body(final.body, final.header("Content-Encoding"), MAX_PAGE_BYTES)
            final.body.seek(0)
            page = parse_preview_page(body, final.url)
        except (NotAChannelPage, TextExtractionError) as err:
            # The answer is kept (it shows the channel gone or private that day), and reported.
            self.report.fail(url, "channel", str(err))
        posts = await self._posts(page) if page is not None else []
        self.ctx.sink(PageCapture(result=result, depth=0, posts=posts))
        self.report.pages += 1
        self.report.count("posts", len(posts))
        if first and page is not None:
            self.report.seed_captured = True
        if self.ctx.on_progress:
            self.ctx.on_progress(self.report.pages)
        if page is not None:
            for skipped in page.skipped:
                self.report.notes.append(f"{url}: {skipped}")
        return page

    async def _posts(self, page: PreviewPage) -> list[PostItem]:
        items = []
        on_page = {post.message_id for post in page.posts}
        for post in page.posts:
            digest = text_digest(post)
            archived = self.cursor.posts.get(post.message_id)
            new = post.message_id > self.cursor.last_message_id and archived is None
            edited = archived is not None and archived.text_sha256 != digest
            if not new and not edited:
                continue
            items.append(await self._post_item(post, edited))
            capture_id = capture_id_for(self.source.id, self.ctx.run_id, post.permalink)
            if edited and archived is not None:
                self._events.append(_edited_event(post, archived, digest, capture_id))
            self._next.posts[post.message_id] = ArchivedPost(digest, capture_id)
            self._next.last_message_id = max(self._next.last_message_id, post.message_id)
        if on_page:
            low, high = min(on_page), max(on_page)
            for message_id, archived in self.cursor.posts.items():
                gone = low < message_id < high and message_id not in on_page
                if gone and message_id not in self._next.deleted:
                    self._next.deleted.add(message_id)
                    self._events.append(_deleted_event(page, message_id, archived))
        return items

    async def _post_item(self, post: TelegramPost, edited: bool) -> PostItem:
        return PostItem(
            record=post.record(),
            channel=post.channel,
            message_id=post.message_id,
            permalink=post.permalink,
            text=post.text,
            posted_at=post.posted_at,
            views=post.views,
            edited=post.edited,
            edited_since_archived=edited,
            problems=post.problems,
            media=await self._media(post),
        )

    async def _media(self, post: TelegramPost) -> list[MediaDownload]:
        if not self.source.media or self.media_fetcher is None:
            return []
        downloads = []
        for item in post.media:
            if item.url is None or item.kind not in ("photo", "video", "audio"):
                continue
            hints = MediaHints(
                title=f"{post.channel}/{post.message_id}",
                kind=item.kind,
                max_duration_seconds=self.source.max_media_seconds,
            )
            try:
                downloads.append(
                    await download_media(self.media_fetcher, self.ctx.store, item.url, None, hints)
                )
            except MediaDownloadError as err:
                self.report.fail(err.url, err.stage, f"{post.permalink}: {err.reason}")
        self.report.count("media", len(downloads))
        return downloads

    def _after_commit(self) -> None:
        """Once the captures are committed: custody events for edits and deletions, cursor."""
        if self._events:
            custody = CustodyLog(self.ctx.store, self.source.id)
            # A resumed run may have logged some of them before it was interrupted.
            logged = {e["event_id"] for e in custody.events(self.ctx.custody_seq_at_start)}
            custody.append(e for e in self._events if e.event_id not in logged)
        self._next.save(self.ctx.store, self.source.id)
        edits = sum(e.type == "post_edited" for e in self._events)
        deletions = sum(e.type == "post_deleted" for e in self._events)
        if edits or deletions:
            self.report.notes.append(f"{edits} post(s) edited, {deletions} deleted since archived")


def _edited_event(
    post: TelegramPost, archived: ArchivedPost, digest: str, capture_id: str
) -> CustodyEvent:
    return CustodyEvent(
        event_id=f"post_edited:{post.channel}/{post.message_id}:{digest}",
        type="post_edited",
        subject=post.permalink,
        details={
            "message_id": post.message_id,
            "previous_capture_id": archived.capture_id,
            "previous_text_sha256": archived.text_sha256,
            "capture_id": capture_id,
            "text_sha256": digest,
        },
    )


def _deleted_event(page: PreviewPage, message_id: int, archived: ArchivedPost) -> CustodyEvent:
    return CustodyEvent(
        event_id=f"post_deleted:{page.channel}/{message_id}",
        type="post_deleted",
        subject=f"{page.channel}/{message_id}",
        details={
            "message_id": message_id,
            "last_capture_id": archived.capture_id,
            "missing_from": page.page_url,
        },
    )
