"""What `capture` makes of what it is given: the kind chosen for a URL, and list files."""

from __future__ import annotations

import pytest

from osint_archive.adhoc.kinds import KindChoice, KindError, choose_kind, telegram_hosts
from osint_archive.adhoc.url_lists import UrlListError, parse_url_list

TELEGRAM = telegram_hosts({})


@pytest.mark.parametrize(
    ("url", "have_browser", "expected"),
    [
        ("https://t.me/belsat/12345", True, KindChoice("telegram")),
        ("https://t.me/s/belsat/12345", True, KindChoice("telegram")),
        ("https://telegram.me/belsat/7", False, KindChoice("telegram")),
        # A channel link is a page, not a post: rendered like any other page.
        ("https://t.me/belsat", True, KindChoice("web", browser=True)),
        ("https://example.org/belsat/12345", True, KindChoice("web", browser=True)),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", True, KindChoice("video")),
        ("https://vimeo.com/76979871", True, KindChoice("video")),
        ("https://cdn.example.org/clips/court.MP4", True, KindChoice("video")),
        ("https://example.org/audio/statement.mp3?sig=1", True, KindChoice("video")),
        ("https://example.org/news/1.html", True, KindChoice("web", browser=True)),
        (
            "https://example.org/news/1.html",
            False,
            KindChoice("web", note="plain HTTP capture: no browser is installed"),
        ),
    ],
)
def test_auto_picks_the_collector_from_the_url(
    url: str, have_browser: bool, expected: KindChoice
) -> None:
    assert choose_kind(url, "auto", TELEGRAM, have_browser) == expected


@pytest.mark.parametrize(
    ("url", "kind", "have_browser", "message"),
    [
        ("https://t.me/belsat", "telegram", True, "not a Telegram post link"),
        ("https://example.org/", "browser", False, "no browser installed"),
    ],
)
def test_a_kind_that_cannot_take_the_url_says_why(
    url: str, kind: str, have_browser: bool, message: str
) -> None:
    with pytest.raises(KindError, match=message):
        choose_kind(url, kind, TELEGRAM, have_browser)  # type: ignore[arg-type]


def test_telegram_hosts_are_configurable_with_ports() -> None:
    hosts = telegram_hosts({"OSINT_ARCHIVE_TELEGRAM_HOSTS": "127.0.0.1:8080, tg.mirror.example"})
    assert choose_kind("http://127.0.0.1:8080/news/3", "auto", hosts, False).kind == "telegram"
    assert choose_kind("http://127.0.0.1:9090/news/3", "auto", hosts, False).kind == "web"
    assert choose_kind("https://tg.mirror.example/news/3", "auto", hosts, False).kind == "telegram"


@pytest.mark.parametrize(
    ("data", "is_csv", "urls", "bad_lines", "repeats"),
    [
        (b"https://a.example/1\n\nhttps://a.example/2\n", False, ["1", "2"], [], {}),
        (b"\xef\xbb\xbfhttps://a.example/1\r\n", False, ["1"], [], {}),
        (b"# a comment\n  https://a.example/1  \n", False, ["1"], [], {}),
        (b"https://a.example/1\nhttps://A.EXAMPLE/1#x\n", False, ["1"], [], {2: 1}),
        (b"https://a.example/1\nnot a url\nftp://a.example/f\n", False, ["1"], [2, 3], {}),
        (b"url,note\nhttps://a.example/1,why\n,\n", True, ["1"], [], {}),
        (b"URL\nhttps://a.example/1\n", True, ["1"], [], {}),
        (b"url,note\nhttps://a.example/1,why\n", False, ["1"], [], {}),  # a CSV by its header
    ],
)
def test_list_files(
    data: bytes, is_csv: bool, urls: list[str], bad_lines: list[int], repeats: dict[int, int]
) -> None:
    parsed = parse_url_list(data, is_csv)
    assert [r.url.rsplit("/", 1)[1] for r in parsed.requests] == urls
    assert [b.line for b in parsed.bad_lines] == bad_lines
    assert parsed.repeats == repeats


def test_csv_notes_and_line_numbers() -> None:
    parsed = parse_url_list(b'url,note\n"https://a.example/1","line, with comma"\n', True)
    (request,) = parsed.requests
    assert request.note == "line, with comma" and request.line == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"\xff\xfe\x00h", "not UTF-8"), (b"link,note\nhttps://a.example/,x\n", "no 'url' column")],
)
def test_unusable_lists_are_refused_whole(data: bytes, message: str) -> None:
    with pytest.raises(UrlListError, match=message):
        parse_url_list(data, is_csv=data.startswith(b"link"))


def test_ten_thousand_lines_parse_quickly_into_distinct_requests() -> None:
    lines = "\n".join(f"https://host{n % 20}.example/page/{n % 1000}" for n in range(10_000))
    parsed = parse_url_list(lines.encode(), False)
    assert len(parsed.requests) == 1000 and len(parsed.repeats) == 9000
