"""robots.txt is read as RFC 9309 says: longest match wins, wildcards, crawl delay."""

from __future__ import annotations

from collectors.robots import parse_robots

RULES = b"""User-agent: *
Allow: /
Disallow: /private/
Allow: /private/press/
Disallow: /*.pdf$
Crawl-delay: 2.5
"""


def test_longest_match_wins_over_order() -> None:
    rules = parse_robots(RULES, 200)
    assert not rules.allows("https://example.org/private/report.html")
    assert rules.allows("https://example.org/private/press/statement.html")
    assert rules.allows("https://example.org/news/")


def test_wildcards_and_end_anchor() -> None:
    rules = parse_robots(RULES, 200)
    assert not rules.allows("https://example.org/files/verdict.pdf")
    assert rules.allows("https://example.org/files/verdict.pdf?download=1")


def test_crawl_delay_is_read() -> None:
    assert parse_robots(RULES, 200).crawl_delay == 2.5
    assert parse_robots(b"User-agent: *\nDisallow:\n", 200).crawl_delay is None


def test_unavailable_and_missing_robots() -> None:
    assert not parse_robots(b"", 503).allows("https://example.org/")
    assert parse_robots(b"", 404).allows("https://example.org/anything")
