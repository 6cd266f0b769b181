"""Turning archived text into safe HTML: everything is escaped except the search index's
``<mark>`` highlights, whatever the index returned."""

from __future__ import annotations

import html
import re

from markupsafe import Markup

from index.backend import MARK_CLOSE, MARK_OPEN

_MARKS = re.compile(f"({re.escape(MARK_OPEN)}|{re.escape(MARK_CLOSE)})")


def safe_snippet(snippet: str) -> Markup:
    """A snippet as HTML: each piece between the marks is unescaped once and escaped again,
    so text the index failed to escape is escaped here, and only balanced marks remain."""
    out: list[str] = []
    open_mark = False
    for piece in _MARKS.split(snippet):
        if piece == MARK_OPEN and not open_mark:
            out.append(MARK_OPEN)
            open_mark = True
        elif piece == MARK_CLOSE and open_mark:
            out.append(MARK_CLOSE)
            open_mark = False
        elif piece not in (MARK_OPEN, MARK_CLOSE):
            out.append(html.escape(html.unescape(piece), quote=True))
    if open_mark:
        out.append(MARK_CLOSE)
    return Markup("".join(out))  # noqa: S704 - every piece is escaped above


def seconds_label(seconds: float) -> str:
    """``m:ss.s`` (``h:mm:ss.s`` past an hour) for a moment in a recording."""
    whole = int(seconds)
    tenths = round((seconds - whole) * 10)
    if tenths == 10:
        whole, tenths = whole + 1, 0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}.{tenths}"
    return f"{minutes}:{secs:02d}.{tenths}"
