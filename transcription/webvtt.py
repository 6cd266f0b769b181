"""WebVTT (W3C) rendering of a transcript, for players and subtitle tools."""

from __future__ import annotations

from transcription.records import Transcript


def vtt_timestamp(seconds: float) -> str:
    """``HH:MM:SS.mmm`` (hours always present: broadcasts run past an hour)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(text: str) -> str:
    """Cue payload: ``&``, ``<`` and ``>`` escaped, no blank lines, no ``-->``."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    lines = [line.strip() for line in escaped.splitlines() if line.strip()]
    return "\n".join(lines) or "…"


def render_webvtt(transcript: Transcript) -> bytes:
    """The transcript's segments as WebVTT cues, with a NOTE naming the media and model."""
    lines = [
        "WEBVTT",
        "",
        f"NOTE media sha256 {transcript.media_sha256}; model {transcript.model.id} "
        f"(model.bin sha256 {transcript.model.sha256}); language {transcript.language or 'und'}",
        "",
    ]
    for segment in transcript.segments:
        end = max(segment.end, segment.start + 0.001)
        lines += [
            str(segment.id),
            f"{vtt_timestamp(segment.start)} --> {vtt_timestamp(end)}",
            _cue_text(segment.text),
            "",
        ]
    return "\n".join(lines).encode("utf-8")
