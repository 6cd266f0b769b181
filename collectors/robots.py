"""robots.txt policy: ``obey`` (default) or ``ignore``, recorded in every manifest.

Rules are matched as RFC 9309 says (longest match wins, ``*`` and ``$`` wildcards) by
``protego``; the standard library's parser applies the first matching rule and knows no
wildcards, so it would let ``Allow: /`` override a later ``Disallow: /private/``.
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

ROBOTS_AGENT = "osint-archive"


@dataclass(frozen=True)
class RobotsRules:
    """What one origin's robots.txt allows, and the crawl delay it asks for."""

    parser: Protego | None
    allow_all: bool = False

    def allows(self, url: str) -> bool:
        if self.parser is None:
            return self.allow_all
        return bool(self.parser.can_fetch(url, ROBOTS_AGENT))

    @property
    def crawl_delay(self) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(ROBOTS_AGENT)
        return float(delay) if delay is not None else None


def parse_robots(body: bytes, status: int) -> RobotsRules:
    """Rules from a robots.txt response, read as RFC 9309 says.

    4xx means no rules (allow all); 5xx or no answer means the site is unavailable, so
    disallow all for this run.
    """
    if status >= 500:
        return RobotsRules(parser=None, allow_all=False)
    if status >= 400:
        return RobotsRules(parser=None, allow_all=True)
    # utf-8-sig: a leading byte-order mark would otherwise hide the first "User-agent" line.
    return RobotsRules(parser=Protego.parse(body.decode("utf-8-sig", errors="replace")))


def robots_allows(rules: RobotsRules | None, url: str) -> bool:
    return rules is None or rules.allows(url)
