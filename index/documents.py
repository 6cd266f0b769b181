"""Index documents derived from capture manifests; ids are deterministic so re-indexing never
duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from archive.manifest import CaptureManifest
from index.language import UNDETERMINED, detect_language
from transcription.records import Transcript, TranscriptRecord


@dataclass(frozen=True)
class Document:
    """One searchable unit: a page's text, a post, or a transcript segment (which adds the
    media's hash and the segment's start and end in seconds)."""

    id: str
    kind: str
    source: str
    url: str
    capture_id: str
    title: str
    text: str
    lang: str
    captured_at: datetime
    published_at: datetime | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    media_sha256: str | None = None
    start: float | None = None
    end: float | None = None


def capture_document(manifest: CaptureManifest, text: str, tags: tuple[str, ...] = ()) -> Document:
    """The document of one capture: a page, or a post (kind ``post``, dated when published);
    its language is detected from its text (the title when there is none)."""
    kind = "post" if manifest.post is not None else "page"
    title = manifest.text.title if manifest.text else ""
    return Document(
        id=f"{kind}:{manifest.capture_id}",
        kind=kind,
        source=manifest.source_id,
        url=manifest.final_url,
        capture_id=manifest.capture_id,
        title=title,
        text=text,
        lang=detect_language(text if text.strip() else title),
        captured_at=manifest.captured_at,
        published_at=manifest.post.posted_at if manifest.post is not None else None,
        tags=tags,
    )


def transcript_documents(
    record: TranscriptRecord,
    transcript: Transcript,
    manifest: CaptureManifest,
    tags: tuple[str, ...] = (),
) -> list[Document]:
    """One document per transcript segment, filed under the capture the media came from; ids
    name the media, the model and the segment, so re-indexing replaces rather than adds.

    Each segment's language is detected from its words; a segment too short to tell keeps
    the language the recogniser heard in the file."""
    media = next((m for m in manifest.media if m.sha256 == record.media_sha256), None)
    url = media.url if media is not None else manifest.final_url
    title = (media.title if media is not None else None) or manifest.final_url
    return [
        Document(
            id=f"transcript:{record.media_sha256}:{record.model_id}:{segment.id}",
            kind="transcript",
            source=manifest.source_id,
            url=url,
            capture_id=manifest.capture_id,
            title=title,
            text=segment.text,
            lang=_segment_language(segment.text, transcript.language),
            captured_at=manifest.captured_at,
            tags=tags,
            media_sha256=record.media_sha256,
            start=segment.start,
            end=segment.end,
        )
        for segment in transcript.segments
    ]


def _segment_language(text: str, heard: str | None) -> str:
    detected = detect_language(text)
    return detected if detected != UNDETERMINED else (heard or UNDETERMINED)
