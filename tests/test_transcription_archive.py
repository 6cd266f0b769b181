"""From capture to searchable transcript: ``osint-archive run`` archives a video from the
loopback media site, transcribes it, links the transcript to the capture and the custody log,
indexes its segments with their seconds; a second run and ``osint-archive transcribe``
recompute nothing."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from archive.keys import transcript_key
from tests.cli_runs import custody_events, run_cli, stored_manifests, wacz_validate
from tests.media_fixtures import RUSSIAN_TEST_SENTENCES, PlacedSpeech
from tests.media_site import MediaSite
from tests.speech_scoring import word_error_rate
from transcription.model_files import BUNDLED_MODELS, model_id_for

BASE = BUNDLED_MODELS["base"]
BASE_ID = model_id_for("base", BASE.model_sha256)


@pytest.fixture(scope="module")
def speech(placed_speech: Callable[[str, Sequence[str]], PlacedSpeech]) -> PlacedSpeech:
    return placed_speech("ru", RUSSIAN_TEST_SENTENCES)


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, speech: PlacedSpeech, silent_video_no_audio_mp4: Path
) -> Iterator[MediaSite]:
    root = Path(tmp_path_factory.mktemp("speech-site"))
    shutil.copyfile(speech.path, root / "speech-ru.mp4")
    shutil.copyfile(silent_video_no_audio_mp4, root / "silent.mp4")
    with MediaSite(root) as media_site:
        yield media_site


def write_sources(path: Path, site: MediaSite, entries: dict[str, str], extra: str = "") -> Path:
    path.write_text(
        "sources:\n"
        + "".join(
            f"  - id: {source_id}\n    kind: video\n    url: {site.url(target)}\n"
            f"    schedule: '@weekly'\n{extra}"
            for source_id, target in entries.items()
        ),
        encoding="utf-8",
    )
    return path


def test_run_transcribes_captured_video_and_its_words_are_found_at_their_second(
    tmp_path: Path, site: MediaSite, speech: PlacedSpeech
) -> None:
    config = write_sources(
        tmp_path / "sources.yaml", site, {"court-tv": "speech-ru.mp4", "mute": "silent.mp4"}
    )
    home = tmp_path / "home"
    archive = home / "archive"

    done = run_cli(home, "run", "--config", str(config), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "audio min" in done.stderr and "real time" in done.stderr  # the progress display

    media_sha = hashlib.sha256(speech.path.read_bytes()).hexdigest()
    (manifest,) = stored_manifests(archive, "court-tv")
    record_key = transcript_key(media_sha, BASE_ID)
    record = json.loads((archive / record_key).read_bytes())
    assert record["capture_id"] == manifest["capture_id"]
    assert record["model_sha256"] == BASE.model_sha256
    transcript = json.loads((archive / record["transcript"]["key"]).read_bytes())
    assert transcript["media_sha256"] == media_sha
    assert transcript["language"] == "ru" and transcript["language_source"] == "detected"
    assert transcript["model"]["sha256"] == BASE.model_sha256
    assert transcript["tools"]["faster-whisper"] and transcript["tools"]["ffmpeg"] != "unknown"
    options = transcript["options"]
    assert options["vad_filter"] is True and options["condition_on_previous_text"] is False
    assert options["beam_size"] == 5 and options["no_speech_threshold"] == 0.6
    assert transcript["device"] == "cpu" and transcript["compute_type"] == "int8"
    text = " ".join(s["text"] for s in transcript["segments"])
    assert word_error_rate(speech.text, text, "ru") <= 0.35
    vtt = (archive / record["webvtt"]["key"]).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n") and " --> " in vtt and media_sha in vtt

    (event,) = [e for e in custody_events(archive, "court-tv") if e["type"] == "transcribed"]
    assert event["subject"] == record_key
    assert (
        event["details"]["record_sha256"]
        == hashlib.sha256((archive / record_key).read_bytes()).hexdigest()
    )
    assert event["details"]["capture_id"] == manifest["capture_id"]

    # The media without sound is archived and simply has no transcript.
    (mute,) = stored_manifests(archive, "mute")
    assert mute["media"][0]["has_audio"] is False
    assert not (archive / "transcripts" / mute["media"][0]["sha256"]).exists()

    # Searchable, landing on the second the sentence was said.
    placed = next(s for s in speech.sentences if "милиции" in s.text)
    found = run_cli(home, "search", "милиции", "--kind", "transcript", "--json")
    assert found.returncode == 0, found.stderr
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert hits, found.stdout
    hit = hits[0]
    assert hit["kind"] == "transcript" and hit["capture_id"] == manifest["capture_id"]
    assert hit["media_sha256"] == media_sha and hit["lang"] == "ru"
    assert abs(hit["start"] - placed.start) <= 1.0 and abs(hit["end"] - placed.end) <= 1.0

    audit = run_cli(home, "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "1 transcripts" in audit.stderr

    # A court package of the capture carries its transcript and the custody event behind it.
    package = tmp_path / "court-tv.wacz"
    exported = run_cli(home, "export", "--source", "court-tv", "--out", str(package))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(package) as wacz:
        names = wacz.namelist()
        name = f"{media_sha}-{BASE_ID}"
        assert f"evidence/transcript-record-{name}.json" in names
        assert (
            wacz.read(f"evidence/transcript-{name}.json")
            == (archive / record["transcript"]["key"]).read_bytes()
        )
        assert wacz.read(f"evidence/transcript-{name}.vtt").startswith(b"WEBVTT")
        events = [json.loads(wacz.read(n)) for n in names if n.startswith("evidence/custody-")]
        assert any(e.get("type") == "transcribed" for e in events)
    check = wacz_validate(package)
    assert check.returncode == 0, check.stdout + check.stderr

    # Idempotent: neither a second run nor `transcribe` recomputes or re-logs anything.
    objects_before = sorted(p.name for p in (archive / "objects").rglob("*") if p.is_file())
    again = run_cli(home, "run", "--config", str(config), timeout=300)
    assert again.returncode == 0, again.stderr
    backlog = run_cli(home, "transcribe", "--json")
    assert backlog.returncode == 0, backlog.stderr
    statuses = {json.loads(line)["status"] for line in backlog.stdout.splitlines()}
    assert statuses == {"exists", "no_audio"}
    assert "1 already transcribed" in backlog.stderr
    objects_after = sorted(p.name for p in (archive / "objects").rglob("*") if p.is_file())
    new_objects = set(objects_after) - set(objects_before)
    assert record["transcript"]["sha256"] not in new_objects
    assert len([e for e in custody_events(archive, "court-tv") if e["type"] == "transcribed"]) == 1

    # The index can be rebuilt from the archive alone, transcripts included.
    shutil.rmtree(home / "index")
    assert run_cli(home, "reindex").returncode == 0
    again_found = run_cli(home, "search", "милиции", "--kind", "transcript", "--json")
    assert json.loads(again_found.stdout.splitlines()[0])["start"] == hit["start"]


def test_transcribe_command_processes_the_backlog_with_a_chosen_language(
    tmp_path: Path, site: MediaSite, speech: PlacedSpeech
) -> None:
    """Captured with transcription off, transcribed later by `transcribe --media`, with the
    language the source declares."""
    config = write_sources(
        tmp_path / "sources.yaml", site, {"court-tv": "speech-ru.mp4"}, "    language: ru\n"
    )
    home = tmp_path / "home"
    off = {"OSINT_ARCHIVE_TRANSCRIBE": "0"}
    assert run_cli(home, "run", "--config", str(config), env=off).returncode == 0
    assert not (home / "archive" / "transcripts").exists()

    media_sha = hashlib.sha256(speech.path.read_bytes()).hexdigest()
    done = run_cli(
        home, "transcribe", "--config", str(config), "--media", media_sha[:12], "--json",
        "--word-timestamps", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in done.stdout.splitlines()]
    assert line["status"] == "transcribed" and line["language"] == "ru"
    assert "RTF" in done.stderr and "audio min" in done.stderr
    record = json.loads((home / "archive" / transcript_key(media_sha, BASE_ID)).read_bytes())
    transcript = json.loads((home / "archive" / record["transcript"]["key"]).read_bytes())
    assert transcript["language_source"] == "source" and transcript["language_probability"] == 1
    words = transcript["segments"][0]["words"]
    assert words and words[0]["start"] <= words[-1]["end"]


def test_a_missing_model_is_a_clear_error_and_nothing_is_stored(
    tmp_path: Path, site: MediaSite
) -> None:
    config = write_sources(tmp_path / "sources.yaml", site, {"court-tv": "speech-ru.mp4"})
    home = tmp_path / "home"
    off = {"OSINT_ARCHIVE_TRANSCRIBE": "0"}
    assert run_cli(home, "run", "--config", str(config), env=off).returncode == 0
    done = run_cli(home, "transcribe", "--model", str(tmp_path / "no-such-model"))
    assert done.returncode == 2
    assert "neither a bundled model" in done.stderr and "Traceback" not in done.stderr
    # In a run, the sources with media fail with the same reason; their captures stay.
    failed = run_cli(
        home, "run", "--config", str(config),
        env={"OSINT_ARCHIVE_WHISPER_MODEL": str(tmp_path / "no-such-model")},
    )  # fmt: skip
    assert failed.returncode == 1
    assert "court-tv: transcription: model" in failed.stderr, failed.stderr
    assert not (home / "archive" / "transcripts").exists()
    assert len(stored_manifests(home / "archive", "court-tv")) == 2
