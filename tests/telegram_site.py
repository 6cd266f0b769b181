"""An imitation of t.me's public channel preview, served on loopback for the Telegram tests.

A stdlib threaded HTTP server on 127.0.0.1 (a free port) in a background thread. Channels and
posts live in the ``TelegramImitation`` object, so a test can change them between two crawls.
The markup follows what t.me serves (classes, ``data-post``, ``time[datetime]``, compact view
counts, ``edited`` in the meta, photo wraps with ``background-image:url('…')``, ``<video src>``
in the video player, link preview cards), with URLs on this server instead of t.me and its CDN.

Routes:

``/s/<channel>``, ``/s/<channel>?before=N``
    The preview: the newest ``PAGE_SIZE`` posts (or those older than N), oldest first. While
    older posts exist, ``a.tme_messages_more[data-before]`` (the page's lowest id) leads to
    them; a ``?before=`` page also links newer posts with ``data-after``, as t.me does.
    A private channel answers 302 to ``/<channel>``; an unknown name answers 200 with t.me's
    "Contact @name" page and no channel on it (or 302 to ``/<name>`` with
    ``redirect_unknown=True``, which t.me has also been seen doing).
``/<channel>``
    The landing page: "View @channel", its subscribers, no posts.
``/file/<name>``
    Photos and thumbnails (small PNGs made in code) and videos (``video/mp4``, streamed from
    the file the test named). No Range support.

Every request is counted by its target (path and query): ``hits("/s/news?before=21")``.
"""

from __future__ import annotations

import html
import re
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from tests.loopback_server import LoopbackSite

__all__ = [
    "FIRST_POST_AT",
    "PAGE_SIZE",
    "LinkCard",
    "TelegramImitation",
    "compact_count",
    "png_image",
]

PAGE_SIZE = 20
FIRST_POST_AT = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)  # posts without a date follow hourly
_URL = re.compile(r"https?://[^\s<>\"']+")


