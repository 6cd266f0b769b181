"""Reading a list of URLs to preserve: plain text (one URL a line) or CSV (a ``url`` column,
an optional ``note`` column).

Blank lines and ``#`` comments are skipped, a byte-order mark is ignored, a URL listed twice
is captured once (the repeat names the line it repeats), and a bad line is reported with its
number and reason while the others are captured.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from collectors.urls import normalise_url
from osint_archive.adhoc.records import CaptureRequest
from osint_archive.sources import check_http_url

MAX_LIST_BYTES = 64 * 1024 * 1024
MAX_URL_CHARS = 8192


class UrlListError(Exception):
    """The list cannot be read at all (missing, not UTF-8, too large, no URL column)."""


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str


@dataclass
class UrlList:
    """The requests of a list in order, its bad lines, and repeats (line -> first line)."""

    sha256: str
    requests: list[CaptureRequest] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    repeats: dict[int, int] = field(default_factory=dict)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be captured as given, or None."""
    if len(url) > MAX_URL_CHARS:
        return f"URL longer than {MAX_URL_CHARS} characters"
    try:
        check_http_url(url)
    except ValueError as err:
        return str(err)
    return None


def _rows(text: str, is_csv: bool) -> list[tuple[int, str, str]]:
    """(line, url, note) of every non-blank, non-comment row."""
    if not is_csv:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                rows.append((number, stripped, ""))
        return rows
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if "url" not in header:
        raise UrlListError(f"the CSV header has no 'url' column (it has: {', '.join(header)})")
    url_at, note_at = header.index("url"), header.index("note") if "note" in header else None
    rows = []
    for cells in reader:
        number = reader.line_num
        url = cells[url_at].strip() if len(cells) > url_at else ""
        if not url or url.startswith("#"):
            continue
        note = cells[note_at].strip() if note_at is not None and len(cells) > note_at else ""
        rows.append((number, url, note))
    return rows


def parse_url_list(data: bytes, is_csv: bool) -> UrlList:
    """The requests in ``data``; CSV when ``is_csv`` (a ``.csv`` file or a ``url,`` header)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UrlListError(f"the list is not UTF-8 text (byte {err.start})") from None
    url_list = UrlList(hashlib.sha256(data).hexdigest())
    first_line: dict[str, int] = {}
    for number, url, note in _rows(text, is_csv or text.lower().startswith("url,")):
        problem = url_problem(url)
        if problem is not None:
            url_list.bad_lines.append(BadLine(number, url, problem))
            continue
        key = normalise_url(url)
        if key in first_line:
            url_list.repeats[number] = first_line[key]
            continue
        first_line[key] = number
        url_list.requests.append(CaptureRequest(url, note, number))
    return url_list


def read_url_list(path: Path) -> UrlList:
    """Read a list file; ``UrlListError`` when it cannot be used at all."""
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise UrlListError(f"{path}: {size} bytes, more than {MAX_LIST_BYTES} a list may have")
        data = path.read_bytes()
    except OSError as err:
        raise UrlListError(f"{path}: {err.strerror or err}") from None
    try:
        return parse_url_list(data, path.suffix.lower() == ".csv")
    except UrlListError as err:
        raise UrlListError(f"{path}: {err}") from None
