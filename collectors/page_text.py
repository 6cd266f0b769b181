"""Turn a stored HTML response into what the index needs: title, main text, links.

The stored body stays exactly as sent; this works on a decoded copy. Decompression is capped
(a gzip bomb yields a clear problem, not an exhausted machine) and undecodable bytes are
replaced, with the charset used recorded.
"""

from __future__ import annotations

import codecs
import re
import zlib
from dataclasses import dataclass, field
from typing import IO
from urllib.parse import urldefrag, urljoin, urlsplit

import trafilatura
from selectolax.lexbor import LexborHTMLParser as HTMLParser

HTML_TYPES = ("text/html", "application/xhtml+xml")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


class TextExtractionError(Exception):
    """The body cannot be turned into text (bad compression, over the size cap)."""


@dataclass(frozen=True)
class PageText:
    title: str
    text: str
    charset: str
    links: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)  # HTML5 <video>/<audio> sources


def is_html(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() in HTML_TYPES


def decoded_body(body: IO[bytes], content_encoding: str | None, max_bytes: int) -> bytes:
    """The body with content coding undone, refusing to inflate past ``max_bytes``."""
    body.seek(0)
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return body.read(max_bytes)
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise TextExtractionError(f"unsupported Content-Encoding {coding!r}")
    # wbits 32+15 auto-detects gzip/zlib; raw deflate is retried below.
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS if coding != "deflate" else zlib.MAX_WBITS)
    out = bytearray()
    try:
        while chunk := body.read(65536):
            out += inflater.decompress(chunk, max_bytes + 1 - len(out))
            if len(out) > max_bytes or inflater.unconsumed_tail:
                raise TextExtractionError(
                    f"decompressed body exceeds {max_bytes} bytes (possible compression bomb)"
                )
    except zlib.error as err:
        if coding == "deflate":
            body.seek(0)
            return _raw_deflate(body, max_bytes)
        raise TextExtractionError(f"corrupt {coding} body: {err}") from err
    return bytes(out)


def _raw_deflate(body: IO[bytes], max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body.read(), max_bytes + 1)
    except zlib.error as err:
        raise TextExtractionError(f"corrupt deflate body: {err}") from err
    if len(out) > max_bytes:
        raise TextExtractionError(f"decompressed body exceeds {max_bytes} bytes")
    return out


def pick_charset(raw: bytes, content_type: str | None) -> str:
    """Charset from the header, then the markup, then UTF-8 if it decodes, else cp1251.

    cp1251 is the common legacy encoding of Belarusian and Russian sites.
    """
    candidates = []
    if content_type and "charset=" in content_type.lower():
        candidates.append(content_type.lower().split("charset=")[-1].split(";")[0].strip(" \"'"))
    match = _META_CHARSET.search(raw[:4096])
    if match:
        candidates.append(match.group(1).decode("ascii", "ignore").lower())
    for name in candidates:
        try:
            codec = codecs.lookup(name)
        except LookupError:
            continue
        # Only real text encodings: a page may declare "base64" or "rot13", which are codecs too.
        if getattr(codec, "_is_text_encoding", True):
            return codec.name
    try:
        raw.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"


def _base_url(tree: HTMLParser, base_url: str) -> str:
    base_tag = tree.css_first("base[href]")
    if base_tag is not None:
        return urljoin(base_url, base_tag.attributes.get("href") or "")
    return base_url


def _absolute_urls(tree: HTMLParser, base_url: str, selector: str, attribute: str) -> list[str]:
    """Absolute http(s) URLs of ``attribute`` on ``selector``, without fragments, in document
    order, deduplicated."""
    base = _base_url(tree, base_url)
    found: dict[str, None] = {}
    for node in tree.css(selector):
        value = (node.attributes.get(attribute) or "").strip()
        if not value or value.startswith(("#", "javascript:", "mailto:", "tel:", "data:", "blob:")):
            continue
        url = urldefrag(urljoin(base, value))[0]
        if urlsplit(url).scheme in ("http", "https"):
            found[url] = None
    return list(found)


def extract_links(tree: HTMLParser, base_url: str) -> list[str]:
    """Absolute http(s) links without fragments, in document order, deduplicated."""
    return _absolute_urls(tree, base_url, "a[href], area[href]", "href")


def extract_media_urls(tree: HTMLParser, base_url: str) -> list[str]:
    """The files of HTML5 ``<video>`` and ``<audio>`` elements (``src`` or ``<source>``)."""
    selector = "video[src], audio[src], video source[src], audio source[src]"
    return _absolute_urls(tree, base_url, selector, "src")


def extract_page_text(raw_html: bytes, content_type: str | None, url: str) -> PageText:
    """Title, main text (trafilatura) and links of an HTML document."""
    charset = pick_charset(raw_html, content_type)
    html = raw_html.decode(charset, errors="replace")
    tree = HTMLParser(html)
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node is not None else ""
    text = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=True, favor_recall=True
    )
    if not text and tree.body is not None:
        text = tree.body.text(separator="\n", strip=True)
    return PageText(
        title=title,
        text=text or "",
        charset=charset,
        links=extract_links(tree, url),
        media=extract_media_urls(tree, url),
    )


def extractor_version() -> str:
    return f"trafilatura {trafilatura.__version__}"
