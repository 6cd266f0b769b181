"""One pass over the sources: collect → archive → index, the same for the CLI and Airflow.

Each source runs under a run id kept in ``state/runs/<source>.json`` until the run completes.
A run interrupted by a crash or ``kill -9`` is resumed by the next pass under the same id:
captures already committed keep their manifests (their deterministic ids are not captured
twice), missing custody events and index entries are restored, and the rest is fetched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from archive.anchors import AnchorResult, anchor_custody
from archive.capture_writer import (
    CaptureRun,
    CaptureWriter,
    CommitError,
    run_links_prefix,
    segment_events,
    url_state_after,
)
from archive.custody import CustodyEvent, CustodyLog
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectExistsError, ObjectNotFoundError, ObjectStore
from archive.timestamps import TimestampAuthority, TimestampError, stamp_record, token_keys_for
from archive.url_state import load_url_state, save_url_state
from collectors.base import CaptureFailure, CollectContext, CollectReport
from collectors.http_fetch import FetchLimits, HttpFetcher
from collectors.politeness import HostGates
from collectors.registry import COLLECTORS, collector_for
from index.backend import SearchBackend

if TYPE_CHECKING:
    from collectors.browser import BrowserSession
    from osint_archive.transcribe_stage import TranscribeProgress
from index.documents import capture_document
from index.rebuild import is_indexed
from osint_archive.settings import Settings
from osint_archive.source_lock import SourceBusyError, source_lock
from osint_archive.sources import Source, SourcesConfig


@dataclass
class SourceOutcome:
    """The summary line of one source in one pass."""

    source_id: str
    kind: str = ""
    run_id: str = ""
    ok: bool = False
    resumed: bool = False
    pages: int = 0
    new_bytes: int = 0
    revisits: int = 0
    changed: int = 0
    failures: list[CaptureFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # posts, media, transcripts
    error: str = ""
    # With an error: whether trying again later may succeed (network, 429/5xx, storage, a
    # busy source) or not (blocked target, robots.txt, 4xx, no collector).
    retryable: bool = False
    busy: bool = False  # another process holds the run's lock: nothing was done
    # Committed captures of this pass that hold media: the transcription stage's input.
    media_captures: list[CaptureManifest] = field(default_factory=list, repr=False)


@dataclass(frozen=True)
class RunJournal:
    run_id: str
    started_at: str
    status: str
    custody_seq_at_start: int

    @staticmethod
    def key(run_key: str) -> str:
        """Where the journal of ``run_key`` (a source id, or an ad-hoc lane) is kept."""
        return f"state/runs/{run_key}.json"


def new_run_id(now: datetime) -> str:
    """Sortable, unique run id whose first eight characters are the run's UTC day."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def load_journal(store: ObjectStore, run_key: str) -> RunJournal | None:
    try:
        return RunJournal(**json.loads(store.read_bytes(RunJournal.key(run_key))))
    except (ObjectNotFoundError, ValueError, TypeError):
        return None


def _save_journal(store: ObjectStore, run_key: str, journal: RunJournal) -> None:
    store.put_state(RunJournal.key(run_key), json.dumps(vars(journal)).encode())


def run_manifests(store: ObjectStore, source_id: str, run_id: str) -> list[CaptureManifest]:
    """The capture manifests one run of a source committed."""
    day = f"{run_id[0:4]}/{run_id[4:6]}/{run_id[6:8]}"
    keys = iter_manifest_keys(store, f"{source_id}/{day}")
    return [m for m in (read_manifest(store, key) for key in keys) if m.run_id == run_id]


def _run_links(store: ObjectStore, source_id: str, run_id: str) -> dict[str, list[str]]:
    """The links of every page a run committed, from its per-segment link state."""
    links: dict[str, list[str]] = {}
    for key in store.list_keys(run_links_prefix(source_id, run_id)):
        try:
            segment = json.loads(store.read_bytes(key))
        except (ObjectNotFoundError, ValueError):
            continue  # state is a cache: a lost entry means re-fetching, never wrong evidence
        links.update({url: list(entry[1]) for url, entry in segment.items()})
    return links


def _stamp(
    store: ObjectStore, key: str, tsas: Sequence[TimestampAuthority]
) -> tuple[list[str], str]:
    """Timestamp one stored record: the token keys stored, and why any TSA failed ("")."""
    try:
        return stamp_record(store, key, tsas), ""
    except TimestampError as err:
        return token_keys_for(store, key), str(err)
    except Exception as err:  # no TSA answer, however malformed, may cost the capture
        return token_keys_for(store, key), f"{type(err).__name__}: {err}"


