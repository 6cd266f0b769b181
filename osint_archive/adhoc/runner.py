"""Capturing a batch of requested URLs now, as captures of the built-in ``adhoc`` source.

Each URL runs through ``SourceRunner`` like a one-page source (depth 0, one page), in a run
lane of its own: different URLs are captured side by side within each host's politeness
limits, while two requests for the same URL take turns, and a retry resumes its run instead
of fetching again. Once a capture is committed, a ``requested`` custody event names who asked,
through what, and why; media are then transcribed and the custody heads anchored, as after a
scheduled pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from archive.capture_writer import capture_id_for
from archive.custody import CustodyEvent, CustodyLog
from archive.keys import manifest_key
from archive.manifest import CaptureManifest, read_manifest
from archive.store import ObjectNotFoundError, ObjectStore
from collectors.politeness import HostGates
from collectors.telegram_post import post_link
from collectors.urls import normalise_url
from osint_archive.adhoc.kinds import (
    KindChoice,
    KindError,
    browser_available,
    choose_kind,
    telegram_hosts,
)
from osint_archive.adhoc.ledger import (
    AdhocCapture,
    ListJournal,
    close_list,
    lane_of,
    load_capture,
    open_list,
    save_capture,
)
from osint_archive.adhoc.records import (
    ADHOC_SOURCE_ID,
    CaptureOptions,
    CaptureRequest,
    CaptureResult,
)
from osint_archive.adhoc.url_lists import url_problem
from osint_archive.pipeline import (
    SourceOutcome,
    SourceRunner,
    anchor_custody_heads,
    load_journal,
    start_browser,
)
from osint_archive.settings import Settings, SettingsError
from osint_archive.sources import Source, SourcesConfigError, load_sources

if TYPE_CHECKING:
    from osint_archive.transcribe_stage import TranscribeProgress

REUSE_ENV = "OSINT_ARCHIVE_CAPTURE_REUSE_SECONDS"
ROBOTS_ENV = "OSINT_ARCHIVE_CAPTURE_ROBOTS"
DELAY_ENV = "OSINT_ARCHIVE_CAPTURE_DELAY_SECONDS"
TIMEOUT_ENV = "OSINT_ARCHIVE_CAPTURE_TIMEOUT_SECONDS"
PAGE_ENV = "OSINT_ARCHIVE_CAPTURE_PAGE_SECONDS"
# How long a request waits for another process capturing the same URL before giving up.
BUSY_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class AdhocSettings:
    """Operator settings of on-demand captures (environment variables)."""

    reuse_seconds: float = 900.0  # a URL captured this recently is returned as `existing`
    robots: Literal["obey", "ignore"] = "ignore"  # a person asked for this one page
    delay_seconds: float = 1.0  # politeness between requests to one host
    telegram: frozenset[str] = frozenset()
    timeout_seconds: float = 30.0  # no answer (connect, or a pause in a body) for this long
    page_seconds: float = 60.0  # a rendered page that never finishes loading is cut here

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> AdhocSettings:
        env = environ or {}
        robots = env.get(ROBOTS_ENV, "ignore").strip().lower()
        if robots not in ("obey", "ignore"):
            raise SettingsError(f"{ROBOTS_ENV} must be 'obey' or 'ignore', not {robots!r}")
        return cls(
            _seconds(env, REUSE_ENV, 900.0),
            "obey" if robots == "obey" else "ignore",
            _seconds(env, DELAY_ENV, 1.0),
            telegram_hosts(env),
            _seconds(env, TIMEOUT_ENV, 30.0, positive=True),
            _seconds(env, PAGE_ENV, 60.0, positive=True),
        )


def _seconds(env: dict[str, str], name: str, default: float, positive: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf") or (positive and value == 0):
        least = "more than 0" if positive else "0 or more"
        raise SettingsError(f"{name} must be a number of seconds, {least}, not {raw!r}")
    return value


def configured_operator(settings: Settings) -> str:
    """The operator the sources file names (recorded in every WARC and manifest), or ""."""
    try:
        if settings.config_path.exists():
            return load_sources(settings.config_path).operator
    except SourcesConfigError:
        pass  # `sources validate` reports the file; a capture now must not wait for it
    return ""


def adhoc_source(url: str, choice: KindChoice, adhoc: AdhocSettings) -> Source:
    """The one-page source a requested URL is captured as."""
    return Source.model_validate(
        {
            "id": ADHOC_SOURCE_ID,
            "kind": choice.kind,
            "url": url,
            "schedule": None,
            "browser": choice.browser,
            "max_depth": 0,
            "max_pages": 1,
            "robots": adhoc.robots,
            "delay_seconds": adhoc.delay_seconds,
            "timeout_seconds": adhoc.timeout_seconds,
            "page_seconds": adhoc.page_seconds,
            "description": "on-demand captures (osint-archive capture)",
        }
    )


def _age_seconds(capture: AdhocCapture) -> float:
    return (datetime.now(UTC) - capture.captured_at).total_seconds()


def _requested_event(
    manifest_key: str, capture_id: str, request: CaptureRequest, options: CaptureOptions
) -> CustodyEvent:
    """Who asked for the capture, through what, and why: evidence of the reason to preserve."""
    asked = f"{capture_id}\n{options.requested_by}\n{options.via}\n{request.note}"
    return CustodyEvent(
        event_id=f"requested:{hashlib.sha256(asked.encode('utf-8')).hexdigest()[:32]}",
        type="requested",
        subject=manifest_key,
        details={
            "capture_id": capture_id,
            "url": request.url,
            "requested_by": options.requested_by,
            "via": options.via,
            "note": request.note,
        },
    )


def _find_capture(
    store: ObjectStore, run_id: str, choice: KindChoice, url: str
) -> CaptureManifest | None:
    """The capture that answers the request in its run: the post, or the page at the URL.

    Capture ids are deterministic (source, run, URL), so the manifest is read by its key
    instead of listing the day's captures, which would cost a long list O(n²) reads."""
    candidates = [url, normalise_url(url)]
    if choice.kind == "telegram":
        link = post_link(url)
        parts = urlsplit(url)
        if link is not None:  # a post's capture is named by its permalink
            candidates = [urlunsplit((parts.scheme, parts.netloc, f"/{link[0]}/{link[1]}", "", ""))]
    day = datetime.strptime(run_id[:8], "%Y%m%d")
    for candidate in dict.fromkeys(candidates):
        key = manifest_key(ADHOC_SOURCE_ID, day, capture_id_for(ADHOC_SOURCE_ID, run_id, candidate))
        try:
            return read_manifest(store, key)
        except ObjectNotFoundError:
            continue
    return None


