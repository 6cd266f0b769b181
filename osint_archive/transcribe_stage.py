"""The transcription stage as ``run`` and ``transcribe`` use it: media jobs in, transcripts
stored and indexed, one outcome per media file; one failing file never stops the others."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from index.backend import SearchBackend
from index.documents import transcript_documents
from osint_archive.settings import Settings
from transcription.engine import RecognitionOptions
from transcription.jobs import JobOutcome, MediaJob, Transcriber, media_jobs
from transcription.model_files import ModelError


class TranscribeProgress(Protocol):
    """What a progress display is told while a batch of media is transcribed."""

    def begin(self, jobs: Sequence[MediaJob]) -> None: ...

    def advance(self, job: MediaJob, seconds: float) -> None: ...

    def done(self, outcome: JobOutcome) -> None: ...


def recognition_options(settings: Settings, **overrides: object) -> RecognitionOptions:
    """Options from the environment, with the command line's overrides (None: not given)."""
    chosen = {key: value for key, value in overrides.items() if value is not None}
    base = {"model": settings.whisper_model, "device": settings.whisper_device}
    return RecognitionOptions.model_validate(base | chosen)


def archived_media_jobs(
    store: ObjectStore,
    source_ids: Iterable[str] = (),
    media: Iterable[str] = (),
    captures: Iterable[str] = (),
    languages: dict[str, str | None] | None = None,
) -> list[MediaJob]:
    """Media jobs for every archived capture, narrowed to the given sources, media hashes
    (or unambiguous prefixes of at least 8 hex digits) and capture ids."""
    sources, prefixes, capture_ids = list(source_ids), list(media), set(captures)
    keys = (
        [key for source in sources for key in iter_manifest_keys(store, source)]
        if sources
        else iter_manifest_keys(store)
    )
    manifests: list[CaptureManifest] = []
    for key in keys:
        manifest = read_manifest(store, key)
        if manifest.media and (not capture_ids or manifest.capture_id in capture_ids):
            manifests.append(manifest)
    jobs = media_jobs(manifests, languages)
    if prefixes:
        jobs = [j for j in jobs if any(j.media.sha256.startswith(p) for p in prefixes)]
    return jobs


def transcribe_jobs(
    transcriber: Transcriber,
    jobs: Sequence[MediaJob],
    index: SearchBackend | None = None,
    tags: Callable[[str], tuple[str, ...]] = lambda source_id: (),
    progress: TranscribeProgress | None = None,
) -> list[JobOutcome]:
    """Transcribe each job and index what was new; ``ModelError`` (no usable model) stops the
    batch, any other error is that file's outcome."""
    if progress is not None:
        progress.begin(jobs)
        transcriber.on_progress = progress.advance
    outcomes = []
    for job in jobs:
        try:
            outcome = transcriber.process(job)
        except ModelError:
            raise
        except Exception as err:
            outcome = JobOutcome(job, "failed", f"{type(err).__name__}: {err}")
        if outcome.record is not None and outcome.transcript is not None and index is not None:
            manifest = read_manifest(transcriber.store, job.manifest_key)
            index.index_documents(
                transcript_documents(
                    outcome.record, outcome.transcript, manifest, tags(job.source_id)
                )
            )
        outcomes.append(outcome)
        if progress is not None:
            progress.done(outcome)
    return outcomes
