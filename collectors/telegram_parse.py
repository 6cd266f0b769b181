"""Read a public Telegram channel's web preview (``t.me/s/<channel>``) into typed post records.

Pure: no network. The collector fetches ``preview_url(channel_url, before)`` and hands the body
and the final URL (after redirects) to ``parse_preview_page``. A post whose fields are missing
or unreadable is still returned, with ``problems`` saying what; a block without a usable
``data-post`` is left out and listed in ``PreviewPage.skipped``. The only exception raised is
``NotAChannelPage``: the body is not a public channel's preview at all.

Markup read (as t.me serves it): ``div.tgme_widget_message_wrap > div.tgme_widget_message
[data-post="channel/123"]``; text in ``.tgme_widget_message_text`` (a reply's quoted text uses
the same class inside ``a.tgme_widget_message_reply`` and is not the post's own); the footer's
``.tgme_widget_message_views`` ("1.2K"), ``.tgme_widget_message_meta`` ("edited", the
signature ``.tgme_widget_message_from_author``, the date link with ``time[datetime]``); older
posts behind ``a.tme_messages_more[data-before]`` (a ``?before=`` page also has a
``data-after`` link to newer posts, which is not the way back).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

__all__ = [
    "LinkPreview",
    "MediaKind",
    "NotAChannelPage",
    "PreviewPage",
    "TelegramMedia",
    "TelegramPost",
    "parse_preview_page",
    "parse_views",
    "preview_url",
]

MediaKind = Literal["photo", "video", "document", "audio"]
NotAChannelReason = Literal["not_found", "private", "not_telegram"]

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_BACKGROUND_URL = re.compile(r"""background-image\s*:\s*url\(\s*(['"]?)(.*?)\1\s*\)""", re.I)
_VIEWS = re.compile(r"^(\d{1,15}(?:[.,]\d{1,3})?)([KMB]?)$", re.I)  # no absurd lengths
_VIEW_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_EDITED = re.compile(r"\bedited\b", re.I)
# Parts of a message that quote or describe something else: their text, links and media are
# not the post's own.
_FOREIGN_PARTS = frozenset({"tgme_widget_message_reply", "tgme_widget_message_link_preview"})
_PLAYERS = frozenset({"tgme_widget_message_video_player", "tgme_widget_message_roundvideo_player"})
_MEDIA_SELECTOR = ", ".join(
    (
        ".tgme_widget_message_photo_wrap",
        ".tgme_widget_message_video_player",
        ".tgme_widget_message_roundvideo_player",
        "audio.tgme_widget_message_voice",
        ".tgme_widget_message_document_wrap",
    )
)


class NotAChannelPage(ValueError):
    """The page is not a public channel's preview; ``reason`` says which case.

    ``private``: t.me answered with the channel's landing page instead of ``/s/`` (a private
    channel, or one whose preview is turned off). ``not_found``: a Telegram page with no
    channel on it (the name does not exist or is not a channel). ``not_telegram``: not a
    Telegram page at all.
    """

    def __init__(self, message: str, reason: NotAChannelReason, url: str) -> None:
        super().__init__(message)
        self.reason: NotAChannelReason = reason
        self.url = url


@dataclass(frozen=True)
class TelegramMedia:
    """One photo, video, round video, voice note or file attached to a post."""

    kind: MediaKind
    url: str | None  # the file itself when the preview carries it (photo, video src, voice src)
    thumbnail_url: str | None = None
    duration: str | None = None  # as shown, e.g. "0:42"
    link: str | None = None  # the item's t.me link; album items carry their own id (?single)
    title: str | None = None  # documents and music: the file name or track title shown
    note: str | None = None  # why there is no file, when the preview says ("Media is too big")


@dataclass(frozen=True)
class LinkPreview:
    """The card Telegram shows under a post for the first link in it."""

    url: str
    site_name: str | None = None
    title: str | None = None
    description: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class TelegramPost:
    """One message of a channel as its preview shows it at capture time."""

    channel: str
    message_id: int
    permalink: str
    posted_at: datetime | None
    text: str
    text_html: str
    views: int | None
    edited: bool
    author: str | None = None
    forwarded_from: str | None = None
    forwarded_from_url: str | None = None
    service: bool = False  # "Channel created", "pinned …": no views, no author
    outlinks: tuple[str, ...] = ()
    link_preview: LinkPreview | None = None
    media: tuple[TelegramMedia, ...] = ()
    problems: tuple[str, ...] = ()

    def record(self) -> dict[str, object]:
        """The post as a JSON-ready dict (dates ISO 8601 in UTC): the structured record stored."""
        return {
            "channel": self.channel,
            "message_id": self.message_id,
            "permalink": self.permalink,
            "posted_at": self.posted_at.isoformat() if self.posted_at else None,
            "text": self.text,
            "text_html": self.text_html,
            "views": self.views,
            "edited": self.edited,
            "author": self.author,
            "forwarded_from": self.forwarded_from,
            "forwarded_from_url": self.forwarded_from_url,
            "service": self.service,
            "outlinks": list(self.outlinks),
            "link_preview": asdict(self.link_preview) if self.link_preview else None,
            "media": [asdict(item) for item in self.media],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class PreviewPage:
    """One page of a channel's preview: up to ~20 posts, oldest first."""

    page_url: str
    channel: str  # as in the page's address
    title: str | None
    posts: tuple[TelegramPost, ...]  # ascending message id
    before: int | None  # data-before of the link to older posts; None on the oldest page
    more_url: str | None  # the older page, on the host of page_url
    skipped: tuple[str, ...] = field(default=())  # blocks left out, and why


def preview_url(channel_url: str, before: int | None = None) -> str:
    """The preview page of a channel, newest posts first, or those older than ``before``.

    Accepts ``https://t.me/s/name``, ``https://t.me/name`` or a post link (``/s/name/12``,
    ``/name/12``); keeps the scheme and host as given, so mirrors and test sites work.
    Raises ValueError when the URL names no channel.
    """
    parts = urlsplit(channel_url)
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and segments[0] == "s":
        segments = segments[1:]
    if parts.scheme not in ("http", "https") or not segments:
        raise ValueError(f"not a Telegram channel URL: {channel_url!r}")
    name = segments[0]
    if not _CHANNEL_NAME.match(name):
        raise ValueError(f"not a Telegram channel name: {name!r} in {channel_url!r}")
    query = f"before={before}" if before is not None else ""
    return urlunsplit((parts.scheme, parts.netloc, f"/s/{name}", query, ""))


def parse_views(shown: str) -> int | None:
    """A view counter as shown ("987", "1.2K", "436.6K", "3M") as a number; None if not one."""
    match = _VIEWS.match(shown.strip().replace("\xa0", "").replace(" ", ""))
    if match is None:
        return None
    number, suffix = match.groups()
    if not suffix:
        # Without a suffix t.me shows whole numbers; a separator here is a thousands separator.
        return int(number.replace(",", "").replace(".", ""))
    try:
        value = Decimal(number.replace(",", ".")) * _VIEW_MULTIPLIERS[suffix.upper()]
    except InvalidOperation:
        return None
    return int(value)


def parse_preview_page(html: bytes | str, page_url: str) -> PreviewPage:
    """Parse one ``t.me/s/<channel>`` page fetched from ``page_url`` (the URL after redirects).

    Raises NotAChannelPage, and nothing else, when the page is not a public channel's preview.
    """
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    else:  # lone surrogates cannot reach the parser, which works on UTF-8
        html = html.encode("utf-8", errors="replace").decode("utf-8")
    tree = LexborHTMLParser(html)
    channel_name = _require_channel_page(tree, page_url)
    scheme, netloc, _, _, _ = urlsplit(page_url)

    posts: dict[int, TelegramPost] = {}
    skipped: list[str] = []
    for position, message in enumerate(tree.css("div.tgme_widget_message"), start=1):
        data_post = message.attributes.get("data-post")
        reference = _post_reference(data_post)
        if reference is None:
            shown = "no data-post" if data_post is None else f"data-post {data_post!r}"
            skipped.append(f"message block {position}: {shown}, not 'channel/number'")
            continue
        channel, message_id = reference
        if message_id in posts:
            skipped.append(f"message block {position}: {data_post} appears twice; kept the first")
            continue
        posts[message_id] = _parse_post(message, channel, message_id, page_url)

    before = _older_page_cursor(tree)
    return PreviewPage(
        page_url=page_url,
        channel=channel_name,
        title=_channel_title(tree),
        posts=tuple(posts[key] for key in sorted(posts)),
        before=before,
        more_url=(
            urlunsplit((scheme, netloc, f"/s/{channel_name}", f"before={before}", ""))
            if before is not None
            else None
        ),
        skipped=tuple(skipped),
    )


def _channel_in_path(page_url: str) -> str | None:
    """The channel of a ``/s/<channel>`` URL; None for any other path."""
    try:
        path = urlsplit(page_url).path
    except ValueError as error:
        message = f"{page_url!r} is not a URL: {error}"
        raise NotAChannelPage(message, "not_telegram", page_url) from error
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) >= 2 and segments[0] == "s" and _CHANNEL_NAME.match(segments[1]):
        return segments[1]
    return None


def _require_channel_page(tree: LexborHTMLParser, page_url: str) -> str:
    """The channel named by ``page_url``, once the page is known to be its public preview."""
    channel = _channel_in_path(page_url)
    has_channel = tree.css_first(".tgme_channel_info, .tgme_channel_history") is not None
    has_posts = tree.css_first("div.tgme_widget_message") is not None
    if channel is not None and (has_channel or has_posts):
        return channel
    if tree.css_first("[class*='tgme_']") is None:
        raise NotAChannelPage(
            f"{page_url} is not a Telegram channel preview: no Telegram markup in the page",
            "not_telegram",
            page_url,
        )
    # t.me sends /s/<name> to the landing page t.me/<name> when there is no public preview. A
    # channel's landing page counts subscribers, a group's members; a user, a bot or a free
    # name gets a "Telegram: Contact @name" page.
    extra = tree.css_first(".tgme_page_extra")
    counted = extra.text().lower() if extra is not None else ""
    title = tree.css_first("title")
    contact = title is not None and "contact @" in title.text().lower()
    if "subscriber" in counted or (channel is None and not contact and "member" not in counted):
        raise NotAChannelPage(
            f"{page_url} is a channel's landing page, not its public preview: the channel is "
            "private or has its web preview turned off",
            "private",
            page_url,
        )
    raise NotAChannelPage(
        f"no public channel at {page_url}: the page shows no channel and no posts (the name "
        "does not exist, or is a user, bot or group)",
        "not_found",
        page_url,
    )


def _post_reference(data_post: str | None) -> tuple[str, int] | None:
    channel, _, number = (data_post or "").strip().partition("/")
    if not _CHANNEL_NAME.match(channel) or not number.isascii() or not number.isdigit():
        return None
    return channel, int(number)


def _parse_post(message: LexborNode, channel: str, message_id: int, page_url: str) -> TelegramPost:
    problems: list[str] = []
    service = "service_message" in _classes(message)
    # The first match is the outermost: t.me nests an album's caption in a second text block.
    # A reply's quote is marked js-message_reply_text, which also covers a quote torn out of
    # its reply link by broken nesting.
    text_node = _own_first(message, ".tgme_widget_message_text:not(.js-message_reply_text)")
    text_html = (text_node.inner_html or "") if text_node is not None else ""
    text = _plain_text(text_node) if text_node is not None else ""

    posted_at = _posted_at(message, problems)
    views = _views(message, service, problems)
    meta = _own_first(message, ".tgme_widget_message_meta")
    author_node = _own_first(message, ".tgme_widget_message_from_author")
    forwarded = _own_first(message, ".tgme_widget_message_forwarded_from_name")
    forwarded_href = forwarded.attributes.get("href") if forwarded is not None else None
    link_preview = _link_preview(message, page_url, problems)
    outlinks = _links(text_node, page_url) if text_node is not None else []
    if link_preview is not None and link_preview.url.startswith(("http://", "https://")):
        outlinks.append(link_preview.url)

    parts = urlsplit(page_url)
    return TelegramPost(
        channel=channel,
        message_id=message_id,
        permalink=urlunsplit((parts.scheme, parts.netloc, f"/{channel}/{message_id}", "", "")),
        posted_at=posted_at,
        text=text,
        text_html=text_html,
        views=views,
        edited=meta is not None and _EDITED.search(_own_text(meta)) is not None,
        author=_text_or_none(author_node),
        forwarded_from=_text_or_none(forwarded),
        forwarded_from_url=_absolute(forwarded_href, page_url),
        service=service,
        outlinks=tuple(dict.fromkeys(outlinks)),
        link_preview=link_preview,
        media=tuple(_media(message, page_url, problems)),
        problems=tuple(problems),
    )


def _posted_at(message: LexborNode, problems: list[str]) -> datetime | None:
    node = _own_first(message, ".tgme_widget_message_date time[datetime]")
    if node is None:
        node = _own_first(message, "time[datetime]")
    if node is None:
        problems.append("no date")
        return None
    shown = node.attributes.get("datetime") or ""
    try:
        moment = datetime.fromisoformat(shown.strip())
    except ValueError:
        problems.append(f"date not ISO 8601: {shown!r}")
        return None
    if moment.tzinfo is None:
        problems.append(f"date without a time zone, read as UTC: {shown!r}")
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        problems.append(f"date out of range: {shown!r}")
        return None


def _views(message: LexborNode, service: bool, problems: list[str]) -> int | None:
    node = _own_first(message, ".tgme_widget_message_views")
    if node is None:
        if not service:  # service messages have no counter on t.me either
            problems.append("no views")
        return None
    shown = node.text(strip=True)
    views = parse_views(shown)
    if views is None:
        problems.append(f"views not a number: {shown!r}")
    return views


def _link_preview(message: LexborNode, page_url: str, problems: list[str]) -> LinkPreview | None:
    node = message.css_first("a.tgme_widget_message_link_preview")
    if node is None or _inside(node, message, frozenset({"tgme_widget_message_reply"})):
        return None
    href = (node.attributes.get("href") or "").strip()
    url = _absolute(href, page_url)
    if url is None:
        problems.append(f"link preview without a usable link: {href!r}")
        return None
    image = node.css_first(".link_preview_image, .link_preview_right_image")
    description = node.css_first(".link_preview_description")
    return LinkPreview(
        url=url,
        site_name=_text_or_none(node.css_first(".link_preview_site_name")),
        title=_text_or_none(node.css_first(".link_preview_title")),
        description=(_plain_text(description) or None) if description is not None else None,
        image_url=_background_url(image, page_url),
    )


def _media(message: LexborNode, page_url: str, problems: list[str]) -> list[TelegramMedia]:
    found: list[TelegramMedia] = []
    for node in message.css(_MEDIA_SELECTOR):
        if _inside(node, message, _FOREIGN_PARTS):
            continue
        classes = _classes(node)
        href = node.attributes.get("href")
        link = _absolute(href, page_url)
        if "tgme_widget_message_photo_wrap" in classes:
            item = TelegramMedia("photo", _background_url(node, page_url), link=link)
        elif classes & {
            "tgme_widget_message_video_player",
            "tgme_widget_message_roundvideo_player",
        }:
            item = _video(node, page_url, link)
        elif node.tag == "audio":
            item = _voice(node, page_url)
        else:
            item = _document(node, link)
        if item.url is None and item.kind == "photo":
            problems.append(f"photo {len(found) + 1} has no image URL")
        found.append(item)
    return found


def _video(node: LexborNode, page_url: str, link: str | None) -> TelegramMedia:
    video = node.css_first("video[src]")
    url = _absolute(video.attributes.get("src"), page_url) if video is not None else None
    duration = node.css_first(".message_video_duration, .tgme_widget_message_roundvideo_duration")
    if duration is None:
        duration = node.css_first("time:not([datetime])")
    note = None
    if url is None:
        note = _text_or_none(node.css_first(".message_media_not_supported_label"))
    thumb = node.css_first(
        ".tgme_widget_message_video_thumb, .tgme_widget_message_roundvideo_thumb"
    )
    return TelegramMedia(
        "video",
        url,
        thumbnail_url=_background_url(thumb, page_url),
        duration=_text_or_none(duration),
        link=link,
        note=note,
    )


def _voice(node: LexborNode, page_url: str) -> TelegramMedia:
    player = node.parent
    duration = player.css_first(".tgme_widget_message_voice_duration") if player else None
    return TelegramMedia(
        "audio", _absolute(node.attributes.get("src"), page_url), duration=_text_or_none(duration)
    )


def _document(node: LexborNode, link: str | None) -> TelegramMedia:
    # The preview links a file to its post, never to the file; music has an "audio" icon.
    icon = node.css_first(".tgme_widget_message_document_icon")
    kind: MediaKind = "audio" if icon is not None and "audio" in _classes(icon) else "document"
    title = _text_or_none(node.css_first(".tgme_widget_message_document_title"))
    extra = _text_or_none(node.css_first(".tgme_widget_message_document_extra"))
    return TelegramMedia(kind, None, link=link, title=title, note=extra)


def _older_page_cursor(tree: LexborHTMLParser) -> int | None:
    node = tree.css_first("a.tme_messages_more[data-before]")
    shown = (node.attributes.get("data-before") or "").strip() if node is not None else ""
    # 0 would name the newest page again: a crawler following it would never stop.
    return int(shown) if shown.isascii() and shown.isdigit() and int(shown) > 0 else None


def _channel_title(tree: LexborHTMLParser) -> str | None:
    title = _text_or_none(tree.css_first(".tgme_channel_info_header_title"))
    if title is None:
        meta = tree.css_first("meta[property='og:title']")
        title = (meta.attributes.get("content") or "").strip() or None if meta else None
    return title


def _own_first(message: LexborNode, selector: str) -> LexborNode | None:
    """The first match, in document order, that belongs to the post itself.

    A quoted reply and a link card reuse the post's classes (a reply's quote is another
    ``.tgme_widget_message_text``); matches inside them are not the post's.
    """
    for node in message.css(selector):
        if not _inside(node, message, _FOREIGN_PARTS):
            return node
    return None


def _inside(node: LexborNode, stop: LexborNode, classes: frozenset[str]) -> bool:
    """Whether an ancestor of ``node`` below ``stop`` has one of ``classes``."""
    parent = node.parent
    while parent is not None and parent.mem_id != stop.mem_id:
        if _classes(parent) & classes:
            return True
        parent = parent.parent
    return False


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def _plain_text(node: LexborNode) -> str:
    """Text as read: ``<br>`` as a newline, emoji images as their characters, ends trimmed."""
    parts: list[str] = []
    for item in node.traverse(include_text=True):
        if item.tag == "br":
            parts.append("\n")
        elif item.is_text_node:
            parts.append(item.text_content or "")
    return "".join(parts).strip()


def _own_text(node: LexborNode) -> str:
    """The text directly in ``node``, not in its children (the signature is a child of meta)."""
    parts: list[str] = []
    child = node.child
    while child is not None:
        if child.is_text_node:
            parts.append(child.text_content or "")
        child = child.next
    return " ".join(parts)


def _links(node: LexborNode, page_url: str) -> list[str]:
    """Absolute http(s) links in a text block, in order; hashtag searches (``?q=``) left out."""
    links: list[str] = []
    for anchor in node.css("a[href]"):
        href = (anchor.attributes.get("href") or "").strip()
        if not href or href.startswith(("?", "#")):
            continue
        url = _absolute(href, page_url)
        if url is not None and url.startswith(("http://", "https://")):
            links.append(url)
    return links


def _background_url(node: LexborNode | None, page_url: str) -> str | None:
    if node is None:
        return None
    match = _BACKGROUND_URL.search(node.attributes.get("style") or "")
    return _absolute(match.group(2), page_url) if match else None


def _absolute(url: str | None, page_url: str) -> str | None:
    """An absolute URL (t.me writes some as ``//host/path``); None when empty or malformed."""
    url = (url or "").strip()
    if not url:
        return None
    try:
        return urljoin(page_url, url)
    except ValueError:  # e.g. an unclosed "[" where an IPv6 host should be
        return None


def _text_or_none(node: LexborNode | None) -> str | None:
    """A short label's text with runs of white space collapsed; None when empty."""
    if node is None:
        return None
    return " ".join(node.text().split()) or None