def _read_text(store: ObjectStore, manifest: CaptureManifest) -> str:
    return store.read_bytes(manifest.text.key).decode("utf-8") if manifest.text else ""


def is_transient_status(status: int) -> bool:
    """HTTP answers worth asking again later: timeouts, rate limits and server errors."""
    return status in (408, 425, 429) or status >= 500


# A media file may take far longer than a page; the size cap still bounds it.
MEDIA_FETCH_SECONDS = 3600.0


class SourceRunner:
    """Runs one source: opens or resumes its run, crawls, commits, indexes."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        index: SearchBackend | None,
        operator: str,
        extract_executor: ProcessPoolExecutor | None = None,
        segment_pages: int = 100,
        gates: HostGates | None = None,
        browser: BrowserSession | None = None,
    ) -> None:
        self.browser = browser
        self.segment_pages = segment_pages
        self.gates = gates or HostGates()
        self.settings = settings
        self.store = store
        self.index = index
        self.operator = operator
        self.extract_executor = extract_executor

    def _after_commit(
        self,
        source: Source,
        manifests: list[CaptureManifest],
        texts: dict[str, str],
        outcome: SourceOutcome,
    ) -> None:
        """Index a committed segment and, when TSAs are configured, timestamp its manifests."""
        outcome.media_captures += [m for m in manifests if m.media]
        self._index_committed(source, manifests, texts)
        self._timestamp(source, manifests, outcome)

    def _timestamp(
        self, source: Source, manifests: list[CaptureManifest], outcome: SourceOutcome
    ) -> None:
        tsas = self.settings.timestamps.authorities
        if not tsas or not manifests:
            return
        # A TSA outage must not cost the capture: the manifest is stored either way and the
        # gap reported. The tokens obtained are listed in a custody event, so deleting one
        # later is found by `audit` like any other missing evidence.
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda m: _stamp(self.store, m.key, tsas), manifests))
        failed = [reason for _, reason in results if reason]
        tokens = sorted(key for keys, _ in results for key in keys)
        if tokens:
            CustodyLog(self.store, source.id).append(
                [
                    CustodyEvent(
                        f"timestamped:{manifests[0].warc.sha256}",
                        "timestamped",
                        manifests[0].warc.key,
                        {"tokens": tokens},
                    )
                ]
            )
        if failed:
            outcome.notes.append(f"{len(failed)} manifest(s) not timestamped: {failed[0]}")

    def _index_committed(
        self, source: Source, manifests: list[CaptureManifest], texts: dict[str, str]
    ) -> None:
        documents = [
            capture_document(m, texts[m.capture_id], tuple(source.tags))
            for m in manifests
            if m.capture_id in texts and is_indexed(m)
        ]
        if documents and self.index is not None:
            self.index.index_documents(documents)

    def _recover(
        self, source: Source, journal: RunJournal, custody: CustodyLog, outcome: SourceOutcome
    ) -> dict[str, tuple[int, list[str]]]:
        """Restore what a crash may have left undone for committed captures of this run.

        Returns the pages already captured, with their depth and links, for the crawler.
        """
        manifests = run_manifests(self.store, source.id, journal.run_id)
        outcome.media_captures += [m for m in manifests if m.media]
        logged = {e["event_id"] for e in custody.events(after_seq=journal.custody_seq_at_start)}
        by_segment: dict[str, list[CaptureManifest]] = {}
        for m in manifests:
            by_segment.setdefault(m.warc.sha256, []).append(m)
        missing: list[CustodyEvent] = []
        for warc_sha, segment in by_segment.items():
            if f"captured:{warc_sha}" in logged:
                continue
            captures = [
                [m.capture_id, hashlib.sha256(self.store.read_bytes(m.key)).hexdigest()]
                for m in segment
            ]
            first = segment[0].warc
            events = segment_events(first.key, warc_sha, first.filename, captures)
            missing += [e for e in events if e.event_id not in logged]
        custody.append(missing)
        self._index_committed(
            source, manifests, {m.capture_id: _read_text(self.store, m) for m in manifests}
        )
        for m in sorted(manifests, key=lambda m: m.captured_at):
            previous = load_url_state(self.store, source.id, m.final_url)
            if previous is None or previous.last_captured_at < m.captured_at:
                state = url_state_after(m, previous)
                if state is not None:
                    save_url_state(self.store, source.id, state)
        unstamped = [m for m in manifests if not token_keys_for(self.store, m.key)]
        self._timestamp(source, unstamped, outcome)
        links = _run_links(self.store, source.id, journal.run_id)
        # Shallowest first, in capture order, as the crawl found them.
        return {
            m.requested_url: (m.depth, links.get(m.requested_url, []))
            for m in sorted(manifests, key=lambda m: (m.depth, m.captured_at))
        }

    async def run(
        self,
        source: Source,
        on_progress: Callable[[int], None] | None = None,
        run_id: str | None = None,
        lane: str | None = None,
    ) -> SourceOutcome:
        """Run ``source`` once. With ``run_id`` (a scheduler's retry of one of its runs), that
        run is resumed or started under exactly that id, so a retry never opens another.

        ``lane`` lets one source hold several runs at once, each with its own lock and
        journal (``<source>.<lane>``): the ad-hoc source runs one lane per URL, so two
        links are captured side by side while two requests for one link wait in turn."""
        run_key = source.id if lane is None else f"{source.id}.{lane}"
        kind = "browser" if source.browser else source.kind
        outcome = SourceOutcome(source_id=source.id, kind=kind)
        if source.kind not in COLLECTORS or (source.browser and self.browser is None):
            what = "browser capture" if source.browser else f"kind {source.kind!r}"
            outcome.error = f"no collector for {what} in this version"
            return outcome
        try:
            with source_lock(self.settings.home, run_key):
                return await self._run_locked(source, outcome, on_progress, run_id, run_key)
        except SourceBusyError as err:
            outcome.error, outcome.retryable, outcome.busy = str(err), True, True
            return outcome

    def _open_run(
        self,
        source: Source,
        custody: CustodyLog,
        outcome: SourceOutcome,
        run_id: str | None,
        run_key: str,
    ) -> tuple[RunJournal, dict[str, tuple[int, list[str]]]]:
        """Resume an interrupted run that is still fresh; otherwise start a new one.

        A run older than ``max_run_seconds`` is not resumed, or the next scheduled pass would
        skip every page the old run held: its loose ends are tied up and it is closed as
        ``interrupted``. A requested ``run_id`` is resumed whatever its age, and any other
        open run is closed first.
        """
        now = datetime.now(UTC)
        journal = load_journal(self.store, run_key)
        if journal is not None and journal.status == "running":
            already = self._recover(source, journal, custody, outcome)
            age = (now - datetime.fromisoformat(journal.started_at)).total_seconds()
            fresh = age <= source.max_run_seconds if run_id is None else journal.run_id == run_id
            if fresh:
                outcome.resumed = True
                return journal, already
            _save_journal(self.store, run_key, replace(journal, status="interrupted"))
        journal = RunJournal(
            run_id or new_run_id(now), now.isoformat(), "running", custody.head()[0]
        )
        _save_journal(self.store, run_key, journal)
        return journal, {}

    async def _collect(self, ctx: CollectContext) -> CollectReport:
        """Run the source's collector; a browser source gets a fresh browser context."""
        source = ctx.source
        if not source.browser:
            return await collector_for(ctx).collect()
        assert self.browser is not None
        options = replace(
            self.browser.options,
            page_seconds=source.page_seconds,
            scroll_steps=source.scroll_steps,
            user_agent=source.user_agent,
        )
        async with self.browser.source_context(options) as browser_context:
            ctx.browser = browser_context
            return await collector_for(ctx).collect()

    def _fetchers(self, source: Source) -> tuple[HttpFetcher, HttpFetcher]:
        """The page fetcher, and the media fetcher (bodies on disk, the media size cap)."""
        user_agent = source.user_agent or self.settings.user_agent
        fetcher = HttpFetcher(
            self.settings.network,
            FetchLimits(
                max_bytes=source.max_bytes,
                max_seconds=source.max_seconds,
                timeout_seconds=source.timeout_seconds,
            ),
            user_agent=user_agent,
        )
        media_limits = FetchLimits(
            max_bytes=source.max_media_bytes,
            max_seconds=max(source.max_seconds, MEDIA_FETCH_SECONDS),
            timeout_seconds=source.timeout_seconds,
        )
        media_fetcher = HttpFetcher(
            self.settings.network, media_limits, user_agent=user_agent, bodies_on_disk=True
        )
        return fetcher, media_fetcher

    async def _run_locked(
        self,
        source: Source,
        outcome: SourceOutcome,
        on_progress: Callable[[int], None] | None,
        run_id: str | None,
        run_key: str,
    ) -> SourceOutcome:
        custody = CustodyLog(self.store, source.id)
        journal, already = self._open_run(source, custody, outcome, run_id, run_key)
        outcome.run_id = journal.run_id
        writer = CaptureWriter(
            self.store,
            CaptureRun(
                source.id,
                source.kind,
                journal.run_id,
                source.robots,
                self.operator,
                options=source.model_dump(mode="json", exclude={"description"}),
                browser=source.browser,
            ),
            custody,
            on_committed=lambda ms, texts: self._after_commit(source, ms, texts, outcome),
            segment_pages=self.segment_pages,
        )
        fetcher, media_fetcher = self._fetchers(source)
        try:
            ctx = CollectContext(
                source,
                journal.run_id,
                fetcher,
                writer.add,
                self.store,
                self.gates,
                already,
                on_progress,
                self.extract_executor,
                None,
                media_fetcher,
                journal.custody_seq_at_start,
            )
            report = await self._collect(ctx)
            writer.commit()
            for hook in report.after_commit:
                hook()
        except CommitError as err:
            writer.abort()
            outcome.error = f"{err}; the run stays open and the next pass resumes it"
            outcome.retryable = True
            return outcome
        except BaseException:
            writer.abort()
            raise
        finally:
            await fetcher.close()
            await media_fetcher.close()
        _save_journal(self.store, run_key, replace(journal, status="complete"))
        stats = writer.stats
        outcome.pages = writer.stats.pages + len(already)  # robots.txt included, like revisits
        outcome.new_bytes, outcome.revisits, outcome.changed = (
            stats.new_bytes,
            stats.revisits,
            stats.changed,
        )
        outcome.failures = report.failures
        outcome.counts = report.counts
        outcome.notes += crawl_notes(source, report) + report.notes
        outcome.ok = report.seed_captured and (report.seed_status or 200) < 400
        if not report.seed_captured:
            seed_failures = [f for f in report.failures if f.stage != "robots"]
            outcome.error = "the source URL was not captured" + (
                f": {seed_failures[0].reason}" if seed_failures else " (disallowed by robots.txt?)"
            )
            # An HTTP answer decides (429 and 5xx may pass, 404 will not); without one, the
            # failure does (a network error may pass; a refused target or robots.txt will not).
            if report.seed_status is not None:
                outcome.retryable = is_transient_status(report.seed_status)
            else:
                outcome.retryable = bool(seed_failures) and seed_failures[0].retryable
        elif not outcome.ok:
            # The answer is archived (it is evidence too), but the source is not working.
            outcome.error = f"the source URL answered HTTP {report.seed_status}"
            outcome.retryable = is_transient_status(report.seed_status or 0)
        return outcome


async def start_browser(
    sources: Sequence[Source], stack: contextlib.AsyncExitStack
) -> tuple[BrowserSession | None, str]:
    """One Chromium for the pass when a chosen source needs it; (None, why) if it cannot start."""
    if not any(s.browser for s in sources):
        return None, ""
    from collectors.browser import BrowserOptions, BrowserSession, BrowserUnavailable

    try:
        session = BrowserSession(BrowserOptions())  # path: OSINT_ARCHIVE_CHROMIUM or Debian's
        return await stack.enter_async_context(session), ""
    except BrowserUnavailable as err:
        return None, str(err)
    except Exception as err:
        return None, f"the browser did not start: {type(err).__name__}: {err}"


def crawl_notes(source: Source, report: CollectReport) -> list[str]:
    """What an admin should know although nothing failed outright."""
    notes = []
    if report.stopped_by_time:
        notes.append(f"stopped at max_run_seconds ({source.max_run_seconds:g} s) before the end")
    if report.skipped_by_robots:
        notes.append(f"{report.skipped_by_robots} URL(s) skipped: disallowed by robots.txt")
    return notes


async def run_sources(
    settings: Settings,
    config: SourcesConfig,
    sources: Sequence[Source],
    on_progress: Callable[[str, int], None] | None = None,
    on_done: Callable[[SourceOutcome], None] | None = None,
    parallel_sources: int = 4,
    run_ids: Mapping[str, str] | None = None,
    index_in_run: bool = True,
    extract_processes: int = 2,
    anchor_heads: bool = True,
) -> list[SourceOutcome]:
    """Run every chosen source once; a failing source is reported and never stops the others.

    ``run_ids`` fixes a source's run id (a scheduler's retry resumes its own run);
    ``index_in_run=False`` leaves indexing to a later stage (Airflow's ``index`` DAG);
    ``extract_processes=0`` extracts page text in this process (one source per Airflow task,
    in a Celery worker process that may not start processes of its own); ``anchor_heads``
    anchors the custody heads once every source is done (``anchor_custody_heads``)."""
    store = settings.open_store()
    index = settings.open_index() if index_in_run else None
    slots = asyncio.Semaphore(parallel_sources)
    # Sources on one host share its politeness limits (the strictest of theirs).
    gates = HostGates((s.host, s.concurrency, s.delay_seconds) for s in sources)
    async with contextlib.AsyncExitStack() as stack:
        extract_pool = None
        if extract_processes:
            # forkserver: forking this process while aiohttp's resolver threads run is unsafe.
            context = multiprocessing.get_context("forkserver")
            extract_pool = stack.enter_context(
                ProcessPoolExecutor(max_workers=extract_processes, mp_context=context)
            )
        browser, browser_error = await start_browser(sources, stack)
        runner = SourceRunner(
            settings, store, index, config.operator, extract_pool, gates=gates, browser=browser
        )

        async def one(source: Source) -> SourceOutcome:
            async with slots:

                def progress(pages: int) -> None:
                    if on_progress:
                        on_progress(source.id, pages)

                if source.browser and browser is None:
                    # A browser that would not start may start on the next try.
                    outcome = SourceOutcome(
                        source.id, "browser", error=browser_error, retryable=True
                    )
                    if on_done:
                        on_done(outcome)
                    return outcome
                try:
                    outcome = await runner.run(source, progress, (run_ids or {}).get(source.id))
                except Exception as err:
                    outcome = SourceOutcome(
                        source.id, source.kind, error=f"{type(err).__name__}: {err}", retryable=True
                    )
                if on_done:
                    on_done(outcome)
                return outcome

        outcomes = await asyncio.gather(*(one(source) for source in sources))
    if index is not None:
        index.close()
    if anchor_heads:
        anchor_custody_heads(settings, outcomes)
    return list(outcomes)


def anchor_custody_heads(
    settings: Settings, outcomes: Sequence[SourceOutcome]
) -> AnchorResult | None:
    """Anchor the head of every custody chain after a pass (``archive.anchors``), stamped by
    the configured TSAs, so that a later rewrite of a chain and its ``state/`` hint is found
    by the audit. A failure is a note on every outcome, never a failed run: the captures and
    their custody events are stored, and the next run or audit anchors them."""
    try:
        result = anchor_custody(settings.open_store(), settings.timestamps.authorities)
    except (OSError, ValueError, ObjectExistsError) as err:
        for outcome in outcomes:
            outcome.notes.append(f"custody heads not anchored: {err}")
        return None
    if result.stamp_error:
        for outcome in outcomes:
            outcome.notes.append(f"custody anchor not timestamped: {result.stamp_error}")
    return result


def transcribe_captured(
    settings: Settings,
    sources: Sequence[Source],
    outcomes: Sequence[SourceOutcome],
    progress: TranscribeProgress | None = None,
) -> None:
    """Transcribe the media a pass captured and index the transcripts; results go into each
    source's outcome. Runs after every source is collected, so a long recording never holds
    up a capture."""
    from osint_archive.transcribe_stage import recognition_options, transcribe_jobs
    from transcription.jobs import Transcriber, media_jobs
    from transcription.model_files import ModelError

    by_id = {s.id: s for s in sources}
    chosen = [o for o in outcomes if o.media_captures and by_id[o.source_id].transcribe]
    jobs = media_jobs(
        [m for o in chosen for m in o.media_captures], {s.id: s.language for s in sources}
    )
    if not jobs:
        return
    transcriber = Transcriber(settings.open_store(), recognition_options(settings))
    index = settings.open_index()
    try:
        results = transcribe_jobs(
            transcriber, jobs, index, lambda sid: tuple(by_id[sid].tags), progress
        )
    except ModelError as err:
        for o in chosen:
            o.ok, o.error = False, f"transcription: {err}"
        return
    finally:
        index.close()
    by_source = {o.source_id: o for o in outcomes}
    for result in results:
        outcome = by_source[result.job.source_id]
        if result.status == "transcribed":
            outcome.counts["transcripts"] = outcome.counts.get("transcripts", 0) + 1
        elif result.status == "failed":
            outcome.failures.append(
                CaptureFailure(result.job.media.url, "transcribe", result.reason)
            )
