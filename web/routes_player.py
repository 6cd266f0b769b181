"""The transcript player: the media from the archive, its transcript beside it; a segment
seeks the player, and ``?t=`` (a search hit's start) opens it at that second."""

from __future__ import annotations

import math

from fastapi import APIRouter, Request
from fastapi.responses import Response

from archive.store import ObjectNotFoundError
from transcription.records import Transcript, TranscriptRecord
from web.capture_page import SHA256, transcripts_of
from web.markup import seconds_label
from web.pages import Investigator, NotFoundError, render, state_of
from web.routes_capture import capture_or_404, record_receipt

router = APIRouter()


def _pick(records: list[TranscriptRecord], model: str | None) -> TranscriptRecord | None:
    if model is not None:
        return next((r for r in records if r.model_id == model), None)
    return max(records, key=lambda r: r.created_at, default=None)


@router.get("/captures/{capture_id}/play/{media_sha256}")
def player(
    request: Request,
    capture_id: str,
    media_sha256: str,
    viewer: Investigator,
    t: float = 0.0,
    model: str | None = None,
) -> Response:
    capture = capture_or_404(request, capture_id)
    media = next((m for m in capture.manifest.media if m.sha256 == media_sha256), None)
    if media is None or not SHA256.fullmatch(media_sha256):
        raise NotFoundError
    state = state_of(request)
    record = _pick(transcripts_of(state.store, media_sha256), model)
    transcript: Transcript | None = None
    if record is not None:
        try:
            transcript = Transcript.model_validate_json(
                state.store.read_bytes(record.transcript.key)
            )
        except (ObjectNotFoundError, ValueError):
            transcript = None
    if record is not None and transcript is not None:
        # The page shows the whole transcript: evidence derived from the media.
        key = record.transcript.key
        record_receipt(request, viewer, capture, "viewed", key, "whole", part="transcript")
    start = t if math.isfinite(t) and t >= 0 else 0.0
    current = None
    if transcript is not None:
        current = next(
            (s.id for s in transcript.segments if s.start <= start + 0.05 < s.end + 0.05), None
        )
    return render(
        request,
        "player.html",
        viewer,
        capture=capture,
        m=capture.manifest,
        media=media,
        record=record,
        transcript=transcript,
        start=start,
        current=current,
        label=seconds_label,
        is_audio=media.has_video is False,
    )


@router.get("/captures/{capture_id}/captions/{media_sha256}/{model_id}.vtt")
def captions(
    request: Request,
    capture_id: str,
    media_sha256: str,
    model_id: str,
    viewer: Investigator,
) -> Response:
    capture = capture_or_404(request, capture_id)
    if not any(m.sha256 == media_sha256 for m in capture.manifest.media):
        raise NotFoundError
    record = _pick(transcripts_of(state_of(request).store, media_sha256), model_id)
    if record is None:
        raise NotFoundError
    body = state_of(request).store.read_bytes(record.webvtt.key)
    record_receipt(request, viewer, capture, "viewed", record.webvtt.key, "whole", part="captions")
    return Response(body, media_type="text/vtt; charset=utf-8")
