"""The collector extension point: what every source kind gets, and what it reports back.

One collector per kind (``web``, browser-rendered ``web``, ``telegram``, ``video``), each in its
own module. A collector fetches through the shared guarded ``HttpFetcher``, hands every capture
to the archive's sink, and reports failures with their stage and reason instead of raising:
one bad URL never stops a source, and one bad source never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from archive.capture_writer import PageCapture
from archive.store import ObjectStore
from collectors.http_fetch import FetchError, FetchResult, HttpFetcher
from collectors.netguard import BlockedTargetError
from collectors.politeness import HostGates
from osint_archive.sources import Source

if TYPE_CHECKING:
    from collectors.browser import SourceContext


@dataclass(frozen=True)
class CaptureFailure:
    """A URL that yielded nothing to keep: where it failed and why."""

    url: str
    stage: str
    reason: str
    retryable: bool = False  # trying again later may succeed (a network error, say)


@dataclass
class CollectReport:
    """What one collector run did; the pipeline turns it into the source's outcome."""

    pages: int = 0
    skipped_by_robots: int = 0
    failures: list[CaptureFailure] = field(default_factory=list)
    seed_captured: bool = False
    seed_status: int | None = None  # None on a resumed run that captured the seed earlier
    stopped_by_time: bool = False
    # Kind-specific counts for the summary, e.g. {"posts": 12, "media": 3}.
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Run by the pipeline once every capture is committed (cursors, custody events about them).
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def fail(self, url: str, stage: str, reason: str, retryable: bool = False) -> None:
        self.failures.append(CaptureFailure(url, stage, reason, retryable))

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


@dataclass
class CollectContext:
    """Everything a collector may use; built once per source run by the pipeline."""

    source: Source
    run_id: str
    fetcher: HttpFetcher
    sink: Callable[[PageCapture], None]
    store: ObjectStore  # for state cursors and media objects
    gates: HostGates
    # URLs captured earlier in this same run (a resumed run), with depth and links.
    already_captured: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    on_progress: Callable[[int], None] | None = None
    extract_executor: Executor | None = None
    browser: SourceContext | None = None  # browser: true: the source's own browser context
    # Media downloads: bodies on disk for ffprobe, the source's media size cap.
    media_fetcher: HttpFetcher | None = None
    # The custody chain's head when the run started: events a resumed run already logged
    # are found after it.
    custody_seq_at_start: int = 0


async def polite_fetch(ctx: CollectContext, report: CollectReport, url: str) -> FetchResult | None:
    """Fetch ``url`` within its host's politeness limits; a failure is reported (stage
    ``policy`` for a refused target, ``fetch`` otherwise) and gives None."""
    host = urlsplit(url).hostname or ""
    gate = ctx.gates.for_host(host, ctx.source.concurrency, ctx.source.delay_seconds)
    try:
        async with gate.slot():
            return await ctx.fetcher.fetch(url)
    except BlockedTargetError as err:
        report.fail(url, "policy", str(err))
    except FetchError as err:
        report.fail(url, "fetch", str(err), retryable=err.retryable)
    return None


class Collector(Protocol):
    """Collects one source once."""

    async def collect(self) -> CollectReport:
        """Capture what the source has now; never raises for a single URL's failure."""
        ...
