"""One page of a ``browser: true`` web source, rendered in Chromium and handed to the archive.

The document's own fetch is the capture's response record (as for plain HTTP); everything else
the browser loaded follows it in the WARC with full request/response records, then the
screenshot and the rendered DOM as ``resource`` records. Text for the index and the links to
follow come from the rendered DOM, so text that only JavaScript writes is searchable.
"""

from __future__ import annotations

from datetime import UTC, datetime

from archive.capture_extras import RenderedExtras
from archive.capture_writer import PageCapture
from collectors.browser import RenderedPage, SourceContext
from collectors.browser_traffic import fetch_through
from collectors.http_fetch import FetchResult, HttpFetcher
from collectors.page_text import PageText

DOM_CONTENT_TYPE = "text/html; charset=utf-8"


class NoDocumentError(Exception):
    """The browser rendered something, but the document itself was never fetched."""


async def render_page(
    browser: SourceContext, fetcher: HttpFetcher, url: str
) -> tuple[RenderedPage, FetchResult]:
    """Render ``url``; the page and the fetch of its document (raises ``BrowserCaptureError``
    or ``NoDocumentError``)."""
    rendered = await browser.capture(url, fetch_through(fetcher))
    for request, result in rendered.exchanges:
        if request.is_navigation and request.resource_type == "document":
            return rendered, result
    rendered.close()
    raise NoDocumentError(f"{url}: the browser never fetched the document")


def rendered_capture(
    rendered: RenderedPage,
    document: FetchResult,
    depth: int,
    page_text: PageText | None,
    text_problem: str | None,
    outlinks: list[str],
) -> PageCapture:
    """The archive's view of a rendered page: the document's fetch, everything else the
    browser loaded, the screenshot and DOM; text and links come from the rendered DOM."""
    extras = RenderedExtras(
        browser=rendered.browser_version,
        title=rendered.title,
        final_url=rendered.final_url,
        screenshot_png=rendered.screenshot_png,
        dom_html=rendered.dom_html,
        captured_at=datetime.now(UTC),
        elapsed_seconds=rendered.elapsed_seconds,
        subresources=[result for _, result in rendered.exchanges if result is not document],
        failed=[(request.url, reason) for request, reason in rendered.failed],
        notes=list(rendered.notes),
    )
    return PageCapture(
        result=document,
        depth=depth,
        page_text=page_text,
        text_problem=text_problem,
        outlinks=outlinks,
        rendered=extras,
    )
