"""Crawl one source once, as a scheduled task: idempotent per scheduler run."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from archive.store import ObjectNotFoundError, ObjectStore
from osint_archive.pipeline import SourceOutcome, run_sources
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


def crawl_source(
    settings: Settings, source_id: str, scheduler_run_id: str, run_after: datetime
) -> CrawlSummary:
    """Crawl ``source_id`` under the archive run that ``scheduler_run_id`` maps to.

    A retry resumes that run (committed captures are kept, the rest fetched); a re-run of a
    run that completed fetches nothing and returns its summary again. Pages are not indexed
    here: the ``index`` stage does that from the archive. Raises ``TransientFailure`` or
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
    run_id = scheduled_run_id(scheduler_run_id, run_after)
    done = _completed(store, source_id, run_id)
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
        failure = TransientFailure if outcome.retryable else PermanentFailure
        raise failure(f"{source_id}: {outcome.error}")
    summary = CrawlSummary.of(outcome)
    store.put_state(CrawlSummary.key(source_id, run_id), json.dumps(asdict(summary)).encode())
    return summary