class Planned(NamedTuple):
    """A request that needs a fetch: its place in the batch, its collector and source."""

    position: int
    request: CaptureRequest
    choice: KindChoice
    source: Source


class BatchCapture:
    """One batch of requests: validated, reused or captured, then recorded."""

    def __init__(self, settings: Settings, options: CaptureOptions, operator: str) -> None:
        self.settings = settings
        self.options = options
        self.operator = operator
        self.adhoc = AdhocSettings.from_env(dict(settings.environ))
        self.store: ObjectStore = settings.open_store()
        self.custody = CustodyLog(self.store, ADHOC_SOURCE_ID)

    def early_result(
        self, request: CaptureRequest, journal: ListJournal | None, resuming: bool
    ) -> CaptureResult | None:
        """The result when no fetch is needed: a bad URL, or a capture to reuse."""
        problem = url_problem(request.url)
        if problem is not None:
            return CaptureResult(request.url, "failed", reason=problem, line=request.line)
        previous = load_capture(self.store, normalise_url(request.url))
        if previous is None or self.options.force:
            return None
        if resuming and journal is not None and previous.captured_at >= journal.started_at:
            # The first attempt of this list asked for it, and its request is logged.
            why = "captured earlier in this list (the list was resumed)"
        elif _age_seconds(previous) < self.adhoc.reuse_seconds:
            why = (
                f"captured {_age_seconds(previous):.0f} s ago, within the reuse window "
                f"({self.adhoc.reuse_seconds:g} s); --force captures it again"
            )
            # Asking again is an event of its own: another person, another reason, later.
            asked = _requested_event(
                previous.manifest_key, previous.capture_id, request, self.options
            )
            again = f"{asked.event_id}:{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
            self.custody.append([replace(asked, event_id=again)])
        else:
            return None
        return CaptureResult(
            request.url,
            "existing",
            previous.capture_id,
            previous.kind,
            why,
            previous.http_status,
            request.line,
            request.note,
        )

    def record(
        self,
        request: CaptureRequest,
        choice: KindChoice,
        outcome: SourceOutcome,
        run_key: str,
    ) -> CaptureResult:
        """The result of one URL's run; a capture gets its ledger entry and custody event."""
        result = CaptureResult(request.url, "failed", kind=choice.label, line=request.line)
        result.note = request.note
        result.notes += [choice.note] if choice.note else []
        result.notes += outcome.notes
        run_id = outcome.run_id
        capture = _find_capture(self.store, run_id, choice, request.url) if run_id else None
        if capture is None:
            failure = next(iter(outcome.failures), None)
            result.reason = outcome.error or (failure.reason if failure else "nothing captured")
            result.retryable = outcome.retryable
            return result
        result.status, result.capture_id = "captured", capture.capture_id
        result.http_status = capture.status
        if capture.status >= 400:
            result.reason = f"HTTP {capture.status}: the answer is kept as evidence"
        result.notes += capture.browser.notes if capture.browser is not None else []
        result.notes += [f"{f.stage} failed for {f.url}: {f.reason}" for f in outcome.failures]
        save_capture(
            self.store,
            AdhocCapture(
                url=normalise_url(request.url),
                capture_id=capture.capture_id,
                manifest_key=capture.key,
                kind=choice.label,
                captured_at=capture.captured_at,
                http_status=capture.status,
            ),
        )
        event = _requested_event(capture.key, capture.capture_id, request, self.options)
        journal = load_journal(self.store, run_key)
        since = journal.custody_seq_at_start if journal is not None else 0
        # A retried request resumes its run: the event it logged before is not logged twice.
        if not any(e["event_id"] == event.event_id for e in self.custody.events(since)):
            self.custody.append([event])
        return result


