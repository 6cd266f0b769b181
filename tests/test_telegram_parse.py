"""The t.me/s/<channel> parser: pages served by the imitation, and hand-written bad markup."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from collectors.telegram_parse import (
    LinkPreview,
    NotAChannelPage,
    TelegramMedia,
    TelegramPost,
    parse_preview_page,
    parse_views,
    preview_url,
)
from tests.telegram_site import LinkCard, TelegramImitation, compact_count

PAGE_URL = "https://t.me/s/news"
# Loopback only: a proxy from the environment must not see the imitation's traffic.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def telegram() -> Iterator[TelegramImitation]:
    with TelegramImitation() as site:
        yield site


def fetch(url: str) -> tuple[bytes, str, str]:
    """GET with redirects followed: (body, final URL, Content-Type)."""
    with _OPENER.open(url, timeout=5) as response:
        return response.read(), response.geturl(), response.headers["Content-Type"]


def page_with(*messages: str, more: str = "") -> str:
    """A preview page holding ``messages``, shaped like t.me's channel history."""
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>News – Telegram</title>'
        '<meta property="og:title" content="News &amp; Views"></head><body>'
        '<section class="tgme_channel_history js-message_history">'
        f"{more}{''.join(messages)}</section></body></html>"
    )


def message(data_post: str | None, inner: str, classes: str = "") -> str:
    attribute = f' data-post="{data_post}"' if data_post is not None else ""
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        f'<div class="tgme_widget_message text_not_supported_wrap {classes} js-widget_message"'
        f'{attribute}><div class="tgme_widget_message_bubble">{inner}</div></div></div>'
    )


def footer(
    views: str | None = "1.2K", when: str | None = "2024-05-01T10:00:00+00:00", meta: str = ""
) -> str:
    shown = f'<span class="tgme_widget_message_views">{views}</span>' if views else ""
    date = (
        f'<a class="tgme_widget_message_date" href="https://t.me/news/1">'
        f'<time datetime="{when}" class="time">10:00</time></a>'
        if when
        else ""
    )
    return (
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        f'<div class="tgme_widget_message_info short js-message_info">{shown}'
        f'<span class="copyonly"> views</span><span class="tgme_widget_message_meta">{meta}'
        f"{date}</span></div></div>"
    )


def text(html: str) -> str:
    return f'<div class="tgme_widget_message_text js-message_text" dir="auto">{html}</div>'


def only_post(html: str, page_url: str = PAGE_URL) -> TelegramPost:
    page = parse_preview_page(html, page_url)
    assert len(page.posts) == 1, page
    return page.posts[0]


# Pages served by the imitation.


