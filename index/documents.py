"""Index documents derived from capture manifests; ids are deterministic so re-indexing never
duplicates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from archive.manifest import CaptureManifest


@dataclass(frozen=True)
class Document:
    """One searchable unit: a page's text (later also a post or a transcript segment)."""

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


def capture_document(manifest: CaptureManifest, text: str, tags: tuple[str, ...] = ()) -> Document:
    """The document of one capture: a page, or a post (kind ``post``, dated when published)."""
    kind = "post" if manifest.post is not None else "page"
    return Document(
        id=f"{kind}:{manifest.capture_id}",
        kind=kind,
        source=manifest.source_id,
        url=manifest.final_url,
        capture_id=manifest.capture_id,
        title=manifest.text.title if manifest.text else "",
        text=text,
        lang=manifest.lang or "und",
        captured_at=manifest.captured_at,
        published_at=manifest.post.posted_at if manifest.post is not None else None,
        tags=tags,
    )
