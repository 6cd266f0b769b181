"""robots.txt policy: ``obey`` (default) or ``ignore``, recorded in every manifest."""

from __future__ import annotations

from urllib.robotparser import RobotFileParser

ROBOTS_AGENT = "osint-archive"


def parse_robots(body: bytes, status: int) -> RobotFileParser:
    """Rules from a robots.txt response, read as crawlers conventionally do.

    4xx means no rules (allow all); 5xx or no answer means the site is unavailable, so
    disallow all for this run, as Google and RFC 9309 advise.
    """
    parser = RobotFileParser()
    if status >= 500:
        parser.disallow_all = True
    elif status >= 400:
        parser.allow_all = True
    else:
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
    return parser


def robots_allows(parser: RobotFileParser | None, url: str) -> bool:
    return parser is None or parser.can_fetch(ROBOTS_AGENT, url)