def png_image(seed: int, size: int = 8) -> bytes:
    """A valid ``size``×``size`` RGB PNG whose colour (and so bytes) depends on ``seed``."""
    colour = bytes(((seed * 67) % 256, (seed * 131) % 256, (seed * 197) % 256))
    rows = b"".join(b"\x00" + colour * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def compact_count(value: int) -> str:
    """A counter as t.me shows it: 987, 1.2K, 436.6K, 3.1M (truncated, not rounded)."""
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if value >= limit:
            tenths = value * 10 // limit
            whole, fraction = divmod(tenths, 10)
            return f"{whole}.{fraction}{suffix}" if fraction else f"{whole}{suffix}"
    return str(value)


@dataclass(frozen=True)
class LinkCard:
    """The link preview t.me shows under a post."""

    url: str
    site_name: str | None = None
    title: str | None = None
    description: str | None = None


@dataclass
class _Post:
    message_id: int
    text: str
    posted_at: datetime
    views: int
    author: str | None = None
    forwarded_from: str | None = None
    forwarded_from_url: str | None = None
    link_card: LinkCard | None = None
    photo: bool = False
    video_file: str | None = None
    video_duration: str = "0:42"
    service: bool = False
    edited: bool = False


@dataclass
class _Channel:
    name: str
    title: str
    description: str
    subscribers: int = 1234
    private: bool = False
    posts: dict[int, _Post] = field(default_factory=dict)
    last_id: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    imitation: TelegramImitation

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients hanging up mid-video are what tests cause."""


class _Handler(BaseHTTPRequestHandler):
    server_version = "osint-archive-telegram-imitation/1"

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the tests report what matters."""

    def do_GET(self) -> None:
        imitation = cast(_Server, self.server).imitation
        imitation.count(self.path)
        parts = urlsplit(self.path)
        segments = [segment for segment in parts.path.split("/") if segment]
        if len(segments) == 2 and segments[0] == "file":
            self.file(imitation, segments[1])
            return
        if len(segments) == 2 and segments[0] == "s":
            before = parse_qs(parts.query).get("before", [""])[0]
            answer = imitation.preview_answer(
                segments[1], int(before) if before.isdigit() else None
            )
        elif len(segments) == 1:
            answer = (200, imitation.landing_page(segments[0]), None)
        else:
            answer = (404, b"not found\n", None)
        status, body, location = answer
        headers = (("Location", location),) if location else ()
        self.send(status, body, "text/html; charset=utf-8", headers)

    def file(self, imitation: TelegramImitation, name: str) -> None:
        found = imitation.file(name)
        if found is None:
            self.send(404, b"not found\n", "text/plain; charset=utf-8")
        elif isinstance(found, bytes):
            self.send(200, found, "image/png")
        else:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(found.stat().st_size))
            self.end_headers()
            with found.open("rb") as stream:
                while chunk := stream.read(65536):
                    self.wfile.write(chunk)

    def send(
        self, status: int, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class TelegramImitation(LoopbackSite):
    """Serve imitated public channels on loopback; ``start()``/``stop()`` or a context manager."""

    thread_name = "telegram-imitation"

    def __init__(self, host: str = "127.0.0.1", *, redirect_unknown: bool = False) -> None:
        super().__init__()
        self.host = host
        self.redirect_unknown = redirect_unknown
        self.requests: list[str] = []  # every request target, in order
        self._hits: Counter[str] = Counter()
        self._channels: dict[str, _Channel] = {}
        self._videos: dict[str, Path] = {}
        self._lock = threading.RLock()

    # Server life.
    def make_server(self) -> ThreadingHTTPServer:
        server = _Server((self.host, 0), _Handler)
        server.imitation = self
        return server

    def channel_url(self, name: str) -> str:
        """The preview URL of a channel, as a source entry would name it."""
        return f"{self.base_url}/s/{name}"

    # Request counting.
    def count(self, target: str) -> None:
        with self._lock:
            self._hits[target] += 1
            self.requests.append(target)

    def hits(self, target: str) -> int:
        """Requests so far for a target, query included: ``hits("/s/news?before=21")``."""
        with self._lock:
            return self._hits[target]

    def reset_counts(self) -> None:
        with self._lock:
            self._hits.clear()
            self.requests.clear()

    # Channels and posts.
    def add_channel(
        self, name: str, title: str, posts: Iterable[str] = (), description: str = ""
    ) -> None:
        """A public channel, with text posts numbered from 1 in the given order."""
        with self._lock:
            if name in self._channels:
                raise ValueError(f"channel {name!r} exists")
            self._channels[name] = _Channel(name, title, description)
            for text in posts:
                self.add_post(name, text)

    def add_post(
        self,
        channel: str,
        text: str = "",
        *,
        posted_at: datetime | None = None,
        views: int | None = None,
        author: str | None = None,
        forwarded_from: str | None = None,
        forwarded_from_url: str | None = None,
        link_card: LinkCard | None = None,
        photo: bool = False,
        video_path: Path | None = None,
        video_duration: str = "0:42",
        service: bool = False,
    ) -> int:
        """Publish a post; returns its message id (one more than the last, as on Telegram).

        ``text`` is plain text: newlines become ``<br/>`` and http(s) URLs become links, as
        Telegram renders them. ``service`` makes it a service message ("Channel created"):
        no views, no signature.
        """
        with self._lock:
            found = self._channel(channel)
            found.last_id += 1
            message_id = found.last_id
            if video_path is not None:
                video_name = f"{channel}-{message_id}-{video_path.name}"
                self._videos[video_name] = Path(video_path)
            found.posts[message_id] = _Post(
                message_id=message_id,
                text=text,
                posted_at=posted_at or FIRST_POST_AT + timedelta(hours=message_id - 1),
                views=views if views is not None else 100 + 37 * message_id,
                author=author,
                forwarded_from=forwarded_from,
                forwarded_from_url=forwarded_from_url,
                link_card=link_card,
                photo=photo,
                video_file=video_name if video_path is not None else None,
                video_duration=video_duration,
                service=service,
            )
            return message_id

    def edit_post(self, channel: str, message_id: int, new_text: str) -> None:
        """Change a post's text; its meta then shows "edited"."""
        with self._lock:
            post = self._post(channel, message_id)
            post.text = new_text
            post.edited = True

    def set_views(self, channel: str, message_id: int, views: int) -> None:
        with self._lock:
            self._post(channel, message_id).views = views

    def delete_post(self, channel: str, message_id: int) -> None:
        """Remove a post; later ids are not reused."""
        with self._lock:
            self._post(channel, message_id)
            del self._channel(channel).posts[message_id]

    def make_private(self, channel: str) -> None:
        """From now on ``/s/<channel>`` answers 302 to ``/<channel>``, as t.me does."""
        with self._lock:
            self._channel(channel).private = True

    def photo_url(self, channel: str, message_id: int) -> str:
        return f"{self.base_url}/file/photo-{channel}-{message_id}.png"

    def photo_bytes(self, channel: str, message_id: int) -> bytes:
        """The PNG served for a post's photo."""
        return png_image(_seed(channel, message_id))

    def video_url(self, channel: str, message_id: int) -> str:
        with self._lock:
            name = self._post(channel, message_id).video_file
        if name is None:
            raise ValueError(f"post {channel}/{message_id} has no video")
        return f"{self.base_url}/file/{name}"

    def _channel(self, name: str) -> _Channel:
        try:
            return self._channels[name]
        except KeyError:
            raise KeyError(f"no channel {name!r} in the imitation") from None

    def _post(self, channel: str, message_id: int) -> _Post:
        try:
            return self._channel(channel).posts[message_id]
        except KeyError:
            raise KeyError(f"no post {channel}/{message_id} in the imitation") from None

    # What the handler serves.
    def preview_answer(self, name: str, before: int | None) -> tuple[int, bytes, str | None]:
        """(status, body, Location) for ``/s/<name>``."""
        with self._lock:
            channel = self._channels.get(name)
            if channel is None:
                if self.redirect_unknown:
                    return 302, b"", f"{self.base_url}/{name}"
                return 200, _contact_page(name), None
            if channel.private:
                return 302, b"", f"{self.base_url}/{name}"
            return 200, self._preview_page(channel, before), None

    def landing_page(self, name: str) -> bytes:
        with self._lock:
            channel = self._channels.get(name)
            return _contact_page(name) if channel is None else _landing_page(channel)

    def file(self, name: str) -> bytes | Path | None:
        """A photo's or thumbnail's PNG, a video's path, or None."""
        with self._lock:
            if name in self._videos:
                return self._videos[name]
        match = re.fullmatch(r"(photo|thumb|card)-(\w+)-(\d+)\.png", name)
        if match is None:
            return None
        kind, channel, number = match.groups()
        offset = {"photo": 0, "thumb": 1, "card": 2}[kind]
        return png_image(_seed(channel, int(number)) + offset)

    def _preview_page(self, channel: _Channel, before: int | None) -> bytes:
        ids = sorted(i for i in channel.posts if before is None or i < before)
        shown = ids[-PAGE_SIZE:]
        older = bool(shown) and shown[0] > min(channel.posts)
        newer = bool(shown) and shown[-1] < max(channel.posts)
        base = self.base_url
        name = html.escape(channel.name)
        more = ""
        head_links = ""
        if older:
            more += (
                '<div class="tgme_widget_message_centered js-messages_more_wrap">'
                f'<a href="/s/{name}?before={shown[0]}" class="tme_messages_more '
                f'js-messages_more" data-before="{shown[0]}"></a></div>'
            )
            head_links += f'<link rel="prev" href="/s/{name}?before={shown[0]}">'
        if not shown:
            more += '<div class="tme_no_messages_found">No posts found</div>'
        messages = "".join(self._message(channel, channel.posts[i]) for i in shown)
        after = ""
        if before is not None and newer:
            after = (
                '<div class="tgme_widget_message_centered js-messages_more_wrap">'
                f'<a href="/s/{name}?after={shown[-1]}" class="tme_messages_more '
                f'js-messages_more" data-after="{shown[-1]}"></a></div>'
            )
        title = html.escape(channel.title)
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title} – Telegram</title>
<meta property="og:title" content="{title}">
<meta property="og:description" content="{html.escape(channel.description)}">
<link rel="canonical" href="{base}/s/{name}">{head_links}</head>
<body class="widget_frame_base tgme_webpreview emoji_image thin_box_shadow tme_mode">
<header class="tgme_header search_collapsed"><div class="tgme_container">
<div class="tgme_header_right_column"><section class="tgme_right_column">
<div class="tgme_channel_info"><div class="tgme_channel_info_header">
<i class="tgme_page_photo_image bgcolor4" data-content="{title[:1]}"></i>
<div class="tgme_channel_info_header_title_wrap"><div class="tgme_channel_info_header_title">\
<span dir="auto">{title}</span></div></div>
<div class="tgme_channel_info_header_username"><a href="{base}/{name}">@{name}</a></div></div>
<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter">\
<span class="counter_value">{compact_count(channel.subscribers)}</span> \
<span class="counter_type">subscribers</span></div></div>
<div class="tgme_channel_info_description">{html.escape(channel.description)}</div></div>
</section></div></div></header>
<main class="tgme_main" data-url="/{name}"><div class="tgme_container">
<section class="tgme_channel_history js-message_history">
{more}{messages}{after}
</section></div></main></body></html>
"""
        return page.encode("utf-8")

    def _message(self, channel: _Channel, post: _Post) -> str:
        base = self.base_url
        name = html.escape(channel.name)
        link = f"{base}/{name}/{post.message_id}"
        classes = "tgme_widget_message text_not_supported_wrap js-widget_message"
        if post.service:
            classes = classes.replace(" js-", " service_message js-")
        parts = [
            f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
            f'<div class="{classes}" data-post="{name}/{post.message_id}" data-view="e30">',
            f'<div class="tgme_widget_message_user"><a href="{base}/{name}">'
            '<i class="tgme_widget_message_user_photo bgcolor4"></i></a></div>',
            '<div class="tgme_widget_message_bubble">'
            '<i class="tgme_widget_message_bubble_tail"></i>'
            f'<div class="tgme_widget_message_author accent_color">'
            f'<a class="tgme_widget_message_owner_name" href="{base}/{name}">'
            f'<span dir="auto">{html.escape(channel.title)}</span></a></div>',
        ]
        if post.forwarded_from:
            href = (
                f' href="{html.escape(post.forwarded_from_url)}"' if post.forwarded_from_url else ""
            )
            tag = "a" if href else "span"
            parts.append(
                '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
                f'<{tag} class="tgme_widget_message_forwarded_from_name"{href}>'
                f'<span dir="auto">{html.escape(post.forwarded_from)}</span></{tag}></div>'
            )
        if post.photo:
            photo = self.photo_url(channel.name, post.message_id)
            parts.append(
                '<a class="tgme_widget_message_photo_wrap blured js-message_photo" '
                f"style=\"width:320px;background-image:url('{photo}')\" "
                f'data-ratio="1.5" href="{link}">'
                '<div class="tgme_widget_message_photo" style="padding-top:66.667%"></div></a>'
            )
        if post.video_file:
            thumb = f"{base}/file/thumb-{name}-{post.message_id}.png"
            parts.append(
                '<a class="tgme_widget_message_video_player js-message_video_player" '
                f'href="{link}">'
                '<i class="tgme_widget_message_video_thumb" '
                f"style=\"background-image:url('{thumb}')\"></i>"
                '<div class="tgme_widget_message_video_wrap" '
                'style="width:320px;padding-top:56.25%">'
                f'<video src="{base}/file/{html.escape(post.video_file)}" '
                'class="tgme_widget_message_video js-message_video" width="100%" height="100%">'
                "</video></div>"
                '<div class="message_video_play js-message_video_play"></div>'
                '<time class="message_video_duration js-message_video_duration">'
                f"{html.escape(post.video_duration)}</time></a>"
            )
        if post.text:
            parts.append(
                '<div class="tgme_widget_message_text js-message_text" dir="auto">'
                f"{_rendered_text(post.text)}</div>"
            )
        if post.link_card is not None:
            parts.append(self._link_card(channel, post, post.link_card))
        parts.append(self._footer(post, link))
        parts.append("</div></div></div>")
        return "\n".join(parts)

    def _link_card(self, channel: _Channel, post: _Post, card: LinkCard) -> str:
        image = f"{self.base_url}/file/card-{html.escape(channel.name)}-{post.message_id}.png"
        fields = [
            f'<a class="tgme_widget_message_link_preview" href="{html.escape(card.url)}">',
            f'<i class="link_preview_right_image" style="background-image:url(\'{image}\')"></i>',
        ]
        for css, value in (
            ("link_preview_site_name accent_color", card.site_name),
            ("link_preview_title", card.title),
            ("link_preview_description", card.description),
        ):
            if value is not None:
                fields.append(f'<div class="{css}" dir="auto">{_rendered_text(value)}</div>')
        fields.append("</a>")
        return "".join(fields)

    def _footer(self, post: _Post, link: str) -> str:
        views = ""
        if not post.service:
            views = (
                f'<span class="tgme_widget_message_views">{compact_count(post.views)}</span>'
                '<span class="copyonly"> views</span>'
            )
        meta = ""
        if post.author and not post.service:
            author = html.escape(post.author)
            meta += (
                f'<span class="tgme_widget_message_from_author" dir="auto">{author}</span>,&nbsp;'
            )
        if post.edited:
            meta += "edited &nbsp;"
        return (
            '<div class="tgme_widget_message_footer compact js-message_footer">'
            '<div class="tgme_widget_message_info short js-message_info">'
            f'{views}<span class="tgme_widget_message_meta">{meta}'
            f'<a class="tgme_widget_message_date" href="{link}">'
            f'<time datetime="{post.posted_at.astimezone(UTC).isoformat()}" class="time">'
            f"{post.posted_at.astimezone(UTC):%H:%M}</time></a></span></div></div>"
        )


def _seed(channel: str, message_id: int) -> int:
    return zlib.crc32(channel.encode()) + 3 * message_id


def _rendered_text(text: str) -> str:
    """Plain text as Telegram renders it: escaped, links made clickable, newlines as <br/>."""
    pieces: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        pieces.append(html.escape(text[position : match.start()]))
        url = html.escape(match.group(0))
        pieces.append(f'<a href="{url}" target="_blank" rel="noopener">{url}</a>')
        position = match.end()
    pieces.append(html.escape(text[position:]))
    return "".join(pieces).replace("\n", "<br/>")


def _tme_page(name: str, title: str, inner: str) -> bytes:
    """The shell of t.me's landing pages (no channel info, no posts)."""
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}"></head>
<body><div class="tgme_page_wrap"><div class="tgme_head_wrap"><div class="tgme_head">
<a href="//telegram.org/" class="tgme_head_brand"></a></div></div>
<div class="tgme_body_wrap"><div class="tgme_page">{inner}
<div class="tgme_page_action"><a class="tgme_action_button_new shine" \
href="tg://resolve?domain={name}">View in Telegram</a></div>
</div></div></div></body></html>
"""
    return page.encode("utf-8")


def _contact_page(name: str) -> bytes:
    escaped = html.escape(name)
    return _tme_page(
        escaped,
        f"Telegram: Contact @{escaped}",
        '<div class="tgme_page_icon"></div>'
        '<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can '
        f'contact <a class="tgme_username_link" href="tg://resolve?domain={escaped}">'
        f"@{escaped}</a> right away.</div>",
    )


def _landing_page(channel: _Channel) -> bytes:
    name = html.escape(channel.name)
    title = html.escape(channel.title)
    subscribers = f"{channel.subscribers:,}".replace(",", " ")
    return _tme_page(
        name,
        f"Telegram: View @{name}",
        f'<div class="tgme_page_photo"><i class="tgme_page_photo_image" data-content="{title[:1]}">'
        f'</i></div><div class="tgme_page_title"><span dir="auto">{title}</span></div>'
        f'<div class="tgme_page_extra">{subscribers} subscribers</div>'
        f'<div class="tgme_page_description">{html.escape(channel.description)}</div>',
    )
