"""Typed transcript records: the transcript artefact (content-addressed JSON) and the small
record that links a media file to it (``transcripts/<media sha256>/<model id>.json``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from archive.manifest import ObjectRef, Record

TRANSCRIPT_SCHEMA_VERSION = 1
LanguageSource = Literal["detected", "source", "option", "none"]


class TranscriptWord(Record):
    start: float
    end: float
    word: str
    probability: float


class TranscriptSegment(Record):
    """One stretch of speech: times in seconds from the start of the media."""

    id: int
    start: float
    end: float
    text: str
    # Scores of the decoding pass that produced the text (in the batched pipeline, one pass
    # covers up to 30 s of speech, so neighbouring segments can share them).
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    temperature: float
    # Decoded again, alone and with temperature fallback, because the batched pass looked like
    # a repetition loop (compression ratio above the threshold).
    redecoded: bool = False
    words: list[TranscriptWord] | None = None


class ModelInfo(Record):
    id: str
    name: str
    sha256: str  # of model.bin
    origin: str


class AudioInfo(Record):
    """The audio the recogniser heard, as ffmpeg decoded it."""

    sha256: str  # of the 16 kHz mono s16le PCM
    seconds: float
    sample_rate: int
    channels: int = 1
    ffmpeg_options: str
    decode_errors: str = ""


class Transcript(Record):
    """What was said in one media file, by one model, with everything needed to reproduce it."""

    schema_version: int = TRANSCRIPT_SCHEMA_VERSION
    media_sha256: str
    media_key: str
    audio: AudioInfo
    language: str | None  # None when no speech was found
    language_probability: float | None
    language_source: LanguageSource
    duration_seconds: float
    speech_seconds: float  # after voice-activity filtering
    segments: list[TranscriptSegment] = Field(default_factory=list)
    model: ModelInfo
    device: str
    compute_type: str
    options: dict[str, Any]
    tools: dict[str, str]
    created_at: datetime
    elapsed_seconds: float
    problem: str | None = None  # e.g. "zero-length audio"

    @property
    def text(self) -> str:
        return " ".join(segment.text for segment in self.segments)

    def to_json_bytes(self) -> bytes:
        return _canonical_json(self)


class TranscriptRecord(Record):
    """Links one media file (by hash) and the capture it was found in to its transcript."""

    media_sha256: str
    model_id: str
    model_sha256: str
    transcript: ObjectRef
    webvtt: ObjectRef
    source_id: str
    capture_id: str
    manifest_key: str
    language: str | None
    segments: int
    duration_seconds: float
    created_at: datetime

    def object_refs(self) -> list[tuple[str, str]]:
        return [(ref.key, ref.sha256) for ref in (self.transcript, self.webvtt)]

    def to_json_bytes(self) -> bytes:
        return _canonical_json(self)


def _canonical_json(record: Record) -> bytes:
    data = record.model_dump(mode="json")
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