async def capture_urls(
    settings: Settings,
    requests: Sequence[CaptureRequest],
    options: CaptureOptions,
    operator: str = "",
    on_result: Callable[[CaptureResult], None] | None = None,
    transcribe_progress: TranscribeProgress | None = None,
) -> list[CaptureResult]:
    """Preserve every request now; one result per request, in order. A failing URL never
    stops the others. ``on_result`` is told each result as soon as it is known."""
    batch = BatchCapture(settings, options, operator)
    results: list[CaptureResult | None] = [None] * len(requests)

    def done(position: int, result: CaptureResult) -> None:
        results[position] = result
        if on_result is not None:
            on_result(result)

    journal, resuming = (None, False)
    if options.list_sha256:
        journal, resuming = open_list(batch.store, options.list_sha256)
    needs_browser = options.kind in ("auto", "browser")
    have_browser = needs_browser and browser_available()
    planned: list[Planned] = []
    for position, request in enumerate(requests):
        early = batch.early_result(request, journal, resuming)
        if early is not None:
            done(position, early)
            continue
        try:
            choice = choose_kind(request.url, options.kind, batch.adhoc.telegram, have_browser)
            source = adhoc_source(request.url, choice, batch.adhoc)  # refuses what no source may be
        except (KindError, ValueError) as err:
            done(position, CaptureResult(request.url, "failed", reason=str(err), line=request.line))
            continue
        planned.append(Planned(position, request, choice, source))
    outcomes = await _capture_planned(batch, planned, done)
    if options.transcribe and settings.transcribe_in_run and outcomes:
        _transcribe(settings, outcomes, results, transcribe_progress)
    if outcomes:
        noted = [len(o.notes) for o, _ in outcomes]
        anchor_custody_heads(settings, [o for o, _ in outcomes])  # a failure is a note
        for (outcome, position), before in zip(outcomes, noted, strict=True):
            result = results[position]
            if result is not None:
                result.notes += outcome.notes[before:]
    if journal is not None:
        close_list(batch.store, journal)
    return [r for r in results if r is not None]


