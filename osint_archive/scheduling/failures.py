"""Failures a scheduler can act on: try again later, or stop and tell someone."""

from __future__ import annotations


class TransientFailure(Exception):
    """May pass by itself (network, HTTP 429/5xx, storage hiccup, a busy source): retry."""


class PermanentFailure(Exception):
    """Will not pass by retrying (invalid configuration, blocked target, robots.txt, HTTP 4xx,
    a media file that no longer matches its hash): fail now and alert."""
