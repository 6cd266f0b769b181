"""Archived HTML made safe to show: scripts, event handlers, ``javascript:`` URLs, frames,
plug-ins and meta refreshes removed, and every link pointed back into the replay path, so
neither the page nor a click on it reaches the live web."""

from __future__ import annotations

import codecs
from collections.abc import Callable

import lxml.html
from lxml import etree
from lxml_html_clean import Cleaner

_CLEANER = Cleaner(
    scripts=True,
    javascript=True,  # on* attributes, javascript: URLs, expressions in styles
    comments=True,
    style=False,
    inline_style=False,
    embedded=True,  # object, embed, applet
    frames=True,
    forms=False,
    meta=True,  # a meta refresh could navigate the frame to the live site
    page_structure=False,
    links=False,
    safe_attrs_only=False,
    remove_unknown_tags=False,
    annoying_tags=False,
    # SVG animation can rewrite a link's target after cleaning: the frame could then navigate
    # to the live web on a click.
    kill_tags={"set", "animate", "animateMotion", "animateTransform", "discard"},
)
_DROPPED_ATTRIBUTES = ("srcset", "imagesrcset", "ping", "integrity", "nonce")


def rewrite_archived_html(
    body: bytes, page_url: str, link_to: Callable[[str], str], encoding: str | None = None
) -> bytes:
    """The archived document cleaned, with links resolved against ``page_url`` and mapped by
    ``link_to`` (absolute http(s) URLs only; any other link is removed); UTF-8 out."""
    if not body.strip():
        return b""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            encoding = None  # an archived charset Python does not know: let the parser guess
    parser = lxml.html.HTMLParser(encoding=encoding) if encoding else None
    try:
        document = lxml.html.document_fromstring(body, parser=parser)
    except (etree.ParserError, ValueError):
        return b""
    document.make_links_absolute(page_url, resolve_base_href=True, handle_failures="discard")
    document = _CLEANER.clean_html(document)
    for element in document.iter():
        if isinstance(element.tag, str):
            for name in _DROPPED_ATTRIBUTES:
                element.attrib.pop(name, None)
    document.rewrite_links(
        lambda url: link_to(url) if url.startswith(("http://", "https://")) else None
    )
    html: bytes = lxml.html.tostring(document, encoding="utf-8", doctype="<!DOCTYPE html>")
    return html


def charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None
