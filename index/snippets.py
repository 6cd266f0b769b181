"""Highlighted snippets as safe HTML: the text is escaped, only the marks are markup."""

from __future__ import annotations

import html

from index.backend import MARK_CLOSE, MARK_OPEN

# Private-use characters stand for the marks while the backend cuts the snippet; they are
# removed from indexed text, so a document cannot forge a mark.
OPEN_SENTINEL = "\ue000"
CLOSE_SENTINEL = "\ue001"
_SENTINELS = str.maketrans({OPEN_SENTINEL: None, CLOSE_SENTINEL: None})


def without_sentinels(text: str) -> str:
    return text.translate(_SENTINELS)


def sentinel_snippet_to_html(snippet: str) -> str:
    """Escape a snippet whose highlights are sentinel characters and turn those into marks;
    line breaks and runs of spaces become single spaces."""
    return (
        html.escape(" ".join(snippet.split()), quote=True)
        .replace(OPEN_SENTINEL, MARK_OPEN)
        .replace(CLOSE_SENTINEL, MARK_CLOSE)
    )


def snippet_to_text(snippet: str, open_mark: str = "[", close_mark: str = "]") -> str:
    """A snippet for a terminal: marks shown as brackets, entities decoded."""
    return html.unescape(snippet.replace(MARK_OPEN, open_mark).replace(MARK_CLOSE, close_mark))
