"""ffprobe's view of a media file: duration, container, streams.

Every media file the archive keeps is probed, so a file that is not media (an HTML error page
under a video's name), truncated or corrupt is caught with ffprobe's own words, and the
manifest says how long it is and whether it has sound.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CorruptMediaError", "MediaProbe", "probe_media"]

PROBE_TIMEOUT_SECONDS = 60.0


class CorruptMediaError(Exception):
    """ffprobe cannot read the file as media; ``stderr`` is what it said."""

    def __init__(self, message: str, *, path: Path, stderr: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.stderr = stderr


@dataclass(frozen=True)
class MediaProbe:
    """ffprobe's view of a file."""

    duration: float | None
    format_name: str
    has_video: bool
    has_audio: bool
    width: int | None
    height: int | None
    video_codec: str | None
    audio_codec: str | None
    ffprobe: dict[str, Any] = field(repr=False)  # the full JSON, kept as provenance


def probe_media(path: Path, *, timeout: float = PROBE_TIMEOUT_SECONDS) -> MediaProbe:
    """Read ``path`` with ffprobe: duration, container, streams.

    Raises ``CorruptMediaError`` (with ffprobe's stderr) for truncated or corrupt files and for
    files that hold no audio or video at all, e.g. an HTML page saved under a media name.
    """
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        raise RuntimeError("ffprobe is not installed; `make system-deps` installs it")
    command = [
        ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
        "--", str(path),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise CorruptMediaError(f"ffprobe timed out after {timeout:g} s", path=path) from err
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0:
        raise CorruptMediaError(
            f"ffprobe cannot read {path.name}: {stderr or f'exit {done.returncode}'}",
            path=path,
            stderr=stderr,
        )
    try:
        report = json.loads(done.stdout)
    except ValueError as err:
        raise CorruptMediaError("ffprobe printed no JSON", path=path, stderr=stderr) from err
    streams = report.get("streams") or []
    # Cover art in audio files is a one-frame "video" stream; it does not make a video.
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        raise CorruptMediaError(
            f"{path.name} holds no audio or video stream", path=path, stderr=stderr
        )
    container = report.get("format") or {}
    duration = float_or_none(container.get("duration"))
    if duration is None:
        duration = max(
            filter(None, (float_or_none(s.get("duration")) for s in streams)), default=None
        )
    return MediaProbe(
        duration=duration,
        format_name=str(container.get("format_name") or ""),
        has_video=bool(video),
        has_audio=bool(audio),
        width=int_or_none(video[0].get("width")) if video else None,
        height=int_or_none(video[0].get("height")) if video else None,
        video_codec=str_or_none(video[0].get("codec_name")) if video else None,
        audio_codec=str_or_none(audio[0].get("codec_name")) if audio else None,
        ffprobe=report,
    )


def float_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def int_or_none(value: Any) -> int | None:
    """A finite number as an int; anything else (text, bool, NaN) None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if math.isfinite(value) else None


def str_or_none(value: Any) -> str | None:
    """Text, with the empty values yt-dlp and ffprobe use ("", "none") as None."""
    return None if value in (None, "", "none") else str(value)