async def _capture_planned(
    batch: BatchCapture,
    planned: Sequence[Planned],
    done: Callable[[int, CaptureResult], None],
) -> list[tuple[SourceOutcome, int]]:
    """Run the planned URLs side by side; (outcome, position) of each that ran."""
    if not planned:
        return []
    settings, options = batch.settings, batch.options
    sources = [p.source for p in planned]
    outcomes: list[tuple[SourceOutcome, int]] = []
    index = settings.open_index()
    try:
        async with contextlib.AsyncExitStack() as stack:
            browser, browser_error = await start_browser(sources, stack)
            runner = SourceRunner(
                settings, batch.store, index, batch.operator, gates=HostGates(), browser=browser
            )
            slots = asyncio.Semaphore(max(1, options.parallel))

            async def one(plan: Planned) -> None:
                position, request, choice, source = plan
                if choice.browser and browser is None:
                    reason = browser_error or "the browser did not start"
                    failed = CaptureResult(request.url, "failed", None, "browser", reason)
                    failed.line, failed.note = request.line, request.note
                    failed.retryable = True  # a browser that would not start may start later
                    done(position, failed)
                    return
                lane = lane_of(normalise_url(request.url))
                run_id = options.run_ids.get(request.url)
                async with slots:
                    outcome = await _run_once(runner, source, lane, run_id)
                    waited = 0.0
                    while outcome.busy and waited < BUSY_WAIT_SECONDS:
                        # Another process is capturing this very URL: its capture may serve.
                        await asyncio.sleep(0.5)
                        waited += 0.5
                        reused = batch.early_result(request, None, False)
                        if reused is not None:
                            done(position, reused)
                            return
                        outcome = await _run_once(runner, source, lane, run_id)
                    result = batch.record(request, choice, outcome, f"{ADHOC_SOURCE_ID}.{lane}")
                    if result.status == "failed" and choice.browser and options.kind == "auto":
                        # What the browser cannot render (an empty error page, a download)
                        # is still an answer to keep: captured over plain HTTP, and said so.
                        choice = KindChoice(
                            "web", note=f"not rendered ({result.reason}); plain HTTP capture"
                        )
                        source = adhoc_source(request.url, choice, batch.adhoc)
                        outcome = await _run_once(runner, source, lane, None)
                        result = batch.record(request, choice, outcome, f"{ADHOC_SOURCE_ID}.{lane}")
                outcomes.append((outcome, position))
                done(position, result)

            await asyncio.gather(*(one(plan) for plan in planned))
    finally:
        index.close()
    return outcomes


async def _run_once(
    runner: SourceRunner, source: Source, lane: str, run_id: str | None
) -> SourceOutcome:
    """Run one URL's lane; an unexpected error becomes the outcome's error."""
    try:
        return await runner.run(source, run_id=run_id, lane=lane)
    except Exception as err:  # one URL's surprise never costs the others
        return SourceOutcome(ADHOC_SOURCE_ID, error=f"{type(err).__name__}: {err}")


def _transcribe(
    settings: Settings,
    outcomes: Sequence[tuple[SourceOutcome, int]],
    results: Sequence[CaptureResult | None],
    progress: TranscribeProgress | None,
) -> None:
    """Transcribe the batch's media with one model load; what became of each recording is a
    note of the URL whose capture holds it. A missing model is a note, never a lost capture."""
    from osint_archive.transcribe_stage import recognition_options, transcribe_jobs
    from transcription.jobs import Transcriber, media_jobs
    from transcription.model_files import ModelError

    position_of = {m.capture_id: p for o, p in outcomes for m in o.media_captures}
    jobs = media_jobs([m for o, _ in outcomes for m in o.media_captures])
    if not jobs:
        return
    index = settings.open_index()
    try:
        transcriber = Transcriber(settings.open_store(), recognition_options(settings))
        done = transcribe_jobs(transcriber, jobs, index, progress=progress)
    except ModelError as err:
        done = []
        for job in jobs:
            result = results[position_of[job.capture_id]]
            if result is not None:
                result.notes.append(f"not transcribed: {err}")
    finally:
        index.close()
    for outcome in done:
        result = results[position_of[outcome.job.capture_id]]
        if result is None:
            continue
        if outcome.status == "transcribed":
            result.notes.append(f"transcribed: {outcome.job.media.url}")
        elif outcome.status == "failed":
            media = outcome.job.media.url
            result.notes.append(f"transcription failed for {media}: {outcome.reason}")
