"""Audio for speech recognition: ffmpeg decodes the media's first audio track to 16 kHz mono
16-bit PCM, streamed into a temp file and hashed on the way; the recogniser then reads it in
bounded windows, so a 10-hour broadcast never sits in memory whole.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from archive.store import CHUNK_SIZE

SAMPLE_RATE = 16_000
BYTES_PER_SAMPLE = 2
# Ten minutes of float32 audio is 38 MB; the recogniser's features for it about as much again.
WINDOW_SECONDS = 600.0
# A window ends at the quietest 50 ms in its last few seconds, so a cut rarely splits a word.
CUT_SEARCH_SECONDS = 8.0
CUT_FRAME_SECONDS = 0.05
STDERR_LIMIT = 4000


class AudioError(Exception):
    """ffmpeg could not decode the media's audio (corrupt file, unsupported codec)."""


class NoAudioTrack(AudioError):
    """The media has no audio stream: nothing to transcribe, and that is not a failure."""


@dataclass(frozen=True)
class ExtractedAudio:
    """16 kHz mono signed 16-bit PCM in a temp file, and what it is."""

    path: Path
    samples: int
    sha256: str  # of the PCM bytes: the exact input the recogniser heard
    ffmpeg: str  # the ffmpeg command line's options, recorded in the transcript
    decode_errors: str = ""  # what ffmpeg reported while still decoding the rest (damaged parts)

    @property
    def seconds(self) -> float:
        return self.samples / SAMPLE_RATE


@dataclass(frozen=True)
class AudioWindow:
    """A slice of the audio and where it starts in the file."""

    offset_seconds: float
    samples: np.ndarray  # float32 in [-1, 1]

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


FFMPEG_OPTIONS = ("-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(SAMPLE_RATE))


def extract_audio(media: Path, dest: Path) -> ExtractedAudio:
    """Decode ``media``'s first audio track into ``dest`` as raw PCM, hashing it as it streams.

    Raises ``NoAudioTrack`` when there is no audio stream and ``AudioError`` with ffmpeg's own
    words when decoding fails.
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioError("ffmpeg is not installed (Debian: apt-get install ffmpeg)")
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error",
        "-i", str(media), *FFMPEG_OPTIONS, "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    digest = hashlib.sha256()
    size = 0
    # stderr goes to a file: a damaged stream can log more than a pipe holds while stdout is
    # being read, and ffmpeg would block.
    with (
        tempfile.TemporaryFile() as errors,
        dest.open("wb") as writer,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors) as process,
    ):
        assert process.stdout is not None
        while chunk := process.stdout.read(CHUNK_SIZE):
            digest.update(chunk)
            writer.write(chunk)
            size += len(chunk)
        returncode = process.wait()
        errors.seek(0)
        stderr = errors.read(STDERR_LIMIT).decode("utf-8", "replace").strip()
    if returncode != 0:
        if "matches no streams" in stderr or "does not contain any stream" in stderr:
            raise NoAudioTrack("the media has no audio track")
        last = stderr.splitlines()[-1] if stderr else f"exit status {returncode}"
        raise AudioError(f"ffmpeg could not decode the audio: {last}")
    return ExtractedAudio(
        dest, size // BYTES_PER_SAMPLE, digest.hexdigest(), " ".join(FFMPEG_OPTIONS), stderr
    )


def _quietest_cut(samples: np.ndarray) -> int:
    """Index just after the quietest ``CUT_FRAME_SECONDS`` frame in the last
    ``CUT_SEARCH_SECONDS`` of ``samples``."""
    frame = int(CUT_FRAME_SECONDS * SAMPLE_RATE)
    search = min(len(samples), int(CUT_SEARCH_SECONDS * SAMPLE_RATE))
    tail = samples[len(samples) - search :]
    frames = len(tail) // frame
    if frames < 2:
        return len(samples)
    energy = np.square(tail[: frames * frame].astype(np.float32)).reshape(frames, frame).sum(1)
    quietest = int(np.argmin(energy))
    return len(samples) - search + (quietest + 1) * frame


def audio_windows(
    audio: ExtractedAudio, window_seconds: float = WINDOW_SECONDS
) -> Iterator[AudioWindow]:
    """The audio in consecutive windows of at most ``window_seconds``, each cut at a quiet
    moment; only one window is in memory at a time."""
    window = int(window_seconds * SAMPLE_RATE)
    start = 0
    with audio.path.open("rb") as reader:
        while start < audio.samples:
            reader.seek(start * BYTES_PER_SAMPLE)
            raw = np.frombuffer(reader.read(window * BYTES_PER_SAMPLE), dtype="<i2")
            if len(raw) == 0:
                return
            end = len(raw) if start + len(raw) >= audio.samples else _quietest_cut(raw)
            yield AudioWindow(start / SAMPLE_RATE, raw[:end].astype(np.float32) / 32768.0)
            start += end
