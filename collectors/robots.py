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
    # RobotFileParser's own switches; typeshed does not declare them.
    if status >= 500:
        parser.disallow_all = True  # type: ignore[attr-defined]
    elif status >= 400:
        parser.allow_all = True  # type: ignore[attr-defined]
    else:
        # utf-8-sig: a leading byte-order mark would otherwise hide the first "User-agent"
        # line, and with it the first group's rules.
        parser.parse(body.decode("utf-8-sig", errors="replace").splitlines())
    return parser


def robots_allows(parser: RobotFileParser | None, url: str) -> bool:
    return parser is None or parser.can_fetch(ROBOTS_AGENT, url)
