"""Transcribe archived media: from a capture's media artefact to a stored, linked transcript.

One job per media file (by hash). A job reads the stored media (verifying its SHA-256 on the
way), extracts the audio, recognises speech, and stores the transcript JSON and WebVTT as
content-addressed objects, a record at ``transcripts/<media sha256>/<model id>.json`` linking
them to the capture, and a ``transcribed`` custody event. A media file that already has a
record for the model is not transcribed again.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from archive.custody import CustodyEvent, CustodyLog
from archive.hashing import stream_sha256
from archive.keys import transcript_key
from archive.manifest import CaptureManifest, MediaArtefact, ObjectRef
from archive.store import ObjectNotFoundError, ObjectStore, put_payload
from archive.versions import ffmpeg_version, package_version
from transcription.audio import (
    SAMPLE_RATE,
    AudioError,
    ExtractedAudio,
    NoAudioTrack,
    audio_windows,
    extract_audio,
)
from transcription.engine import Recognition, RecognitionOptions, SpeechRecogniser
from transcription.model_files import ResolvedModel, resolve_model
from transcription.records import (
    AudioInfo,
    LanguageSource,
    ModelInfo,
    Transcript,
    TranscriptRecord,
)
from transcription.webvtt import render_webvtt

JobStatus = Literal["transcribed", "exists", "no_audio", "failed"]
# (job, audio seconds done in this job) after each stretch of audio is recognised
ProgressCallback = Callable[["MediaJob", float], None]


@dataclass(frozen=True)
class MediaJob:
    """A media file to transcribe, and the capture it was found in."""

    source_id: str
    capture_id: str
    manifest_key: str
    media: MediaArtefact
    language: str | None = None  # declared by the source; forces the language

    @property
    def label(self) -> str:
        return f"{self.source_id}: {self.media.title or self.media.url}"


@dataclass(frozen=True)
class JobOutcome:
    job: MediaJob
    status: JobStatus
    reason: str = ""
    record_key: str | None = None
    record: TranscriptRecord | None = None  # set when this job stored it
    audio_seconds: float = 0.0
    elapsed_seconds: float = 0.0
    transcript: Transcript | None = None


def media_jobs(
    manifests: Iterable[CaptureManifest], languages: Mapping[str, str | None] | None = None
) -> list[MediaJob]:
    """One job per distinct media file in ``manifests`` (the first capture that has it names
    it); ``languages`` maps a source id to its declared language."""
    jobs: dict[str, MediaJob] = {}
    for manifest in manifests:
        for media in manifest.media:
            if media.sha256 not in jobs:
                language = (languages or {}).get(manifest.source_id)
                jobs[media.sha256] = MediaJob(
                    manifest.source_id, manifest.capture_id, manifest.key, media, language
                )
    return list(jobs.values())


class MediaHashMismatch(Exception):
    """The stored media no longer hashes to its recorded SHA-256."""


def _pending_key(media_sha256: str, model_id: str) -> str:
    return f"state/transcripts-pending/{media_sha256}.{model_id}.json"


class Transcriber:
    """Runs media jobs against one store with one model (loaded on the first job that needs
    it, so a pass with nothing to transcribe never loads it)."""

    def __init__(
        self,
        store: ObjectStore,
        options: RecognitionOptions | None = None,
        cache_dir: Path | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.store = store
        self.options = options or RecognitionOptions()
        self.cache_dir = cache_dir
        self.on_progress = on_progress
        self._model: ResolvedModel | None = None
        self._recogniser: SpeechRecogniser | None = None

    @property
    def model(self) -> ResolvedModel:
        """The resolved model (raises ``ModelError`` with what to do when it is unusable)."""
        if self._model is None:
            self._model = resolve_model(self.options.model, self.cache_dir)
        return self._model

    @property
    def recogniser(self) -> SpeechRecogniser:
        if self._recogniser is None:
            self._recogniser = SpeechRecogniser(self.model, self.options)
        return self._recogniser

    def record_key(self, job: MediaJob) -> str:
        return transcript_key(job.media.sha256, self.model.model_id)

    def process(self, job: MediaJob) -> JobOutcome:
        """Transcribe one media file unless it has no sound or already has a transcript."""
        if job.media.has_audio is False:
            return JobOutcome(job, "no_audio", "no audio track")
        key = self.record_key(job)
        if self.store.exists(key):
            self._finish_pending(job, key)
            return JobOutcome(job, "exists", record_key=key)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="osint-archive-audio-") as scratch:
            try:
                media_path = self._media_file(job.media, Path(scratch))
                audio = extract_audio(media_path, Path(scratch) / "audio.s16le")
            except NoAudioTrack as err:
                return JobOutcome(job, "no_audio", str(err))
            except (AudioError, MediaHashMismatch) as err:
                return JobOutcome(job, "failed", str(err))
            transcript = self._transcribe(job, audio, started)
        record_key, record = self._store(job, transcript)
        return JobOutcome(
            job,
            "transcribed",
            record_key=record_key,
            record=record,
            audio_seconds=audio.seconds,
            elapsed_seconds=time.perf_counter() - started,
            transcript=transcript,
        )

    def _media_file(self, media: MediaArtefact, scratch: Path) -> Path:
        """A local file with the media's bytes, its SHA-256 checked against the capture's."""
        local = self.store.local_path(media.key)
        if local is not None:
            with local.open("rb") as reader:
                digest = stream_sha256(reader)
            path = local
        else:
            path = scratch / "media"
            with self.store.open(media.key) as reader, path.open("wb") as writer:
                digest = stream_sha256(reader, writer)
        if digest.hexdigest() != media.sha256:
            raise MediaHashMismatch(
                f"stored media {media.key} hashes to {digest.hexdigest()}, not to the "
                f"recorded {media.sha256}; not transcribed (run `osint-archive audit`)"
            )
        return path

    def _transcribe(self, job: MediaJob, audio: ExtractedAudio, started: float) -> Transcript:
        language = self.options.language or job.language
        source: LanguageSource = (
            "option" if self.options.language else "source" if job.language else "detected"
        )
        problem = None
        progress = self.on_progress
        if audio.samples == 0:
            recognition, problem = Recognition(None, None, 0.0, []), "zero-length audio"
        else:
            recognition = self.recogniser.recognise(
                audio_windows(audio),
                language=language,
                on_progress=(lambda seconds: progress(job, seconds)) if progress else None,
            )
        recogniser = self._recogniser
        return Transcript(
            media_sha256=job.media.sha256,
            media_key=job.media.key,
            audio=AudioInfo(
                sha256=audio.sha256,
                seconds=round(audio.seconds, 3),
                sample_rate=SAMPLE_RATE,
                ffmpeg_options=audio.ffmpeg,
                decode_errors=audio.decode_errors,
            ),
            language=recognition.language,
            language_probability=recognition.language_probability,
            language_source=source if recognition.language else "none",
            duration_seconds=round(audio.seconds, 3),
            speech_seconds=recognition.speech_seconds,
            segments=recognition.segments,
            model=ModelInfo(
                id=self.model.model_id,
                name=self.model.name,
                sha256=self.model.model_sha256,
                origin=self.model.origin,
            ),
            device=recogniser.device if recogniser else "none",
            compute_type=recogniser.compute_type if recogniser else "none",
            options=self.options.model_dump(mode="json"),
            tools={
                "osint-archive": package_version("osint-archive"),
                "faster-whisper": package_version("faster-whisper"),
                "ctranslate2": package_version("ctranslate2"),
                "ffmpeg": ffmpeg_version(),
            },
            created_at=datetime.now(UTC),
            elapsed_seconds=round(time.perf_counter() - started, 3),
            problem=problem,
        )

    def _store(self, job: MediaJob, transcript: Transcript) -> tuple[str, TranscriptRecord]:
        """Objects, then the linking record, then custody; a state marker covers a crash
        between the record and its custody event."""
        stored = put_payload(self.store, io.BytesIO(transcript.to_json_bytes()), "application/json")
        vtt = put_payload(self.store, io.BytesIO(render_webvtt(transcript)), "text/vtt")
        record = TranscriptRecord(
            media_sha256=job.media.sha256,
            model_id=self.model.model_id,
            model_sha256=self.model.model_sha256,
            transcript=ObjectRef(key=stored.key, sha256=stored.sha256),
            webvtt=ObjectRef(key=vtt.key, sha256=vtt.sha256),
            source_id=job.source_id,
            capture_id=job.capture_id,
            manifest_key=job.manifest_key,
            language=transcript.language,
            segments=len(transcript.segments),
            duration_seconds=transcript.duration_seconds,
            created_at=transcript.created_at,
        )
        key = transcript_key(job.media.sha256, self.model.model_id)
        data = record.to_json_bytes()
        pending_key = _pending_key(job.media.sha256, self.model.model_id)
        self.store.put_state(pending_key, json.dumps({"source_id": job.source_id}).encode())
        self.store.put_record(key, data)
        self._log(job.source_id, key, record, hashlib.sha256(data).hexdigest())
        return key, record

    def _log(self, chain: str, key: str, record: TranscriptRecord, record_sha256: str) -> None:
        CustodyLog(self.store, chain).append(
            [
                CustodyEvent(
                    event_id=f"transcribed:{record.media_sha256}:{record.model_id}",
                    type="transcribed",
                    subject=key,
                    details={
                        "record_sha256": record_sha256,
                        "capture_id": record.capture_id,
                        "media_sha256": record.media_sha256,
                        "model_id": record.model_id,
                        "model_sha256": record.model_sha256,
                        "transcript": record.transcript.key,
                        "webvtt": record.webvtt.key,
                    },
                )
            ]
        )
        pending_key = _pending_key(record.media_sha256, record.model_id)
        self.store.put_state(pending_key, json.dumps({"source_id": chain, "logged": True}).encode())

    def _finish_pending(self, job: MediaJob, key: str) -> None:
        """A record stored by a run that stopped before its custody event: log it now."""
        try:
            marker = self.store.read_bytes(_pending_key(job.media.sha256, self.model.model_id))
            pending = json.loads(marker)
        except (ObjectNotFoundError, ValueError):
            return  # no marker: recorded elsewhere, or before markers existed
        if pending.get("logged"):
            return
        data = self.store.read_bytes(key)
        record = TranscriptRecord.model_validate_json(data)
        self._log(str(pending["source_id"]), key, record, hashlib.sha256(data).hexdigest())
