"""Capture manifests: one immutable JSON record per captured URL, the same schema for all kinds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from archive.keys import manifest_key
from archive.store import ObjectStore

SCHEMA_VERSION = 1


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Hop(Record):
    """One response of a redirect chain."""

    url: str
    status: int
    ip_address: str | None
    fetched_at: datetime
    response_record_id: str


class TlsCertificate(Record):
    sha256_fingerprint: str
    subject: str
    issuer: str
    not_after: str
    protocol: str


class OriginalRecord(Record):
    """For a revisit: the stored response record that holds the identical payload."""

    warc_key: str
    record_id: str
    offset: int | None = None
    length: int | None = None


class WarcLocation(Record):
    """The WARC object holding the capture, and where its records are."""

    key: str
    sha256: str
    # A plain file name: it becomes a path inside exported packages.
    filename: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    # The record holding the capture's main evidence: the page's response (or a revisit of an
    # identical one); a post's JSON ``resource`` record; for a media file kept as an object,
    # the ``metadata`` record of its download.
    record_type: Literal["response", "revisit", "resource", "metadata"]
    response_record_id: str
    request_record_id: str
    metadata_record_id: str
    offset: int
    length: int
    refers_to: OriginalRecord | None = None  # set for revisits


class TextArtefact(Record):
    """Main text extracted for the index, stored as its own payload."""

    key: str
    sha256: str
    title: str
    chars: int
    charset: str
    extractor: str


class ObjectRef(Record):
    """A stored object named by key and digest."""

    key: str
    sha256: str


class ResourceEntry(Record):
    """One request a rendering browser made, and where its response record is."""

    url: str
    method: str = "GET"
    status: int
    content_type: str | None = None
    payload_sha256: str
    size: int
    response_record_id: str
    truncated: str | None = None


class FailedRequest(Record):
    url: str
    reason: str


class BrowserArtefacts(Record):
    """What rendering the page in a browser added to the capture."""

    browser: str
    title: str = ""
    final_url: str
    screenshot: ObjectRef
    screenshot_record_id: str
    dom: ObjectRef
    dom_record_id: str
    resources: list[ResourceEntry] = Field(default_factory=list)
    failed_requests: list[FailedRequest] = Field(default_factory=list)
    # Dialogs dismissed, popups closed, downloads refused, caps reached.
    notes: list[str] = Field(default_factory=list)
    elapsed_seconds: float


class MediaArtefact(Record):
    """A media file (video, audio, photo) kept as its own content-addressed object, so the same
    file found on several pages is stored once."""

    key: str
    sha256: str
    size: int
    url: str  # where the bytes were downloaded from
    content_type: str | None = None
    duration_seconds: float | None = None
    has_audio: bool | None = None
    has_video: bool | None = None
    width: int | None = None
    height: int | None = None
    container: str | None = None
    title: str | None = None
    extractor: str | None = None  # the yt-dlp extractor, or "direct"
    downloader: str  # e.g. "osint-archive-http" or "yt-dlp/2026.10.26 (m3u8_native)"
    info_json: ObjectRef | None = None  # yt-dlp's metadata, as it gave it
    subtitles: dict[str, ObjectRef] = Field(default_factory=dict)
    thumbnail: ObjectRef | None = None
    request_record_id: str | None = None  # the WARC request/metadata records of the download
    metadata_record_id: str | None = None
    problem: str | None = None  # e.g. "no audio track"


class PostArtefact(Record):
    """A Telegram post parsed from a preview page, stored as its own JSON record."""

    key: str
    sha256: str
    record_id: str  # the WARC resource record holding the same JSON
    channel: str
    message_id: int
    permalink: str
    posted_at: datetime | None = None
    views: int | None = None
    edited: bool = False
    problems: list[str] = Field(default_factory=list)


class PreviousCapture(Record):
    capture_id: str
    manifest_key: str
    captured_at: datetime


class CaptureManifest(Record):
    """What was captured, when, from where, by which tools, and where the bytes are."""

    schema_version: int = SCHEMA_VERSION
    capture_id: str
    kind: Literal["web", "telegram", "video"]
    source_id: str
    run_id: str
    requested_url: str
    final_url: str
    depth: int
    status: int
    captured_at: datetime
    ip_address: str | None
    content_type: str | None
    payload_sha256: str
    payload_size: int
    truncated: str | None = None
    # Every hop when the request was redirected; empty when the first response was final.
    redirect_chain: list[Hop] = Field(default_factory=list)
    tls: TlsCertificate | None = None
    warc: WarcLocation
    text: TextArtefact | None = None
    text_problem: str | None = None
    text_status: Literal["new", "changed", "unchanged", "none"] = "none"
    changed: bool = False
    previous_capture: PreviousCapture | None = None
    lang: str | None = None  # filled by language detection at indexing time
    browser: BrowserArtefacts | None = None  # web sources with ``browser: true``
    post: PostArtefact | None = None  # Telegram: this capture is one post
    media: list[MediaArtefact] = Field(default_factory=list)
    robots_policy: Literal["obey", "ignore"]
    operator: str = ""
    tools: dict[str, str] = Field(default_factory=dict)
    # The source options in force, stored once as a content-addressed JSON object (every
    # capture of a run shares it; re-crawls with the same options store nothing new).
    source_options: ObjectRef

    @property
    def key(self) -> str:
        return manifest_key(self.source_id, self.run_day, self.capture_id)

    def object_refs(self) -> list[tuple[str, str]]:
        """(key, sha256) of every stored object this capture names: WARC, options, text,
        post record, media with their metadata, subtitles and thumbnails, screenshot, DOM."""
        refs: list[ObjectRef] = [ObjectRef(key=self.warc.key, sha256=self.warc.sha256)]
        refs.append(self.source_options)
        if self.text is not None:
            refs.append(ObjectRef(key=self.text.key, sha256=self.text.sha256))
        if self.post is not None:
            refs.append(ObjectRef(key=self.post.key, sha256=self.post.sha256))
        if self.browser is not None:
            refs += [self.browser.screenshot, self.browser.dom]
        for media in self.media:
            refs.append(ObjectRef(key=media.key, sha256=media.sha256))
            refs += [ref for ref in (media.info_json, media.thumbnail) if ref is not None]
            refs += media.subtitles.values()
        return [(ref.key, ref.sha256) for ref in refs]

    @property
    def run_day(self) -> datetime:
        """Manifests are filed under the day their run started, so a resumed run finds them."""
        return datetime.strptime(self.run_id[:8], "%Y%m%d")

    def to_json_bytes(self) -> bytes:
        """Canonical compact JSON: sorted keys, UTF-8, absent fields left out (they read back as
        their defaults); these are the bytes that custody events hash."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data["schema_version"] = self.schema_version
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
            "utf-8"
        )


def write_manifest(store: ObjectStore, manifest: CaptureManifest) -> bool:
    """Store the manifest once; True when created, False when the identical one existed."""
    return store.put_record(manifest.key, manifest.to_json_bytes())


def read_manifest(store: ObjectStore, key: str) -> CaptureManifest:
    return CaptureManifest.model_validate_json(store.read_bytes(key))


def iter_manifest_keys(store: ObjectStore, source_id: str | None = None) -> list[str]:
    prefix = f"captures/{source_id}/" if source_id else "captures/"
    return [key for key in store.list_keys(prefix) if key.endswith(".json")]
