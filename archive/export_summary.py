"""The human-readable summary of an export: one HTML page listing every item with its hashes.

Everything shown comes from captured pages or operators (titles, URLs, source ids) and is
HTML-escaped; URLs are shown as text, never as links, so nothing in the summary runs or
fetches anything when opened (a Content-Security-Policy says so to the browser as well).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import escape

from archive.custody import ChainCheck


@dataclass(frozen=True)
class SummaryItem:
    """One selected capture as the summary lists it."""

    capture_id: str
    source_id: str
    url: str
    requested_url: str
    captured_at: str
    status: int
    title: str
    record_type: str
    payload_sha256: str
    warc_path: str
    warc_sha256: str
    manifest_path: str
    manifest_sha256: str
    custody: str
    text_sha256: str | None = None
    original_warc_path: str | None = None


@dataclass(frozen=True)
class SummaryWarc:
    """One WARC file in the package, and why it is there."""

    path: str
    sha256: str
    size: int
    archive_key: str
    reason: str


@dataclass(frozen=True)
class SummaryHeader:
    title: str
    description: str
    created: str
    software: str
    actor: str


STYLE = (
    "body{font-family:sans-serif;margin:2em;color:#111}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "th,td{border:1px solid #999;padding:.3em .5em;text-align:left;vertical-align:top}"
    "code{font-family:monospace;word-break:break-all}.bad{color:#a00;font-weight:bold}"
)
DIGEST_NOTE = (
    "Every file in this package except datapackage.json and datapackage-digest.json is listed "
    "in datapackage.json with its SHA-256 and size; datapackage-digest.json holds the SHA-256 "
    "of datapackage.json. Verify with <code>wacz validate --file PACKAGE.wacz</code>, or unzip "
    "and compare <code>sha256sum</code> of each file. The WARC files are the archive's "
    "original objects, byte for byte: the SHA-256 of each is also its key in the archive "
    "(<code>objects/sha256/…</code>). The SHA-256 of the .wacz file itself cannot be written "
    "inside it; the archive records it in an <code>exported</code> custody event of each "
    "source chain listed below."
)


def _cell(value: object) -> str:
    return f"<td>{escape(str(value))}</td>"


def _code(value: object) -> str:
    return f"<td><code>{escape(str(value))}</code></td>"


def _item_row(number: int, item: SummaryItem) -> str:
    url = escape(item.url)
    if item.requested_url != item.url:
        url += f"<br>requested: {escape(item.requested_url)}"
    url += f"<br>source: {escape(item.source_id)}"
    warc = f"<code>{escape(item.warc_sha256)}</code><br>{escape(item.warc_path)}"
    if item.original_warc_path:
        warc += f"<br>original response in {escape(item.original_warc_path)}"
    cells = [
        _cell(number),
        f"<td>{escape(item.title)}<br>{url}</td>",
        _cell(item.captured_at),
        _cell(f"{item.status} ({item.record_type})"),
        _code(item.capture_id),
        _code(item.payload_sha256),
        f"<td>{warc}</td>",
        f"<td><code>{escape(item.manifest_sha256)}</code><br>{escape(item.manifest_path)}</td>",
        _code(item.text_sha256 or "—"),
        _cell(item.custody),
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _chain_row(check: ChainCheck) -> str:
    if check.intact:
        state = "intact"
    else:
        state = (
            f'<span class="bad">BROKEN at event {check.broken_at}</span>: {escape(check.reason)}'
        )
    return f"<tr>{_cell(check.chain)}{_cell(check.events)}<td>{state}</td></tr>"


def summary_chunks(
    header: SummaryHeader,
    items: Iterable[SummaryItem],
    count: int,
    warcs: Sequence[SummaryWarc],
    chains: Sequence[ChainCheck],
) -> Iterator[str]:
    """The summary page in pieces (a row at a time), for ``count`` items."""
    yield (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{escape(header.title)}</title><style>{STYLE}</style></head><body>\n"
        f"<h1>{escape(header.title)}</h1>\n"
    )
    if header.description:
        yield f"<p>{escape(header.description)}</p>\n"
    yield (
        f"<p>Created {escape(header.created)} by {escape(header.actor)} with "
        f"{escape(header.software)}; {count} capture(s), {len(warcs)} WARC file(s).</p>\n"
        f"<h2>Verifying this package</h2><p>{DIGEST_NOTE}</p>\n"
        "<h2>Captures</h2>\n<table>"
        "<tr><th>#</th><th>title and URL</th><th>captured (UTC)</th><th>status</th>"
        "<th>capture id</th><th>payload SHA-256</th><th>WARC object SHA-256</th>"
        "<th>manifest SHA-256</th><th>extracted text SHA-256</th><th>custody</th></tr>\n"
    )
    for number, item in enumerate(items, start=1):
        yield _item_row(number, item) + "\n"
    yield (
        "</table>\n<h2>WARC files</h2>\n"
        "<table><tr><th>path</th><th>SHA-256</th><th>bytes</th><th>archive key</th>"
        "<th>included because</th></tr>\n"
    )
    for w in warcs:
        yield (
            f"<tr>{_cell(w.path)}{_code(w.sha256)}{_cell(w.size)}{_code(w.archive_key)}"
            f"{_cell(w.reason)}</tr>\n"
        )
    yield (
        "</table>\n<h2>Custody chains</h2><p>Verified when the package was made; the events "
        "that mention these captures or WARC files are in <code>evidence/</code>.</p>\n"
        "<table><tr><th>chain</th><th>events</th><th>verification</th></tr>\n"
    )
    for check in chains:
        yield _chain_row(check) + "\n"
    yield "</table></body></html>\n"


def render_summary(
    header: SummaryHeader,
    items: Sequence[SummaryItem],
    warcs: Sequence[SummaryWarc],
    chains: Sequence[ChainCheck],
) -> bytes:
    """The whole summary page as UTF-8 bytes (for small packages and tests)."""
    return "".join(summary_chunks(header, items, len(items), warcs, chains)).encode("utf-8")
