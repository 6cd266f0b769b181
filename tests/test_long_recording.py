"""A 10-hour recording is captured and transcribed in bounded memory: the audio is read in
windows, never whole (10 h of 16 kHz float32 samples alone would be 2.3 GB), and a sentence
said at the very end is found at its time."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from archive.keys import transcript_key
from tests.cli_runs import BIN, REPO, cli_env
from tests.media_fixtures import RUSSIAN_SENTENCES, PlacedSpeech
from tests.media_site import MediaSite
from transcription.model_files import BUNDLED_MODELS, model_id_for

HOURS = 10
# Whole-file decoding would need 2.3 GB for the samples alone; the model and the
# interpreter take about 0.6 GB.
MAX_RSS_BYTES = 1_200_000_000


def make_long_recording(dest: Path, speech: Path, silence_seconds: int) -> Path:
    """``silence_seconds`` of silence then ``speech``, as one 16 kHz mono FLAC (silence
    compresses to almost nothing: 10 hours take about 7 MB)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-t", str(silence_seconds), "-i", "anullsrc=r=16000:cl=mono",
         "-i", str(speech),
         "-filter_complex", "[1:a]aresample=16000,pan=mono|c0=c0[s];[0:a][s]concat=n=2:v=0:a=1",
         "-c:a", "flac", str(dest)],
        check=True,
    )  # fmt: skip
    return dest


@pytest.mark.slow
def test_ten_hour_recording_is_transcribed_in_bounded_memory(
    tmp_path: Path, placed_speech: Callable[[str, Sequence[str]], PlacedSpeech]
) -> None:
    speech = placed_speech("ru", RUSSIAN_SENTENCES)
    site_root = tmp_path / "site"
    site_root.mkdir()
    silence = HOURS * 3600
    recording = make_long_recording(site_root / "broadcast.flac", speech.path, silence)
    config = tmp_path / "sources.yaml"
    home = tmp_path / "home"
    with MediaSite(site_root) as site:
        config.write_text(
            "sources:\n  - id: broadcast\n    kind: video\n"
            f"    url: {site.url('broadcast.flac')}\n    schedule: '@daily'\n"
            f"    max_media_seconds: {silence + 600}\n",
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [str(BIN / "osint-archive"), "run", "--config", str(config)],
            cwd=REPO,
            env=cli_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        _, status, usage = os.wait4(process.pid, 0)
        stderr = process.stderr.read().decode() if process.stderr else ""
        assert os.waitstatus_to_exitcode(status) == 0, stderr
    peak = usage.ru_maxrss * 1024
    assert peak < MAX_RSS_BYTES, f"peak memory {peak / 1e9:.2f} GB"
    print(f"peak memory of the run: {peak / 1e9:.2f} GB")

    media_sha = hashlib.sha256(recording.read_bytes()).hexdigest()
    model_id = model_id_for("base", BUNDLED_MODELS["base"].model_sha256)
    archive = home / "archive"
    record = json.loads((archive / transcript_key(media_sha, model_id)).read_bytes())
    transcript = json.loads((archive / record["transcript"]["key"]).read_bytes())
    assert transcript["duration_seconds"] == pytest.approx(silence + speech.duration_seconds, abs=1)
    first = speech.sentences[0]
    segment = transcript["segments"][0]
    assert abs(segment["start"] - (silence + first.start)) <= 1.0, segment
    assert "утром" in segment["text"]
