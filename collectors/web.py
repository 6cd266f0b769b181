"""The HTTP web collector: crawl a source within its scope and hand each response to the archive.

Breadth-first from the source URL, same-host by default, up to ``max_depth`` links away and
``max_pages`` pages, obeying robots.txt unless the source says ``ignore``, with per-host
politeness. A URL that fails is recorded with its stage and reason; the crawl goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from urllib.parse import urlsplit

from archive.capture_extras import MediaDownload
from archive.capture_writer import CommitError, PageCapture
from collectors.base import CollectContext, CollectReport, polite_fetch
from collectors.browser import BrowserCaptureError
from collectors.http_fetch import FetchError, FetchResult
from collectors.media_download import MediaDownloadError, MediaHints, download_media
from collectors.netguard import BlockedTargetError
from collectors.page_text import (
    PageText,
    TextExtractionError,
    decoded_body,
    extract_page_text,
    is_html,
)
from collectors.politeness import HostGate
from collectors.rendered import DOM_CONTENT_TYPE, NoDocumentError, render_page, rendered_capture
from collectors.robots import RobotsRules, parse_robots, robots_allows
from collectors.urls import normalise_url

# A page listing hundreds of clips is a gallery to crawl as a video source, not a page.
MAX_MEDIA_PER_PAGE = 20


@dataclass(frozen=True)
class ExtractedPage:
    page_text: PageText | None
    problem: str | None


def extract_for_index(
    body: bytes, content_type: str | None, content_encoding: str | None, url: str, max_bytes: int
) -> ExtractedPage:
    """Decode and extract one HTML body; picklable so it can run in a worker process."""
    import io

    try:
        raw = decoded_body(io.BytesIO(body), content_encoding, max_bytes)
        return ExtractedPage(extract_page_text(raw, content_type, url), None)
    except TextExtractionError as err:
        return ExtractedPage(None, str(err))
    except Exception as err:
        return ExtractedPage(None, f"text extraction failed: {type(err).__name__}: {err}")


class WebCrawler:
    """Crawls one web source into a sink that archives each ``PageCapture``."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.fetcher = ctx.fetcher
        self.sink = ctx.sink
        self.gates = ctx.gates
        self.report = CollectReport()
        self.on_progress = ctx.on_progress
        self.extract_executor = ctx.extract_executor
        # URLs captured earlier in this same run (a resumed run): skipped, links re-queued.
        self.already_captured = ctx.already_captured
        self._robots: dict[str, asyncio.Task[RobotsRules]] = {}
        self._media_seen: set[str] = set()  # media URLs already fetched in this run
        self._seen: set[str] = set()
        self._started = 0

    async def collect(self) -> CollectReport:
        """Run the crawl to completion, the page cap or the run-time cap.

        The crawl goes level by level: every page at depth d is done before depth d + 1
        starts, so with many requests in flight a page still gets its shortest depth, and
        ``max_depth`` cuts the site where an analyst expects.
        """
        seed = normalise_url(self.source.url)
        # A resumed run: pages it holds are done; their links seed the levels below them.
        self._seen.update(self.already_captured)
        self._started = len(self.already_captured)
        self.report.seed_captured = seed in self.already_captured
        levels: dict[int, list[str]] = {0: [seed]}
        for depth, links in self.already_captured.values():
            levels.setdefault(depth + 1, []).extend(links)
        try:
            async with asyncio.timeout(self.source.max_run_seconds):
                depth = 0
                while depth <= self.source.max_depth and depth in levels:
                    found = await self._crawl_level(self._unseen(levels.pop(depth)), depth)
                    levels.setdefault(depth + 1, []).extend(found)
                    depth += 1
        except TimeoutError:
            self.report.stopped_by_time = True
        return self.report

    def _unseen(self, urls: Iterable[str]) -> list[str]:
        fresh = []
        for url in map(normalise_url, urls):
            if url not in self._seen and self.source.in_scope(url):
                self._seen.add(url)
                fresh.append(url)
        return fresh

    async def _crawl_level(self, urls: list[str], depth: int) -> list[str]:
        """Capture one level with ``concurrency`` workers; returns the links found."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls:
            queue.put_nowait(url)
        found: list[str] = []

        async def worker() -> None:
            while not queue.empty():
                url = queue.get_nowait()
                if self._started >= self.source.max_pages:
                    return
                try:
                    found.extend(await self._visit(url, depth))
                except CommitError:
                    raise  # the archive could not store a segment: stop, resume next pass
                except Exception as err:
                    self._fail(url, "archive", f"{type(err).__name__}: {err}")

        workers = [asyncio.create_task(worker()) for _ in range(self.source.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        return found

    def _fail(self, url: str, stage: str, reason: str) -> None:
        self.report.fail(url, stage, reason)

    async def _visit(self, url: str, depth: int) -> Sequence[str]:
        """Capture one URL; returns its in-scope links."""
        self._started += 1
        if not await self._allowed_by_robots(url):
            self._started -= 1
            self.report.skipped_by_robots += 1
            return ()
        if self.ctx.browser is not None:
            rendered = await self._render(url, depth)
            if rendered is None:
                return ()
            return self._captured(url, rendered)
        result = await polite_fetch(self.ctx, self.report, url)
        if result is None:
            return ()
        try:
            page = await self._page(result, depth)
        except Exception as err:
            page = PageCapture(
                result=result, depth=depth, text_problem=f"text extraction failed: {err!r}"
            )
        return self._captured(url, page)

    def _captured(self, url: str, page: PageCapture) -> Sequence[str]:
        """Hand a page to the archive; its links."""
        status = page.result.final.status
        self.sink(page)
        self.report.pages += 1
        if url == normalise_url(self.source.url):
            self.report.seed_captured = True
            self.report.seed_status = status
        if self.on_progress:
            self.on_progress(self.report.pages)
        return page.outlinks

    async def _render(self, url: str, depth: int) -> PageCapture | None:
        """Render one page in the source's browser context (politeness held for the page)."""
        assert self.ctx.browser is not None
        host = urlsplit(url).hostname or ""
        try:
            async with self._gate(host).slot():
                rendered, document = await render_page(self.ctx.browser, self.fetcher, url)
        except (BrowserCaptureError, NoDocumentError) as err:
            self._fail(url, "browser", str(err))
            return None
        dom = rendered.dom_html.encode("utf-8")
        args = (dom, DOM_CONTENT_TYPE, None, rendered.final_url, len(dom) + 1)
        extracted = await self._extract(args)
        links: list[str] = []
        if extracted.page_text is not None:
            links = [normalise_url(link) for link in extracted.page_text.links]
            links = [link for link in dict.fromkeys(links) if self.source.in_scope(link)]
        return rendered_capture(
            rendered, document, depth, extracted.page_text, extracted.problem, links
        )

    async def _extract(self, args: tuple[bytes, str | None, str | None, str, int]) -> ExtractedPage:
        if self.extract_executor is not None:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self.extract_executor, extract_for_index, *args)
            except BrokenProcessPool:
                # A worker died, perhaps on this very page: the page is not retried in this
                # process (its capture notes the problem); later pages are extracted here.
                self.extract_executor = None
                raise
            except Exception:
                # No process could start (a daemonic Celery task, say): extract_for_index
                # reports its own errors, so this page and the rest are extracted here.
                self.extract_executor = None
        return extract_for_index(*args)

    def _gate(self, host: str) -> HostGate:
        return self.gates.for_host(host, self.source.concurrency, self.source.delay_seconds)

    async def _page(self, result: FetchResult, depth: int) -> PageCapture:
        final = result.final
        content_type = final.header("Content-Type")
        if not (is_html(content_type) and 200 <= final.status < 300):
            return PageCapture(result=result, depth=depth)
        final.body.seek(0)
        body = final.body.read()
        final.body.seek(0)
        args = (
            body,
            content_type,
            final.header("Content-Encoding"),
            final.url,
            self.source.max_bytes,
        )
        extracted = await self._extract(args)
        links: list[str] = []
        if extracted.page_text is not None:
            links = [normalise_url(link) for link in extracted.page_text.links]
            links = [link for link in links if self.source.in_scope(link)]
        return PageCapture(
            result=result,
            depth=depth,
            page_text=extracted.page_text,
            text_problem=extracted.problem,
            outlinks=list(dict.fromkeys(links)),
            media=await self._media(extracted.page_text, final.url),
        )

    async def _media(self, page_text: PageText | None, page_url: str) -> list[MediaDownload]:
        """The files of the page's HTML5 video and audio elements, kept as media objects
        (each once, however many pages show it); a bad file costs only itself."""
        fetcher = self.ctx.media_fetcher
        if page_text is None or not page_text.media or not self.source.media or fetcher is None:
            return []
        downloads = []
        for url in page_text.media[:MAX_MEDIA_PER_PAGE]:
            if url in self._media_seen:
                continue
            self._media_seen.add(url)
            hints = MediaHints(max_duration_seconds=self.source.max_media_seconds)
            try:
                downloads.append(await download_media(fetcher, self.ctx.store, url, None, hints))
            except MediaDownloadError as err:
                self._fail(err.url, err.stage, f"{page_url}: {err.reason}")
        self.report.count("media", len(downloads))
        return downloads

    async def _allowed_by_robots(self, url: str) -> bool:
        if self.source.robots == "ignore":
            return True
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._robots:
            # One load per origin; concurrent workers wait for the same answer.
            self._robots[origin] = asyncio.ensure_future(self._load_robots(origin))
        return robots_allows(await self._robots[origin], url)

    async def _load_robots(self, origin: str) -> RobotsRules:
        """Fetch and archive robots.txt; it is evidence of the policy in force that day."""
        robots_url = f"{origin}/robots.txt"
        try:
            async with self._gate(urlsplit(origin).hostname or "").slot():
                result = await self.fetcher.fetch(robots_url)
        except (FetchError, BlockedTargetError) as err:
            self._fail(robots_url, "robots", str(err))
            # RFC 9309: an unreachable robots.txt means complete disallow (``robots: ignore``
            # is the per-source override, recorded in every manifest).
            return parse_robots(b"", 503)
        final = result.final
        try:
            body = decoded_body(final.body, final.header("Content-Encoding"), 512 * 1024)
        except TextExtractionError as err:
            self._fail(robots_url, "robots", f"unreadable robots.txt: {err}")
            body, status = b"", 503  # unreadable: as unreachable (RFC 9309)
        else:
            status = final.status
        final.body.seek(0)
        self.sink(PageCapture(result=result, depth=0))
        rules = parse_robots(body, status)
        if rules.crawl_delay is not None:  # the site's own politeness request
            self._gate(urlsplit(origin).hostname or "").slow_down(min(rules.crawl_delay, 60.0))
        return rules
