"""Transcription as scheduled tasks: list the media of some runs, then one task per file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from archive.manifest import read_manifest
from osint_archive.pipeline import run_manifests
from osint_archive.scheduling.crawl import load_config
from osint_archive.scheduling.failures import PermanentFailure
from osint_archive.scheduling.runs import RunRef
from osint_archive.settings import Settings
from osint_archive.transcribe_stage import archived_media_jobs, recognition_options
from transcription.jobs import MediaJob, Transcriber, media_jobs
from transcription.model_files import ModelError


@dataclass(frozen=True)
class MediaTask:
    """One media file to transcribe, small enough to pass between tasks."""

    source_id: str
    capture_id: str
    manifest_key: str
    media_sha256: str
    run_id: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class TranscribeResult:
    media_sha256: str
    source_id: str
    run_id: str
    status: str  # transcribed | exists | no_audio
    record_key: str | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def media_batches(tasks: Sequence[MediaTask], max_batches: int) -> list[list[MediaTask]]:
    """``tasks`` in at most ``max_batches`` batches of equal size: one file a batch while
    they fit, so each file is a task of its own, retried on its own."""
    size = max(1, math.ceil(len(tasks) / max_batches))
    return [list(tasks[i : i + size]) for i in range(0, len(tasks), size)]


def transcribe_batch(settings: Settings, tasks: Sequence[MediaTask]) -> dict[str, object]:
    """Transcribe every file of a batch with one model; the asset event's extra (the
    transcript records to index, each file's result). A transcript that exists is kept, not
    made again. A file that cannot be transcribed (its stored bytes no longer match its hash,
    its audio cannot be decoded) does not stop the others; the batch then fails naming it
    (``PermanentFailure``), as it does at once when no model is usable. Storage errors
    propagate, for the scheduler to retry."""
    store = settings.open_store()
    languages = {s.id: s.language for s in load_config(settings).sources}
    transcriber = Transcriber(store, recognition_options(settings))  # loads the model once
    results, problems = [], []
    for task in tasks:
        try:
            results.append(_transcribe(transcriber, languages, task).as_dict())
        except ModelError as err:
            raise PermanentFailure(f"transcription model: {err}") from err
        except PermanentFailure as err:
            problems.append(str(err))
    if problems:
        raise PermanentFailure("; ".join(problems))
    return {
        "record_keys": [r["record_key"] for r in results if r["record_key"]],
        "results": results,
    }


def media_tasks(settings: Settings, runs: Sequence[RunRef]) -> list[MediaTask]:
    """The media files the given runs captured (every archived one when ``runs`` is empty),
    one task per distinct file, for sources that transcribe."""
    config = load_config(settings)
    transcribing = {s.id for s in config.sources if s.transcribe}
    store = settings.open_store()
    if runs:
        by_run: dict[str, str] = {}
        manifests = []
        for run in runs:
            for manifest in run_manifests(store, run.source_id, run.run_id):
                if manifest.media:
                    manifests.append(manifest)
                    by_run[manifest.capture_id] = run.run_id
        jobs = media_jobs(manifests)
    else:
        jobs, by_run = archived_media_jobs(store), {}
    return [
        MediaTask(
            j.source_id, j.capture_id, j.manifest_key, j.media.sha256, by_run.get(j.capture_id, "")
        )
        for j in jobs
        if j.source_id in transcribing
    ]


def _transcribe(
    transcriber: Transcriber, languages: dict[str, str | None], task: MediaTask
) -> TranscribeResult:
    manifest = read_manifest(transcriber.store, task.manifest_key)
    media = next((m for m in manifest.media if m.sha256 == task.media_sha256), None)
    if media is None:
        raise PermanentFailure(f"{task.manifest_key} lists no media {task.media_sha256}")
    job = MediaJob(
        task.source_id, task.capture_id, task.manifest_key, media, languages.get(task.source_id)
    )
    outcome = transcriber.process(job)
    if outcome.status == "failed":
        raise PermanentFailure(f"{job.label}: {outcome.reason}")
    return TranscribeResult(
        task.media_sha256, task.source_id, task.run_id, outcome.status, outcome.record_key
    )