def test_a_served_page_yields_every_post_field(telegram: TelegramImitation, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    telegram.add_channel("news", "News & Views", description="Daily reports")
    created = telegram.add_post("news", "Channel created", service=True)
    plain = telegram.add_post(
        "news",
        "Detentions reported\nSee https://example.org/report and https://example.org/report",
        views=1234,
        author="Olga",
        posted_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
    )
    photo = telegram.add_post("news", "Photo from the square", photo=True, views=436_600)
    clip = telegram.add_post("news", "", video_path=video, video_duration="1:05")
    shared = telegram.add_post(
        "news",
        "Read this",
        forwarded_from="Other channel",
        forwarded_from_url="https://t.me/other/77",
        link_card=LinkCard("https://example.net/story", "Example", "A story", "What happened"),
    )

    body, final_url, content_type = fetch(telegram.channel_url("news"))
    page = parse_preview_page(body, final_url)

    assert content_type == "text/html; charset=utf-8"
    assert (page.channel, page.title, page.before, page.more_url) == (
        "news",
        "News & Views",
        None,
        None,
    )
    assert [post.message_id for post in page.posts] == [created, plain, photo, clip, shared]
    assert all(post.problems == () for post in page.posts), [p.problems for p in page.posts]
    by_id = {post.message_id: post for post in page.posts}

    service = by_id[created]
    assert service.service and service.views is None and service.text == "Channel created"

    first = by_id[plain]
    assert first.permalink == f"{telegram.base_url}/news/{plain}"
    assert first.posted_at == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert first.text.startswith("Detentions reported\nSee https://example.org/report")
    assert first.views == 1200  # shown as "1.2K": the preview rounds, the record says so
    assert first.author == "Olga" and not first.edited
    assert first.outlinks == ("https://example.org/report",)
    assert '<br>See <a href="https://example.org/report"' in first.text_html

    photo_post = by_id[photo]
    assert photo_post.views == 436_600
    assert photo_post.media == (
        TelegramMedia(
            "photo", telegram.photo_url("news", photo), link=f"{telegram.base_url}/news/{photo}"
        ),
    )
    image, _, image_type = fetch(photo_post.media[0].url or "")
    assert image_type == "image/png" and image == telegram.photo_bytes("news", photo)
    assert image.startswith(b"\x89PNG\r\n\x1a\n")

    (movie,) = by_id[clip].media
    assert (movie.kind, movie.duration, by_id[clip].text) == ("video", "1:05", "")
    assert movie.url == telegram.video_url("news", clip)
    served, _, video_type = fetch(movie.url)
    assert video_type == "video/mp4" and served == video.read_bytes()
    assert movie.thumbnail_url is not None
    assert fetch(movie.thumbnail_url)[0].startswith(b"\x89PNG")

    forwarded = by_id[shared]
    assert forwarded.forwarded_from == "Other channel"
    assert forwarded.forwarded_from_url == "https://t.me/other/77"
    assert forwarded.link_preview is not None
    assert forwarded.link_preview.url == "https://example.net/story"
    assert forwarded.link_preview.title == "A story"
    assert forwarded.outlinks == ("https://example.net/story",)


def test_pages_go_back_twenty_posts_at_a_time(telegram: TelegramImitation) -> None:
    telegram.add_channel("archive", "Archive", posts=[f"post {n}" for n in range(1, 46)])

    seen: list[list[int]] = []
    url: str | None = telegram.channel_url("archive")
    while url is not None:
        body, final_url, _ = fetch(url)
        page = parse_preview_page(body, final_url)
        seen.append([post.message_id for post in page.posts])
        url = page.more_url

    assert seen == [list(range(26, 46)), list(range(6, 26)), list(range(1, 6))]
    # The middle page also links newer posts (data-after); only data-before leads back.
    assert telegram.requests == ["/s/archive", "/s/archive?before=26", "/s/archive?before=6"]
    assert telegram.hits("/s/archive") == 1


def test_second_fetch_shows_edits_deletions_and_new_views(telegram: TelegramImitation) -> None:
    telegram.add_channel("live", "Live", posts=["first", "second", "third"])
    url = telegram.channel_url("live")
    before = parse_preview_page(fetch(url)[0], url)

    telegram.edit_post("live", 2, "second, corrected")
    telegram.delete_post("live", 3)
    telegram.set_views("live", 1, 2_500_000)
    after = parse_preview_page(fetch(url)[0], url)

    assert [p.message_id for p in before.posts] == [1, 2, 3]
    assert [(p.message_id, p.text, p.edited) for p in after.posts] == [
        (1, "first", False),
        (2, "second, corrected", True),
    ]
    assert after.posts[0].views == 2_500_000
    assert telegram.hits("/s/live") == 2


def test_a_private_channel_redirects_to_its_landing_page(telegram: TelegramImitation) -> None:
    telegram.add_channel("closed", "Closed", posts=["secret"])
    telegram.make_private("closed")

    body, final_url, _ = fetch(telegram.channel_url("closed"))

    assert final_url == f"{telegram.base_url}/closed"
    with pytest.raises(NotAChannelPage, match="private") as raised:
        parse_preview_page(body, final_url)
    assert raised.value.reason == "private" and raised.value.url == final_url
    assert telegram.requests == ["/s/closed", "/closed"]


@pytest.mark.parametrize("redirect_unknown", [False, True])
def test_an_unknown_channel_is_not_found(redirect_unknown: bool) -> None:
    with TelegramImitation(redirect_unknown=redirect_unknown) as site:
        body, final_url, _ = fetch(site.channel_url("nobody_here"))
        with pytest.raises(NotAChannelPage, match="no public channel") as raised:
            parse_preview_page(body, final_url)
    assert raised.value.reason == "not_found"
    assert final_url.endswith("/s/nobody_here") != redirect_unknown


def test_a_channel_without_posts_is_an_empty_page(telegram: TelegramImitation) -> None:
    telegram.add_channel("quiet", "Quiet")
    url = telegram.channel_url("quiet")

    page = parse_preview_page(fetch(url)[0], url)

    assert (page.channel, page.title, page.posts, page.before, page.skipped) == (
        "quiet",
        "Quiet",
        (),
        None,
        (),
    )


def test_compact_counts_read_back_as_the_numbers_they_show() -> None:
    for value in (0, 999, 1000, 1234, 99_999, 436_600, 3_100_000, 2_000_000_000):
        shown = compact_count(value)
        parsed = parse_views(shown)
        assert parsed is not None and parsed <= value < parsed * 1.1 + 1, (value, shown)


# Hand-written markup: what t.me serves in corners the imitation does not produce.


def test_missing_date_and_views_become_problems_not_errors() -> None:
    post = only_post(page_with(message("news/7", text("No footer at all"))))

    assert post.text == "No footer at all"
    assert post.posted_at is None and post.views is None
    assert post.problems == ("no date", "no views")
    assert post.record()["posted_at"] is None


@pytest.mark.parametrize(
    ("views", "when", "problem"),
    [
        ("lots", "2024-05-01T10:00:00+00:00", "views not a number: 'lots'"),
        ("1.2K", "yesterday", "date not ISO 8601: 'yesterday'"),
        ("1.2K", "2024-05-01T10:00:00", "date without a time zone, read as UTC"),
    ],
)
def test_unreadable_views_and_dates_are_named(views: str, when: str, problem: str) -> None:
    post = only_post(page_with(message("news/8", text("x") + footer(views, when))))

    assert len(post.problems) == 1 and post.problems[0].startswith(problem)


def test_a_post_without_text_keeps_an_empty_text() -> None:
    photo = (
        '<a class="tgme_widget_message_photo_wrap blured js-message_photo" '
        "style=\"width:800px;background-image:url('https://cdn4.telesco.pe/file/abc.jpg')\" "
        'href="https://t.me/news/9"></a>'
    )
    post = only_post(page_with(message("news/9", photo + footer())))

    assert (post.text, post.text_html, post.problems) == ("", "", ())
    assert post.media == (
        TelegramMedia("photo", "https://cdn4.telesco.pe/file/abc.jpg", link="https://t.me/news/9"),
    )


def test_service_messages_are_kept_with_or_without_text() -> None:
    page = parse_preview_page(
        page_with(
            message("news/1", text("Channel created") + footer(views=None), "service_message"),
            message("news/2", footer(views=None), "service_message"),
        ),
        PAGE_URL,
    )

    assert [(p.message_id, p.service, p.text, p.problems) for p in page.posts] == [
        (1, True, "Channel created", ()),
        (2, True, "", ()),
    ]


def test_blocks_without_a_usable_data_post_are_skipped_and_reported() -> None:
    page = parse_preview_page(
        page_with(
            message(None, text("no id")),
            message("news", text("no number")),
            message("news/12abc", text("bad number")),
            message("news/5", text("kept") + footer()),
            message("news/5", text("again") + footer()),
        ),
        PAGE_URL,
    )

    assert [(p.message_id, p.text) for p in page.posts] == [(5, "kept")]
    assert page.skipped == (
        "message block 1: no data-post, not 'channel/number'",
        "message block 2: data-post 'news', not 'channel/number'",
        "message block 3: data-post 'news/12abc', not 'channel/number'",
        "message block 5: news/5 appears twice; kept the first",
    )


def test_entities_and_line_breaks_become_plain_text() -> None:
    html = (
        "Tom &amp; Jerry &lt;3 &#036;5<br/>second line<br><br>"
        '<b>bold</b> <i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/'
        "F09F918D.png')\"><b>👍</b></i>&nbsp;done"
    )
    post = only_post(page_with(message("news/10", text(html) + footer())))

    assert post.text == "Tom & Jerry <3 $5\nsecond line\n\nbold 👍\xa0done"
    assert "Tom &amp; Jerry &lt;3" in post.text_html and "<br>" in post.text_html


def test_links_in_text_and_the_link_preview_are_outlinks_in_order() -> None:
    html = (
        '<a href="https://example.org/a" target="_blank" rel="noopener">a</a> '
        '<a href="?q=%23protest">#protest</a> <a href="/news/3">earlier post</a> '
        '<a href="mailto:desk@example.org">mail</a> <a href="https://example.org/a">again</a> '
        '<a href="https://example.com/b">b</a>'
    )
    card = (
        '<a class="tgme_widget_message_link_preview" href="https://example.com/b">'
        '<i class="link_preview_right_image" style="background-image:url(\'https://cdn4.telesco'
        ".pe/file/card.jpg')\"></i>"
        '<div class="link_preview_site_name accent_color" dir="auto">Example</div>'
        '<div class="link_preview_title" dir="auto">Title &amp; <b>more</b></div>'
        '<div class="link_preview_description" dir="auto">Line one<br/>line two</div></a>'
    )
    post = only_post(page_with(message("news/11", text(html) + card + footer())))

    assert post.outlinks == (
        "https://example.org/a",
        "https://t.me/news/3",
        "https://example.com/b",
    )
    assert post.link_preview == LinkPreview(
        url="https://example.com/b",
        site_name="Example",
        title="Title & more",
        description="Line one\nline two",
        image_url="https://cdn4.telesco.pe/file/card.jpg",
    )


def test_an_album_keeps_each_item_its_link_and_a_caption_once() -> None:
    album = (
        '<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap">'
        '<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" '
        "style=\"left:0px;background-image:url('https://cdn1.telesco.pe/file/p1.jpg')\" "
        'href="https://t.me/news/20?single"></a>'
        '<a class="tgme_widget_message_video_player grouped_media_wrap blured '
        'js-message_video_player" href="https://t.me/news/21?single">'
        '<i class="tgme_widget_message_video_thumb" style="background-image:url(\'https://cdn1'
        ".telesco.pe/file/t21.jpg')\"></i>"
        '<div class="tgme_widget_message_video_wrap grouped_media js-message_video_wrap">'
        '<video src="https://cdn1.telesco.pe/file/v21.mp4?token=a&amp;b=1" '
        'class="tgme_widget_message_video js-message_video"></video></div>'
        '<time class="message_video_duration js-message_video_duration">0:27</time>'
        '<div class="message_media_not_supported_label">This media is not supported in your '
        "browser</div></a>"
        '<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" '
        "style=\"background-image:url('https://cdn1.telesco.pe/file/p3.jpg')\" "
        'href="https://t.me/news/22?single"></a></div>'
    )
    # t.me nests an album's caption in a second text block inside the first.
    caption = text(text("Three items"))
    post = only_post(page_with(message("news/20", album + caption + footer())))

    assert post.text == "Three items"
    assert [(m.kind, m.url, m.link) for m in post.media] == [
        ("photo", "https://cdn1.telesco.pe/file/p1.jpg", "https://t.me/news/20?single"),
        (
            "video",
            "https://cdn1.telesco.pe/file/v21.mp4?token=a&b=1",
            "https://t.me/news/21?single",
        ),
        ("photo", "https://cdn1.telesco.pe/file/p3.jpg", "https://t.me/news/22?single"),
    ]
    assert post.media[1].thumbnail_url == "https://cdn1.telesco.pe/file/t21.jpg"
    assert (post.media[1].duration, post.media[1].note) == ("0:27", None)


def test_a_video_too_big_for_the_preview_has_no_file_but_says_why() -> None:
    player = (
        '<a class="tgme_widget_message_video_player not_supported js-message_video_player" '
        'href="https://t.me/news/30">'
        '<i class="tgme_widget_message_video_thumb" style="background-image:url(\'//cdn4.telesco'
        ".pe/file/t30.jpg')\"></i>"
        '<time class="message_video_duration js-message_video_duration">1:02:05</time>'
        '<div class="message_media_not_supported_label">Media is too big</div></a>'
    )
    post = only_post(page_with(message("news/30", player + footer())))

    assert post.media == (
        TelegramMedia(
            "video",
            None,
            thumbnail_url="https://cdn4.telesco.pe/file/t30.jpg",
            duration="1:02:05",
            link="https://t.me/news/30",
            note="Media is too big",
        ),
    )


def test_voice_notes_and_files_are_media_too() -> None:
    voice = (
        '<div class="tgme_widget_message_voice_player">'
        '<audio class="tgme_widget_message_voice js-message_voice" '
        'src="https://cdn5.telesco.pe/file/voice.ogg"></audio>'
        '<time class="tgme_widget_message_voice_duration js-message_voice_duration">0:45</time>'
        "</div>"
    )
    document = (
        '<a class="tgme_widget_message_document_wrap" href="https://t.me/news/41">'
        '<div class="tgme_widget_message_document_icon accent_bg"></div>'
        '<div class="tgme_widget_message_document">'
        '<div class="tgme_widget_message_document_title accent_color">report.pdf</div>'
        '<div class="tgme_widget_message_document_extra">2.3 MB</div></div></a>'
    )
    page = parse_preview_page(
        page_with(message("news/40", voice + footer()), message("news/41", document + footer())),
        PAGE_URL,
    )

    assert page.posts[0].media == (
        TelegramMedia("audio", "https://cdn5.telesco.pe/file/voice.ogg", duration="0:45"),
    )
    assert page.posts[1].media == (
        TelegramMedia(
            "document", None, link="https://t.me/news/41", title="report.pdf", note="2.3 MB"
        ),
    )


def test_a_forward_and_a_reply_are_told_apart_from_the_post() -> None:
    inner = (
        '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
        '<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/origin/77">'
        '<span dir="auto">Origin &amp; Co</span></a></div>'
        '<a class="tgme_widget_message_reply" href="https://t.me/news/49">'
        '<div class="tgme_widget_message_author">News</div>'
        # A link in the quote is not valid HTML (<a> in <a>): the parser closes the reply
        # there, so only the quote's own class tells it apart.
        '<div class="tgme_widget_message_text js-message_reply_text">quoted <a '
        'href="https://quoted.example/">words</a></div></a>' + text("my own words") + footer()
    )
    post = only_post(page_with(message("news/50", inner)))

    assert (post.forwarded_from, post.forwarded_from_url) == (
        "Origin & Co",
        "https://t.me/origin/77",
    )
    assert post.text == "my own words"
    assert post.outlinks == ()


def test_edited_and_the_signature_are_read_from_the_meta() -> None:
    signed = '<span class="tgme_widget_message_from_author" dir="auto">Ivan</span>,&nbsp;'
    named_edited = '<span class="tgme_widget_message_from_author" dir="auto">edited</span>,&nbsp;'
    page = parse_preview_page(
        page_with(
            message("news/60", text("a") + footer(meta=signed + "edited &nbsp;")),
            message("news/61", text("b") + footer(meta=named_edited)),
        ),
        PAGE_URL,
    )

    assert [(p.author, p.edited) for p in page.posts] == [("Ivan", True), ("edited", False)]


def test_the_more_link_gives_the_older_page() -> None:
    older = (
        '<div class="tgme_widget_message_centered js-messages_more_wrap">'
        '<a href="/s/news?before=70" class="tme_messages_more js-messages_more" '
        'data-before="70"></a></div>'
    )
    newer = '<a href="/s/news?after=72" class="tme_messages_more js-messages_more" data-after="72">'
    posts = [message(f"news/{n}", text(str(n)) + footer()) for n in (72, 70, 71)]

    with_more = parse_preview_page(page_with(*posts, more=older), PAGE_URL + "?before=73")
    newer_only = parse_preview_page(page_with(*posts, more=newer + "</a>"), PAGE_URL)

    assert [p.message_id for p in with_more.posts] == [70, 71, 72]
    assert (with_more.before, with_more.more_url) == (70, "https://t.me/s/news?before=70")
    assert (newer_only.before, newer_only.more_url) == (None, None)


@pytest.mark.parametrize(
    ("html", "url", "reason"),
    [
        (
            '<html><head><title>Telegram: Contact @news</title></head><body><div class="'
            'tgme_page_wrap"><div class="tgme_page"><div class="tgme_page_description">If you '
            "have Telegram, you can contact @news right away.</div></div></div></body></html>",
            PAGE_URL,
            "not_found",
        ),
        (
            '<html><head><title>Telegram: View @news</title></head><body><div class="tgme_page">'
            '<div class="tgme_page_title"><span dir="auto">News</span></div>'
            '<div class="tgme_page_extra">12 345 subscribers</div></div></body></html>',
            "https://t.me/news",
            "private",
        ),
        (
            '<html><head><title>Telegram: View @chat</title></head><body><div class="tgme_page">'
            '<div class="tgme_page_extra">98 700 members, 1 200 online</div></div></body></html>',
            "https://t.me/s/chat",
            "not_found",
        ),
        ("<html><body><h1>Login</h1></body></html>", PAGE_URL, "not_telegram"),
        (b"", PAGE_URL, "not_telegram"),
        (b"\xff\xfe\x00garbage<<<", "https://t.me/news", "not_telegram"),
        (page_with(message("news/1", text("x"))), "https://t.me/news/1?embed=1", "private"),
    ],
)
def test_pages_that_are_not_a_public_channel_say_why(
    html: str | bytes, url: str, reason: str
) -> None:
    with pytest.raises(NotAChannelPage) as raised:
        parse_preview_page(html, url)

    assert raised.value.reason == reason
    assert url in str(raised.value)


def test_hostile_markup_yields_problems_never_exceptions() -> None:
    broken_links = (
        '<a href="http://[oops/a">bad host</a> <a href="tg://resolve?domain=x">app</a> '
        '<a href="https://ok.example/">ok</a>\ud800'
    )
    card = '<a class="tgme_widget_message_link_preview" href="https://[::1/card"></a>'
    photo = (
        '<a class="tgme_widget_message_photo_wrap" style="background-image:url()" '
        'href="http://[bad"></a>'
    )
    html = page_with(
        message("news/90", text(broken_links) + card + photo + footer(views="9" * 40 + "K")),
        message("news/91", footer(when="0001-01-01T00:00:00+01:00")),
        more='<a class="tme_messages_more" data-before="0"></a>',
    )

    page = parse_preview_page(html, PAGE_URL)

    first, second = page.posts
    assert first.outlinks == ("https://ok.example/",)
    assert first.media == (TelegramMedia("photo", None),)
    assert first.views is None
    assert first.problems == (
        f"views not a number: '{'9' * 40}K'",
        "link preview without a usable link: 'https://[::1/card'",
        "photo 1 has no image URL",
    )
    assert second.posted_at is None and "date out of range" in second.problems[0]
    assert page.before is None  # "before=0" would lead back to the newest page, forever


def test_a_malformed_page_url_is_not_a_channel_page() -> None:
    with pytest.raises(NotAChannelPage) as raised:
        parse_preview_page(page_with(message("news/1", text("x"))), "https://[t.me/s/news")
    assert raised.value.reason == "not_telegram"


def test_the_record_is_json_ready_and_in_utc() -> None:
    post = only_post(
        page_with(message("news/80", text("x") + footer(when="2024-05-01T12:00:00+03:00")))
    )

    record = post.record()

    assert record["posted_at"] == "2024-05-01T09:00:00+00:00"
    assert json.loads(json.dumps(record)) == record
    assert record["permalink"] == "https://t.me/news/80" and record["views"] == 1200


@pytest.mark.parametrize(
    ("shown", "number"),
    [
        ("987", 987),
        ("1.2K", 1200),
        ("436.6K", 436_600),
        ("3M", 3_000_000),
        ("3.1M", 3_100_000),
        ("1,2K", 1200),
        ("12 345", 12_345),
        ("1B", 1_000_000_000),
        ("", None),
        ("K", None),
        ("1.2.3K", None),
        ("-5", None),
    ],
)
def test_view_counters(shown: str, number: int | None) -> None:
    assert parse_views(shown) == number


@pytest.mark.parametrize(
    ("channel_url", "before", "expected"),
    [
        ("https://t.me/s/news", None, "https://t.me/s/news"),
        ("https://t.me/s/news?before=90", 40, "https://t.me/s/news?before=40"),
        ("https://t.me/news", 7, "https://t.me/s/news?before=7"),
        ("https://t.me/s/news/123", None, "https://t.me/s/news"),
        ("http://127.0.0.1:8080/s/news", 3, "http://127.0.0.1:8080/s/news?before=3"),
    ],
)
def test_preview_urls(channel_url: str, before: int | None, expected: str) -> None:
    assert preview_url(channel_url, before) == expected


@pytest.mark.parametrize("bad", ["https://t.me/", "https://t.me/s/", "ftp://t.me/s/news", "news"])
def test_preview_url_refuses_an_address_without_a_channel(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Telegram channel"):
        preview_url(bad)
