"""Crawl one source once, as a scheduled task: idempotent per scheduler run."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from archive.store import ObjectNotFoundError, ObjectStore
from osint_archive.pipeline import SourceOutcome, load_journal, run_sources
from osint_archive.scheduling.failures import PermanentFailure, TransientFailure
from osint_archive.scheduling.health import record_attempt
from osint_archive.scheduling.runs import RunRef, scheduled_run_id
from osint_archive.settings import Settings, SettingsError
from osint_archive.sources import (
    SourcesConfig,
    SourcesConfigError,
    UnknownSourceError,
    load_sources,
    select_sources,
)


@dataclass(frozen=True)
class CrawlSummary:
    """What one scheduled crawl did; its asset event carries it to transcription and indexing."""

    source_id: str
    run_id: str
    pages: int
    new_bytes: int
    revisits: int
    changed: int
    failures: int
    media_captures: int
    resumed: bool = False
    already_done: bool = False  # a re-run of a run that had completed: nothing was fetched

    @property
    def run(self) -> RunRef:
        return RunRef(self.source_id, self.run_id)

    def event_extra(self) -> dict[str, object]:
        return asdict(self)

    @staticmethod
    def key(source_id: str, run_id: str) -> str:
        return f"state/run-summaries/{source_id}/{run_id}.json"

    @classmethod
    def of(cls, outcome: SourceOutcome) -> CrawlSummary:
        return cls(
            outcome.source_id,
            outcome.run_id,
            outcome.pages,
            outcome.new_bytes,
            outcome.revisits,
            outcome.changed,
            len(outcome.failures),
            len(outcome.media_captures),
            outcome.resumed,
        )


def load_config(settings: Settings) -> SourcesConfig:
    """The configuration, or a permanent failure naming the file, line and field."""
    try:
        return load_sources(settings.config_path)
    except SourcesConfigError as err:
        raise PermanentFailure(f"invalid sources configuration:\n{err}") from err


def _completed(store: ObjectStore, source_id: str, run_id: str) -> CrawlSummary | None:
    try:
        data = json.loads(store.read_bytes(CrawlSummary.key(source_id, run_id)))
    except ObjectNotFoundError:
        return None
    return replace(CrawlSummary(**data), already_done=True)


def _failed_key(source_id: str, run_id: str) -> str:
    return f"state/run-summaries/{source_id}/{run_id}.failed.json"


def _attempt_run_ids(scheduler_run_id: str, run_after: datetime) -> Iterator[str]:
    """The archive run ids one scheduler run may use, in order: a fresh one for each attempt
    that finished with the source failing (its captures, a 503 page say, are evidence of that
    attempt; the next attempt must not find them and skip the URL)."""
    yield scheduled_run_id(scheduler_run_id, run_after)
    for attempt in itertools.count(2):
        yield scheduled_run_id(f"{scheduler_run_id}#attempt-{attempt}", run_after)


def _current_run(
    store: ObjectStore, source_id: str, scheduler_run_id: str, run_after: datetime
) -> tuple[str, CrawlSummary | None]:
    """The archive run this attempt continues or starts, or the summary of the one that
    already succeeded."""
    for run_id in _attempt_run_ids(scheduler_run_id, run_after):
        done = _completed(store, source_id, run_id)
        if done is not None:
            return run_id, done
        if not store.exists(_failed_key(source_id, run_id)):
            return run_id, None
    raise AssertionError("unreachable: the attempt ids never end")


def crawl_source(
    settings: Settings, source_id: str, scheduler_run_id: str, run_after: datetime
) -> CrawlSummary:
    """Crawl ``source_id`` under the archive run that ``scheduler_run_id`` maps to.

    A retry after a lost worker or a storage error resumes that run (committed captures are
    kept, the rest fetched); a retry after the source itself failed starts a run of its own;
    a re-run of a run that succeeded fetches nothing and returns its summary again. Pages are
    not indexed here: the ``index`` stage does that from the archive. Raises ``TransientFailure`` or
    ``PermanentFailure`` when the source failed; failures of single pages are only counted.
    """
    config = load_config(settings)
    try:
        (source,) = select_sources(config, [source_id])
    except UnknownSourceError as err:
        raise PermanentFailure(f"{source_id}: not in {settings.config_path}") from err
    try:
        store = settings.open_store()
    except SettingsError as err:
        raise PermanentFailure(f"storage settings: {err}") from err
    run_id, done = _current_run(store, source_id, scheduler_run_id, run_after)
    if done is not None:
        return done
    (outcome,) = asyncio.run(
        run_sources(
            settings,
            config,
            [source],
            run_ids={source_id: run_id},
            index_in_run=False,
            extract_processes=0,
        )
    )
    record_attempt(store, source_id, outcome.run_id or run_id, outcome.error)
    if outcome.error:
        journal = load_journal(store, source_id)
        if journal is not None and journal.run_id == run_id and journal.status == "complete":
            # The run finished with the source failing: the next attempt gets a run of its
            # own. (A run left open, by a storage error or a lost worker, is resumed instead.)
            store.put_state(_failed_key(source_id, run_id), json.dumps(outcome.error).encode())
        failure = TransientFailure if outcome.retryable else PermanentFailure
        raise failure(f"{source_id}: {outcome.error}")
    summary = CrawlSummary.of(outcome)
    store.put_state(CrawlSummary.key(source_id, run_id), json.dumps(asdict(summary)).encode())
    return summary
