"""Archived HTML made safe to show: scripts, event handlers, ``javascript:`` URLs, frames,
plug-ins and meta refreshes removed, every resource pointed back into the replay path and
every link to another page pointed at the signed-in route that opens that page's own
capture, so neither the page nor a click on it reaches the live web."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from urllib.parse import urldefrag

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
# Attributes that load or announce URLs and that lxml does not rewrite: dropped, so nothing
# points at the live web even where the replay policy would block it.
_DROPPED_ATTRIBUTES = (
    "srcset",
    "imagesrcset",
    "ping",
    "integrity",
    "nonce",
    "poster",
    "manifest",
    "attributionsrc",
)
_NAVIGATING_TAGS = ("a", "area")  # an SVG link too is an <a>, with xlink:href
_NAVIGATING_ATTRIBUTES = ("href", "xlink:href")


def _point_navigations(
    document: lxml.html.HtmlElement, page_url: str, navigate_to: Callable[[str], str]
) -> set[str]:
    """Links a click follows (``<a>``, ``<area>``) mapped by ``navigate_to`` and opened in
    the top window (the app's own page must open them, not the frame); a link to a place in
    this page stays a fragment. Returns the new values, which later rewriting keeps."""
    kept: set[str] = set()
    for element in document.iter(*_NAVIGATING_TAGS):
        for attribute in _NAVIGATING_ATTRIBUTES:
            url = (element.get(attribute) or "").strip()
            if not url.startswith(("http://", "https://")):
                continue
            target, fragment = urldefrag(url)
            if fragment and target == urldefrag(page_url).url:
                pointed = "#" + fragment
            else:
                pointed = navigate_to(url)
                element.set("target", "_top")
            element.set(attribute, pointed)
            kept.add(pointed)
    return kept


def rewrite_archived_html(
    body: bytes,
    page_url: str,
    link_to: Callable[[str], str],
    encoding: str | None = None,
    navigate_to: Callable[[str], str] | None = None,
) -> bytes:
    """The archived document cleaned, with links resolved against ``page_url``: resources
    (and, without ``navigate_to``, every link) mapped by ``link_to``, links a click follows
    by ``navigate_to``; absolute http(s) URLs only, any other link is removed. UTF-8 out."""
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
    kept = _point_navigations(document, page_url, navigate_to) if navigate_to else set()
    document.rewrite_links(
        lambda url: (
            url
            if url in kept
            else link_to(url)
            if url.startswith(("http://", "https://"))
            else None
        )
    )
    html: bytes = lxml.html.tostring(document, encoding="utf-8", doctype="<!DOCTYPE html>")
    return html


def charset_of(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None
