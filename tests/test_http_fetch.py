"""The HTTP fetcher against a real local site: bad input gets a clear error and loses nothing.

Every fetch runs against ``tests/http_site.py`` on 127.0.0.1. The policy allows 127.0.0.1/32
only, so the site is reachable but nothing else private is; ``connection_log`` proves that a
refused target was refused before any connection was attempted (and refuses any non-loopback
connect outright, so a broken guard cannot send traffic anywhere).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import ssl
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from collectors.http_fetch import (
    ORIGINAL_TRANSFER_ENCODING,
    FetchError,
    FetchLimits,
    FetchResult,
    HttpFetcher,
    RedirectError,
    retry_after_seconds,
)
from collectors.netguard import BlockedTargetError, NetworkPolicy
from collectors.page_text import (
    TextExtractionError,
    decoded_body,
    extract_page_text,
)
from collectors.robots import parse_robots, robots_allows
from tests.http_fixtures import ConnectionLog
from tests.http_site import (
    BIG_BODY,
    CHUNKED_BODY,
    CP1251_TITLE,
    PAGE_HTML,
    LocalHttpSite,
    TlsMaterial,
)

LOOPBACK_ONLY = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
QUICK = FetchLimits(timeout_seconds=10, max_seconds=20, retries=3, backoff_seconds=0.05)
USER_AGENT = "osint-archive-tests/1"


def fetch(
    url: str,
    *,
    policy: NetworkPolicy = LOOPBACK_ONLY,
    limits: FetchLimits = QUICK,
    ssl_context: ssl.SSLContext | None = None,
    **request: Any,
) -> FetchResult:
    """One fetch through a fresh ``HttpFetcher`` in its own event loop."""

    async def run() -> FetchResult:
        fetcher = HttpFetcher(policy, limits, USER_AGENT, ssl_context=ssl_context)
        try:
            return await fetcher.fetch(url, **request)
        finally:
            await fetcher.close()

    return asyncio.run(run())


def body_of(result: FetchResult) -> bytes:
    result.final.body.seek(0)
    return result.final.body.read()


def only_the_site(site: LocalHttpSite) -> set[tuple[str, int]]:
    return {("127.0.0.1", site.port)}


# --- plain fetch ---


def test_a_browser_request_is_replayed_with_its_method_headers_and_body(
    http_site: LocalHttpSite,
) -> None:
    result = fetch(
        http_site.url("/echo"),
        method="post",
        headers={"X-Requested-With": "XMLHttpRequest", "Connection": "close", "Host": "evil"},
        data=b'{"q": 1}',
    )
    seen = json.loads(body_of(result))
    assert seen["method"] == "POST"
    assert seen["body"] == '{"q": 1}'
    assert seen["headers"]["x-requested-with"] == "XMLHttpRequest"
    # Hop-by-hop headers are the fetcher's own; the Host names the real target.
    assert seen["headers"]["host"] == f"127.0.0.1:{http_site.port}"
    assert seen["headers"]["accept-encoding"] == "gzip, deflate"
    # The request record must show what was sent: method, target and the body.
    assert result.final.request_head.protocol == "POST"
    assert result.final.request_head.statusline.startswith("/echo ")
    assert result.final.request_body == b'{"q": 1}'


def test_a_post_redirected_by_303_continues_as_a_get_without_body(
    http_site: LocalHttpSite,
) -> None:
    result = fetch(http_site.url("/see-other"), method="POST", data=b"x=1")
    assert [hop.status for hop in result.hops] == [303, 200]
    seen = json.loads(body_of(result))
    assert (seen["method"], seen["body"]) == ("GET", "")


def test_redirects_can_be_left_for_the_caller_to_follow(http_site: LocalHttpSite) -> None:
    result = fetch(http_site.url("/redirect/301"), follow_redirects=False)
    assert [hop.status for hop in result.hops] == [301]
    assert result.final.header("Location")


def test_a_failing_post_is_not_retried(http_site: LocalHttpSite) -> None:
    result = fetch(http_site.url("/retry/always-503"), method="POST", data=b"")
    # 503 answers a POST: kept as it is, never repeated (it may have had an effect).
    assert (result.final.status, result.attempts) == (503, 1)


def test_page_is_kept_with_digests_peer_and_request(
    http_site: LocalHttpSite, connection_log: ConnectionLog
) -> None:
    result = fetch(http_site.url("/page.html"))
    final = result.final
    assert (final.status, result.attempts, final.truncated) == (200, 1, None)
    assert body_of(result) == PAGE_HTML
    assert final.body_size == len(PAGE_HTML)
    assert final.payload_sha256 == hashlib.sha256(PAGE_HTML).hexdigest()
    block = final.response_head.to_bytes() + PAGE_HTML
    assert final.block_sha256 == hashlib.sha256(block).hexdigest()
    # A small response arrives whole with its head; its peer must still be recorded.
    assert final.ip_address == "127.0.0.1"
    assert final.tls is None
    assert final.request_head.get_header("User-Agent") == USER_AGENT
    assert set(connection_log.addresses) == only_the_site(http_site)


def test_empty_response_keeps_its_peer(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/status/204")).final
    assert (final.status, final.body_size, final.ip_address) == (204, 0, "127.0.0.1")


# --- the network guard, end to end ---


def test_name_resolving_to_loopback_is_refused_before_connecting(
    http_site: LocalHttpSite, connection_log: ConnectionLog
) -> None:
    url = f"http://localhost:{http_site.port}/page.html"
    with pytest.raises(BlockedTargetError, match=r"localhost resolves to .*not public"):
        fetch(url, policy=NetworkPolicy())
    assert connection_log.addresses == []
    assert http_site.hits("/page.html") == 0


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:{port}/page.html", "http://１２７.０.０.１:{port}/page.html"]
)
def test_literal_loopback_is_refused_before_connecting(
    http_site: LocalHttpSite, connection_log: ConnectionLog, url: str
) -> None:
    with pytest.raises(BlockedTargetError, match=r"127\.0\.0\.1 is not public"):
        fetch(url.format(port=http_site.port), policy=NetworkPolicy())
    assert connection_log.addresses == []
    assert http_site.hits("/page.html") == 0


# 127.0.0.2 rather than 2130706433 / 0x7f.1: those are 127.0.0.1, which this policy allows.
BLOCKED_REDIRECTS = [
    ("http://169.254.169.254/latest/meta-data/", r"169\.254\.169\.254"),
    ("http://[::1]:{port}/page.html", r"::1"),
    ("http://2130706434/", r"127\.0\.0\.2"),
    ("http://0x7f.2/", r"127\.0\.0\.2"),
    ("http://0177.0.0.2:{port}/", r"127\.0\.0\.2"),
    ("http://127.0.0.2:{port}/page.html", r"127\.0\.0\.2"),
    ("http://10.0.0.1/", r"10\.0\.0\.1"),
    ("http://[::ffff:169.254.169.254]/", r"169\.254\.169\.254"),
    ("http://[fe80::1]/", r"fe80::1"),
    ("http://100.64.0.1/", r"100\.64\.0\.1"),
    ("file:///etc/passwd", r"scheme 'file'"),
    ("gopher://127.0.0.1:{port}/", r"scheme 'gopher'"),
]


@pytest.mark.parametrize(("target", "named"), BLOCKED_REDIRECTS)
def test_redirect_to_a_blocked_target_is_refused_before_connecting(
    http_site: LocalHttpSite, connection_log: ConnectionLog, target: str, named: str
) -> None:
    target = target.replace("{port}", str(http_site.port))
    url = http_site.url("/redirect?" + "to=" + target)
    with pytest.raises(BlockedTargetError, match=named):
        fetch(url)
    assert set(connection_log.addresses) == only_the_site(http_site)
    assert http_site.hits("/redirect") == 1  # a policy refusal is not retried


def test_redirect_chain_is_recorded_hop_by_hop(
    http_site: LocalHttpSite, connection_log: ConnectionLog
) -> None:
    result = fetch(http_site.url("/redirect/301"))
    assert result.redirect_chain == [
        http_site.url("/redirect/301"),
        http_site.url("/redirect/302"),
        http_site.url("/page.html"),
    ]
    assert [hop.status for hop in result.hops] == [301, 302, 200]
    assert result.hops[0].header("Location") == "/redirect/302"
    assert [hop.ip_address for hop in result.hops] == ["127.0.0.1"] * 3
    assert body_of(result) == PAGE_HTML
    assert set(connection_log.addresses) == only_the_site(http_site)


def test_redirect_loop_is_a_redirect_error(http_site: LocalHttpSite) -> None:
    with pytest.raises(RedirectError, match="loop") as caught:
        fetch(http_site.url("/loop/a"))
    assert not caught.value.retryable
    assert (http_site.hits("/loop/a"), http_site.hits("/loop/b")) == (1, 1)


def test_too_many_redirects_is_a_redirect_error(http_site: LocalHttpSite) -> None:
    limits = FetchLimits(max_redirects=1, retries=0)
    with pytest.raises(RedirectError, match="more than 1 redirects"):
        fetch(http_site.url("/redirect/301"), limits=limits)


# --- caps: kept and marked, never dropped ---


def test_size_cap_keeps_the_first_bytes_marked_length(http_site: LocalHttpSite) -> None:
    cap = 100_000
    result = fetch(http_site.url("/big"), limits=FetchLimits(max_bytes=cap, retries=0))
    final = result.final
    assert (final.status, final.truncated, final.body_size) == (200, "length", cap)
    assert body_of(result) == BIG_BODY[:cap]
    assert final.payload_sha256 == hashlib.sha256(BIG_BODY[:cap]).hexdigest()
    assert final.header("Content-Length") == str(len(BIG_BODY))  # the head as sent


@pytest.mark.timeout(60)
def test_time_cap_keeps_what_arrived_marked_time(http_site: LocalHttpSite) -> None:
    limits = FetchLimits(max_seconds=1.5, timeout_seconds=10, retries=0)
    result = fetch(http_site.url("/drip"), limits=limits)
    final = result.final
    assert (final.status, final.truncated, result.attempts) == (200, "time", 1)
    kept = body_of(result)
    assert kept and set(kept) == {ord(".")}
    assert final.body_size == len(kept)
    assert final.payload_sha256 == hashlib.sha256(kept).hexdigest()
    # The fetcher hung up, so the server's endless handler notices and ends.
    assert http_site.drip_finished.wait(timeout=20)


# --- retries ---


def test_429_with_retry_after_is_retried_after_the_wait(http_site: LocalHttpSite) -> None:
    started = time.monotonic()
    result = fetch(http_site.url("/retry/429"))
    waited = time.monotonic() - started
    assert (result.final.status, result.attempts) == (200, 2)
    assert http_site.hits("/retry/429") == 2
    assert body_of(result) == PAGE_HTML
    assert waited >= 0.9  # Retry-After: 1 was honoured, not the 0.05 s backoff


def test_503_twice_then_200_takes_three_attempts(http_site: LocalHttpSite) -> None:
    result = fetch(http_site.url("/retry/503-twice"))
    assert (result.final.status, result.attempts) == (200, 3)
    assert http_site.hits("/retry/503-twice") == 3


def test_retries_exhausted_returns_the_last_response_as_evidence(
    http_site: LocalHttpSite,
) -> None:
    limits = FetchLimits(retries=2, backoff_seconds=0.05)
    result = fetch(http_site.url("/retry/always-503"), limits=limits)
    assert (result.final.status, result.attempts) == (503, 3)
    assert http_site.hits("/retry/always-503") == 3
    assert body_of(result) == b"still unavailable (3)\n"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30.0)
    assert retry_after_seconds(format_datetime(now, usegmt=True), now=now.timestamp() + 5) == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


# --- transfer coding ---


def test_chunked_body_is_dechunked_and_the_header_renamed(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/chunked")).final
    assert final.response_head.get_header("Transfer-Encoding") is None
    assert final.header(ORIGINAL_TRANSFER_ENCODING) == "chunked"
    final.body.seek(0)
    assert final.body.read() == CHUNKED_BODY
    assert final.body_size == len(CHUNKED_BODY)
    assert b"\r\ntransfer-encoding:" not in final.response_head.to_bytes().lower()


# --- TLS ---


def test_https_records_the_server_certificate(
    https_site: LocalHttpSite, tls_material: TlsMaterial
) -> None:
    result = fetch(https_site.url("/redirect/301"), ssl_context=tls_material.client_context())
    assert [hop.status for hop in result.hops] == [301, 302, 200]
    fingerprint = hashlib.sha256(tls_material.cert_der).hexdigest()
    for hop in result.hops:  # every hop, including the small redirects
        assert hop.tls is not None
        assert hop.tls.sha256_fingerprint == fingerprint
        assert tls_material.common_name in hop.tls.subject
        assert "osint-archive test CA" in hop.tls.issuer
        assert hop.tls.protocol.startswith("TLS")
        assert hop.ip_address == "127.0.0.1"
    assert body_of(result) == PAGE_HTML


def test_https_with_an_untrusted_certificate_is_a_clear_fetch_error(
    https_site: LocalHttpSite,
) -> None:
    with pytest.raises(FetchError, match="certificate") as caught:
        fetch(https_site.url("/page.html"), ssl_context=ssl.create_default_context())
    assert not caught.value.retryable  # the same certificate would come back
    assert https_site.hits("/page.html") == 0


# --- page_text on what the fetcher kept ---


def test_gzip_bomb_is_refused_at_the_cap_with_bounded_memory(http_site: LocalHttpSite) -> None:
    result = fetch(http_site.url("/gzip-bomb"))
    final = result.final
    assert final.header("Content-Encoding") == "gzip"
    assert final.truncated is None and final.body_size < 1_000_000  # stored as sent
    cap = 10_000_000
    tracemalloc.start()
    try:
        with pytest.raises(TextExtractionError, match=f"exceeds {cap} bytes"):
            decoded_body(final.body, final.header("Content-Encoding"), cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * cap  # nowhere near the 200 MB it inflates to


def test_corrupt_gzip_is_a_clear_extraction_error(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/corrupt-gzip")).final
    with pytest.raises(TextExtractionError, match="corrupt gzip body"):
        decoded_body(final.body, final.header("Content-Encoding"), 10_000_000)


def test_unsupported_content_encoding_is_a_clear_extraction_error(
    http_site: LocalHttpSite,
) -> None:
    final = fetch(http_site.url("/page.html")).final
    with pytest.raises(TextExtractionError, match="unsupported Content-Encoding 'br'"):
        decoded_body(final.body, "br", 10_000_000)


def test_invalid_utf8_is_decoded_with_replacement(http_site: LocalHttpSite) -> None:
    result = fetch(http_site.url("/bad-utf8"))
    final = result.final
    raw = decoded_body(final.body, final.header("Content-Encoding"), 10_000_000)
    page = extract_page_text(raw, final.header("Content-Type"), final.url)
    assert page.charset == "utf-8"
    assert page.title.startswith("Caf\ufffd") and page.title.endswith("report")
    assert "ordinary paragraph" in page.text


def test_undeclared_cp1251_page_is_decoded_as_cp1251(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/cp1251")).final
    assert final.header("Content-Type") == "text/html"
    raw = decoded_body(final.body, final.header("Content-Encoding"), 10_000_000)
    page = extract_page_text(raw, final.header("Content-Type"), final.url)
    assert page.charset == "cp1251"
    assert page.title == CP1251_TITLE
    assert "Задержания у центральной площади" in page.text


def test_links_are_absolute_deduplicated_and_without_fragments(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/page.html")).final
    raw = decoded_body(final.body, None, 10_000_000)
    page = extract_page_text(raw, final.header("Content-Type"), final.url)
    assert page.title == "Local test page"
    assert page.links == [
        http_site.url("/news/one.html"),
        http_site.url("/news/two.html"),
        "https://example.org/elsewhere",
    ]


def test_links_respect_base_href(http_site: LocalHttpSite) -> None:
    final = fetch(http_site.url("/base.html")).final
    raw = decoded_body(final.body, None, 10_000_000)
    page = extract_page_text(raw, final.header("Content-Type"), final.url)
    assert page.links == [
        "https://mirror.example.org/archive/item.html",
        "https://mirror.example.org/root.html",
    ]


# --- robots.txt ---


def robots_from(site: LocalHttpSite, path: str) -> tuple[int, bytes]:
    result = fetch(site.url(path), limits=FetchLimits(retries=0))
    return result.final.status, body_of(result)


def test_robots_rules_are_obeyed(http_site: LocalHttpSite) -> None:
    status, body = robots_from(http_site, "/robots.txt")
    parser = parse_robots(body, status)
    assert not robots_allows(parser, http_site.url("/no-archive/report.html"))
    assert robots_allows(parser, http_site.url("/page.html"))
    # Our own group applies, not the "*" group.
    assert robots_allows(parser, http_site.url("/private/x.html"))


def test_robots_with_a_byte_order_mark_keeps_its_first_group(http_site: LocalHttpSite) -> None:
    status, body = robots_from(http_site, "/robots-bom.txt")
    assert body.startswith(b"\xef\xbb\xbf")
    parser = parse_robots(body, status)
    assert not robots_allows(parser, http_site.url("/private/report.html"))
    assert robots_allows(parser, http_site.url("/page.html"))


def test_robots_404_allows_everything(http_site: LocalHttpSite) -> None:
    status, body = robots_from(http_site, "/status/404")
    assert status == 404
    assert robots_allows(parse_robots(body, status), http_site.url("/no-archive/x"))


def test_robots_503_disallows_everything(http_site: LocalHttpSite) -> None:
    status, body = robots_from(http_site, "/status/503")
    assert status == 503
    parser = parse_robots(body, status)
    assert not robots_allows(parser, http_site.url("/page.html"))
    assert not robots_allows(parser, http_site.url("/"))
