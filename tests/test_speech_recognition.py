"""The real Whisper base model on CPU, on speech synthesised offline and muxed into MP4:
Russian (festival) and English (espeak-ng) recognised within the word-error budget, each
sentence's segment within a second of where it was placed, silence left silent."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.media_fixtures import (
    ENGLISH_TEST_SENTENCES,
    RUSSIAN_TEST_SENTENCES,
    PlacedSpeech,
)
from tests.speech_scoring import normalised_words, word_error_rate
from transcription.audio import (
    SAMPLE_RATE,
    AudioWindow,
    _quietest_cut,
    audio_windows,
    extract_audio,
)
from transcription.engine import Recognition, RecognitionOptions, SpeechRecogniser
from transcription.model_files import resolve_model
from transcription.records import TranscriptSegment

TIME_TOLERANCE_SECONDS = 1.0


@pytest.fixture(scope="module")
def recogniser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpeechRecogniser]:
    model = resolve_model("base", Path(tmp_path_factory.mktemp("models")))
    yield SpeechRecogniser(model, RecognitionOptions(device="cpu"))


def recognise_file(recogniser: SpeechRecogniser, media: Path, scratch: Path) -> Recognition:
    audio = extract_audio(media, scratch / "audio.s16le")
    return recogniser.recognise(audio_windows(audio))


def best_match(sentence: str, segments: Sequence[TranscriptSegment], language: str):
    """The segment sharing the most words with ``sentence``."""
    wanted = set(normalised_words(sentence, language))
    return max(segments, key=lambda s: len(wanted & set(normalised_words(s.text, language))))


def check_placed(recognition: Recognition, speech: PlacedSpeech, max_wer: float) -> float:
    hypothesis = " ".join(s.text for s in recognition.segments)
    wer = word_error_rate(speech.text, hypothesis, speech.language)
    assert wer <= max_wer, f"WER {wer:.3f} > {max_wer}: {hypothesis!r}"
    assert recognition.language == speech.language
    for placed in speech.sentences:
        segment = best_match(placed.text, recognition.segments, speech.language)
        assert abs(segment.start - placed.start) <= TIME_TOLERANCE_SECONDS, (placed, segment)
        assert abs(segment.end - placed.end) <= TIME_TOLERANCE_SECONDS, (placed, segment)
    return wer


def test_russian_speech_is_recognised_within_budget_and_placed_to_the_second(
    recogniser: SpeechRecogniser,
    placed_speech: Callable[[str, Sequence[str]], PlacedSpeech],
    tmp_path: Path,
) -> None:
    speech = placed_speech("ru", RUSSIAN_TEST_SENTENCES)
    assert len(speech.sentences) >= 5
    recognition = recognise_file(recogniser, speech.path, tmp_path)
    check_placed(recognition, speech, max_wer=0.35)
    assert recognition.language_probability and recognition.language_probability > 0.5
    # Seven seconds of lead, gaps and tail are not speech.
    assert recognition.speech_seconds < speech.duration_seconds


def test_english_speech_is_recognised_within_budget_and_placed_to_the_second(
    recogniser: SpeechRecogniser,
    placed_speech: Callable[[str, Sequence[str]], PlacedSpeech],
    tmp_path: Path,
) -> None:
    speech = placed_speech("en", ENGLISH_TEST_SENTENCES)
    recognition = recognise_file(recogniser, speech.path, tmp_path)
    check_placed(recognition, speech, max_wer=0.25)


def test_thirty_seconds_of_silence_yield_no_text(
    recogniser: SpeechRecogniser, silence_mp4: Path, tmp_path: Path
) -> None:
    recognition = recognise_file(recogniser, silence_mp4, tmp_path)
    assert recognition.segments == []
    assert recognition.language is None  # nothing was said, so no language is claimed
    assert recognition.speech_seconds == 0


def test_a_declared_language_is_used_not_detected(
    recogniser: SpeechRecogniser,
    placed_speech: Callable[[str, Sequence[str]], PlacedSpeech],
    tmp_path: Path,
) -> None:
    speech = placed_speech("ru", RUSSIAN_TEST_SENTENCES)
    audio = extract_audio(speech.path, tmp_path / "audio.s16le")
    forced = recogniser.recognise(audio_windows(audio), language="ru")
    assert forced.language == "ru" and forced.language_probability == 1.0


def test_windows_keep_times_and_sentences_across_cuts(
    recogniser: SpeechRecogniser,
    placed_speech: Callable[[str, Sequence[str]], PlacedSpeech],
    tmp_path: Path,
) -> None:
    """Ten-second windows (a stand-in for the ten-minute ones of a long broadcast) cut at
    quiet moments: every sentence still lands at its own time."""
    speech = placed_speech("ru", RUSSIAN_TEST_SENTENCES)
    audio = extract_audio(speech.path, tmp_path / "audio.s16le")
    windows = list(audio_windows(audio, window_seconds=10.0))
    assert len(windows) >= 3
    assert sum(len(w.samples) for w in windows) == audio.samples
    recognition = recogniser.recognise(windows)
    check_placed(recognition, speech, max_wer=0.35)


def test_repetition_guard_redecodes_with_temperature_fallback(
    tmp_path_factory: pytest.TempPathFactory,
    placed_speech: Callable[[str, Sequence[str]], PlacedSpeech],
    tmp_path: Path,
) -> None:
    """A threshold no real text passes sends every batched pass through the sequential
    re-decode: the text survives and each segment says it was re-decoded."""
    model = resolve_model("base", Path(tmp_path_factory.mktemp("models-guard")))
    strict = SpeechRecogniser(
        model, RecognitionOptions(device="cpu", compression_ratio_threshold=0.1)
    )
    speech = placed_speech("en", ENGLISH_TEST_SENTENCES)
    audio = extract_audio(speech.path, tmp_path / "audio.s16le")
    recognition = strict.recognise(audio_windows(audio))
    assert recognition.segments and all(s.redecoded for s in recognition.segments)
    wer = word_error_rate(speech.text, " ".join(s.text for s in recognition.segments), "en")
    assert wer <= 0.5


def test_quiet_cut_lands_in_the_silence_between_words() -> None:
    tone = np.sin(np.arange(SAMPLE_RATE * 4) / 5).astype(np.float32)
    gap_at = SAMPLE_RATE * 3
    tone[gap_at : gap_at + SAMPLE_RATE // 5] = 0  # 200 ms of silence at 3.0 s
    cut = _quietest_cut((tone * 20000).astype(np.int16))
    assert gap_at <= cut <= gap_at + SAMPLE_RATE // 5
    window = AudioWindow(0.0, tone[:cut])
    assert window.seconds == pytest.approx(cut / SAMPLE_RATE)
