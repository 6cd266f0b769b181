"""Speech recognition with faster-whisper: the batched pipeline over voice-activity chunks,
guarded against the failure modes that matter for evidence.

* **Silence stays silent.** Voice-activity filtering drops non-speech before decoding, and a
  decoded pass whose no-speech probability is high and whose log-probability is low is
  discarded (Whisper's own rule), so silence does not become invented words.
* **No runaway loops.** Text is never conditioned on the previous text. A pass whose
  compression ratio is above the threshold (a repetition loop) is decoded again on its own
  with temperature fallback, and the segment says so.
* **One language per file**, detected on the first speech (or declared by the source or the
  operator) and then kept, so a long broadcast is not re-guessed window by window.
* **Device ``auto``**: CUDA with float16 when a GPU is present, CPU with int8 otherwise.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from transcription.audio import SAMPLE_RATE, AudioWindow
from transcription.model_files import ResolvedModel
from transcription.records import TranscriptSegment, TranscriptWord
from transcription.segmenting import TimedWord, run_text, split_words

if TYPE_CHECKING:
    from faster_whisper.transcribe import Segment

FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
log = logging.getLogger(__name__)


class RecognitionOptions(BaseModel):
    """Every option that shapes a transcript; all of them are recorded in it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = "base"  # a bundled name or a model directory
    device: Literal["auto", "cpu", "cuda"] = "auto"
    compute_type: str | None = None  # default: float16 on CUDA, int8 on CPU
    cpu_threads: int = Field(default=0, ge=0)  # 0: every core
    beam_size: int = Field(default=5, ge=1, le=20)
    batch_size: int = Field(default=8, ge=1, le=128)
    language: str | None = None  # forces the language for every file when set
    word_timestamps: bool = False  # keep each word's timing in the transcript
    vad_filter: bool = True
    condition_on_previous_text: bool = False
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6


@dataclass(frozen=True)
class Recognition:
    """What the recogniser heard in one file."""

    language: str | None
    language_probability: float | None
    speech_seconds: float
    segments: list[TranscriptSegment]


@dataclass
class _FileState:
    language: str | None
    language_probability: float | None = None
    speech_seconds: float = 0.0
    segments: list[TranscriptSegment] = field(default_factory=list)


