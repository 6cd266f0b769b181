"""The bundled demo site: content types, the live page's editions, 404s, path traversal, and
the video whose speech the demo transcribes."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from osint_archive.demo_site import DEFAULT_ROOT, DemoSite


@pytest.fixture
def site() -> Iterator[DemoSite]:
    with DemoSite() as running:
        yield running


def fetch(url: str) -> tuple[int, str, str]:
    """GET a URL; returns (status, content type, body text), also for error statuses."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = response.read().decode("utf-8")
            return response.status, response.headers["Content-Type"], body
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode("utf-8")


def raw_status(site: DemoSite, target: str) -> int:
    """Send a request target verbatim (urllib would normalise "..")."""
    parts = urlsplit(site.base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_front_page_and_articles_are_utf8_html(site: DemoSite) -> None:
    status, ctype, body = fetch(site.base_url)
    assert status == 200
    assert ctype == "text/html; charset=utf-8"
    assert "https://example.org/elsewhere" in body
    assert "/private/secret.html" in body

    _, _, russian = fetch(site.base_url + "news/ru-minsk-arrests.html")
    assert "задержали" in russian and "Минск" in russian
    _, _, belarusian = fetch(site.base_url + "news/be-minsk-detentions.html")
    assert "затрымалі" in belarusian and "Мінск" in belarusian and "ў" in belarusian


def test_every_article_is_linked_from_the_front_page(site: DemoSite) -> None:
    _, _, body = fetch(site.base_url)
    articles = sorted((DEFAULT_ROOT / "news").glob("*.html"))
    assert len(articles) >= 6
    for article in articles:
        assert f'href="/news/{article.name}"' in body


# Spoken in demo/site/media/court-hearing.mp4 (demo/make_video.sh) and written on no page, so a
# demo search for it can only be answered by the transcript.
SPOKEN_ONLY_WORD = "избили"


def test_demo_video_is_served_as_mp4(site: DemoSite) -> None:
    video = DEFAULT_ROOT / "media" / "court-hearing.mp4"
    with urllib.request.urlopen(site.base_url + "media/court-hearing.mp4", timeout=5) as response:
        body = response.read()
        assert response.status == 200
        assert response.headers["Content-Type"] == "video/mp4"
        assert response.headers["Content-Length"] == str(video.stat().st_size)
    assert body == video.read_bytes()
    assert body[4:8] == b"ftyp"
    assert len(body) < 250_000  # the demo stays small


def test_demo_video_page_embeds_the_video_and_not_its_words(site: DemoSite) -> None:
    _, _, page = fetch(site.base_url + "news/ru-video-hearing.html")
    assert '<video controls preload="metadata" width="480" src="/media/court-hearing.mp4">' in page
    script = (DEFAULT_ROOT.parent / "make_video.sh").read_text(encoding="utf-8")
    assert SPOKEN_ONLY_WORD in script
    for html in DEFAULT_ROOT.rglob("*.html"):
        assert SPOKEN_ONLY_WORD not in html.read_text(encoding="utf-8").lower(), html


def test_robots_txt_disallows_private_area(site: DemoSite) -> None:
    status, ctype, body = fetch(site.base_url + "robots.txt")
    assert status == 200
    assert ctype == "text/plain; charset=utf-8"
    assert "Disallow: /private/" in body


def test_live_page_changes_with_edition(site: DemoSite) -> None:
    _, _, first = fetch(site.base_url + "news/live.html")
    assert "Live updates, edition 1" in first
    assert "{edition}" not in first
    site.edition = 2
    _, _, second = fetch(site.base_url + "news/live.html")
    assert "Live updates, edition 2" in second
    assert first != second


def test_missing_file_and_directory_are_404(site: DemoSite) -> None:
    assert fetch(site.base_url + "news/no-such-page.html")[0] == 404
    # A directory without index.html is not listed.
    assert fetch(site.base_url + "news/")[0] == 404


@pytest.mark.parametrize(
    "target",
    [
        "/../pyproject.toml",
        "/%2e%2e/pyproject.toml",
        "/news/%2E%2E/%2e%2e/pyproject.toml",
        "/news/..%2f..%2fpyproject.toml",
        "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc/passwd",
    ],
)
def test_path_traversal_is_refused(site: DemoSite, target: str) -> None:
    assert raw_status(site, target) == 404


def test_stop_releases_the_server() -> None:
    demo = DemoSite().start()
    url = demo.base_url
    demo.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)
    with pytest.raises(RuntimeError):
        _ = demo.base_url
