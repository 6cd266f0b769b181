"""One spelling per page: what a crawl queues once and an on-demand capture recognises again.

Kept apart from the collectors so that the command line can use it without loading them.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def normalise_url(url: str) -> str:
    """Drop the fragment and lowercase scheme and host, so one page is queued once."""
    parts = urlsplit(url)
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