def resolve_device(requested: str) -> str:
    """``auto`` → ``cuda`` when CTranslate2 sees a GPU, else ``cpu``."""
    if requested != "auto":
        return requested
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class SpeechRecogniser:
    """One loaded model, reused for every file of a run."""

    def __init__(self, model: ResolvedModel, options: RecognitionOptions) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        self.model_files = model
        self.options = options
        self.device = resolve_device(options.device)
        self.compute_type = options.compute_type or ("float16" if self.device == "cuda" else "int8")
        started = time.perf_counter()
        self.model = WhisperModel(
            str(model.path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=options.cpu_threads,
            local_files_only=True,
        )
        self.pipeline = BatchedInferencePipeline(self.model)
        self.load_seconds = time.perf_counter() - started

    def recognise(
        self,
        windows: Iterable[AudioWindow],
        language: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Recognition:
        """Transcribe consecutive windows of one file; ``on_progress(seconds)`` reports the
        audio position reached."""
        state = _FileState(language)
        for window in windows:
            self._recognise_window(window, state, on_progress)
            if on_progress is not None:
                on_progress(window.offset_seconds + window.seconds)
        for number, segment in enumerate(state.segments, start=1):
            state.segments[number - 1] = segment.model_copy(update={"id": number})
        return Recognition(
            state.language if state.speech_seconds else None,
            state.language_probability if state.speech_seconds else None,
            round(state.speech_seconds, 3),
            state.segments,
        )

    def _recognise_window(
        self,
        window: AudioWindow,
        state: _FileState,
        on_progress: Callable[[float], None] | None,
    ) -> None:
        opts = self.options
        segments, info = self.pipeline.transcribe(
            window.samples,
            language=state.language,
            beam_size=opts.beam_size,
            batch_size=opts.batch_size,
            word_timestamps=True,  # always: segments are split at sentences by word timings
            vad_filter=opts.vad_filter,
            condition_on_previous_text=opts.condition_on_previous_text,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            log_prob_threshold=opts.log_prob_threshold,
            no_speech_threshold=opts.no_speech_threshold,
        )
        if info.duration_after_vad and state.language is None:
            state.language, state.language_probability = info.language, info.language_probability
        elif info.duration_after_vad and state.language_probability is None:
            state.language_probability = 1.0  # declared, not detected
        state.speech_seconds += info.duration_after_vad
        for segment in segments:
            if self._is_silence(segment):
                continue
            if (
                opts.compression_ratio_threshold is not None
                and segment.compression_ratio > opts.compression_ratio_threshold
            ):
                state.segments += self._redecode(window, segment, state.language)
            else:
                state.segments += self._split(segment, window.offset_seconds, redecoded=False)
            if on_progress is not None:
                on_progress(window.offset_seconds + segment.end)

    def _is_silence(self, segment: Segment) -> bool:
        """Whisper's rule: likely no speech, and not confidently decoded either."""
        opts = self.options
        return (
            segment.no_speech_prob > opts.no_speech_threshold
            and segment.avg_logprob < opts.log_prob_threshold
        ) or not segment.text.strip()

    def _redecode(
        self, window: AudioWindow, segment: Segment, language: str | None
    ) -> list[TranscriptSegment]:
        """Decode one pass's audio again, sequentially, with temperature fallback."""
        opts = self.options
        first = max(0, int(segment.start * SAMPLE_RATE))
        last = min(len(window.samples), int(np.ceil(segment.end * SAMPLE_RATE)))
        clip = window.samples[first:last]
        log.info("re-decoding %.1f s at %.1f s: compression ratio %.2f", len(clip) / SAMPLE_RATE,
                 window.offset_seconds + segment.start, segment.compression_ratio)  # fmt: skip
        again, _ = self.model.transcribe(
            clip,
            language=language,
            beam_size=opts.beam_size,
            temperature=list(FALLBACK_TEMPERATURES),
            word_timestamps=True,
            vad_filter=False,  # the clip is speech already
            condition_on_previous_text=False,
            compression_ratio_threshold=opts.compression_ratio_threshold,
            log_prob_threshold=opts.log_prob_threshold,
            no_speech_threshold=opts.no_speech_threshold,
        )
        offset = window.offset_seconds + first / SAMPLE_RATE
        found = []
        for redone in again:
            if not self._is_silence(redone):
                found += self._split(redone, offset, redecoded=True)
        return found

    def _split(self, segment: Segment, offset: float, redecoded: bool) -> list[TranscriptSegment]:
        """Sentence-sized segments of one decoded pass, in file time."""
        words = [
            TimedWord(offset + w.start, offset + w.end, w.word, w.probability)
            for w in (segment.words or [])
        ]
        runs = split_words(words) if words else []
        common: dict[str, Any] = {
            "id": 0,
            "avg_logprob": round(segment.avg_logprob, 4),
            "no_speech_prob": round(segment.no_speech_prob, 4),
            "compression_ratio": round(segment.compression_ratio, 4),
            "temperature": segment.temperature or 0.0,
            "redecoded": redecoded,
        }
        if not runs:
            return [
                TranscriptSegment(
                    start=round(offset + segment.start, 3),
                    end=round(offset + segment.end, 3),
                    text=segment.text.strip(),
                    **common,
                )
            ]
        return [
            TranscriptSegment(
                start=round(run[0].start, 3),
                end=round(run[-1].end, 3),
                text=run_text(run),
                words=[
                    TranscriptWord(
                        start=round(w.start, 3),
                        end=round(w.end, 3),
                        word=w.word.strip(),
                        probability=round(w.probability, 4),
                    )
                    for w in run
                ]
                if self.options.word_timestamps
                else None,
                **common,
            )
            for run in runs
        ]
