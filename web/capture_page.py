"""What the capture page shows, gathered from the manifest, the store and the custody log."""

from __future__ import annotations

import difflib
import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from archive.manifest import CaptureManifest
from archive.store import ObjectNotFoundError, ObjectStore
from transcription.records import TranscriptRecord
from web.catalog import AccessRow, CatalogEntry
from web.custody_view import VerifiedChain
from web.state import AppState

CAPTURE_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SHA256 = re.compile(r"[0-9a-f]{64}")
MAX_TEXT_CHARS = 200_000
MISSING_RECHECK_SECONDS = 5.0


class CaptureNotFoundError(LookupError):
    pass


class CaptureDamagedError(Exception):
    """The capture's manifest no longer reads as a manifest: a finding for the audit."""


@dataclass(frozen=True)
class LoadedCapture:
    entry: CatalogEntry
    manifest: CaptureManifest
    manifest_sha256: str


def load_capture(state: AppState, capture_id: str) -> LoadedCapture:
    """The capture's manifest, looked up in the catalogue (refreshed once if it is unknown:
    a capture stored a moment ago may not be listed yet)."""
    if not CAPTURE_ID.fullmatch(capture_id):
        raise CaptureNotFoundError(capture_id)
    entry = state.catalog.get(capture_id)
    if entry is None and time.monotonic() - state.catalog.last_refresh > MISSING_RECHECK_SECONDS:
        state.catalog.refresh()
        entry = state.catalog.get(capture_id)
    if entry is None:
        raise CaptureNotFoundError(capture_id)
    try:
        data = state.store.read_bytes(entry.manifest_key)
    except ObjectNotFoundError:
        raise CaptureNotFoundError(capture_id) from None
    try:
        manifest = CaptureManifest.model_validate_json(data)
    except ValueError as err:
        raise CaptureDamagedError(
            f"the manifest {entry.manifest_key} cannot be read ({type(err).__name__});"
            " run `osint-archive audit`"
        ) from err
    return LoadedCapture(entry, manifest, hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class HashRow:
    label: str
    sha256: str
    key: str


def hash_rows(capture: LoadedCapture) -> list[HashRow]:
    """Every digest the capture names, with the object it belongs to."""
    m = capture.manifest
    rows = [
        HashRow("manifest", capture.manifest_sha256, capture.entry.manifest_key),
        HashRow("payload (HTTP body)", m.payload_sha256, m.warc.key),
        HashRow(f"WARC file {m.warc.filename}", m.warc.sha256, m.warc.key),
        HashRow("source options", m.source_options.sha256, m.source_options.key),
    ]
    if m.text is not None:
        rows.append(HashRow("extracted text", m.text.sha256, m.text.key))
    if m.post is not None:
        rows.append(HashRow("post record", m.post.sha256, m.post.key))
    if m.browser is not None:
        rows.append(HashRow("screenshot", m.browser.screenshot.sha256, m.browser.screenshot.key))
        rows.append(HashRow("rendered DOM", m.browser.dom.sha256, m.browser.dom.key))
    for media in m.media:
        rows.append(HashRow(f"media {media.url}", media.sha256, media.key))
    return rows


def read_text(store: ObjectStore, manifest: CaptureManifest) -> str | None:
    if manifest.text is None:
        return None
    try:
        with store.open(manifest.text.key) as stream:
            data = stream.read(MAX_TEXT_CHARS * 4)
    except ObjectNotFoundError:
        return None
    return data.decode("utf-8", errors="replace")[:MAX_TEXT_CHARS]


def transcripts_of(store: ObjectStore, media_sha256: str) -> list[TranscriptRecord]:
    records = []
    for key in store.list_keys(f"transcripts/{media_sha256}/"):
        try:
            records.append(TranscriptRecord.model_validate_json(store.read_bytes(key)))
        except (ObjectNotFoundError, ValueError):
            continue
    return records


def custody_of(
    state: AppState, capture: LoadedCapture
) -> tuple[VerifiedChain, list[dict[str, Any]], list[AccessRow]]:
    """The source chain verified, its events that name this capture, and the latest views
    and downloads of it."""
    m = capture.manifest
    wanted = {m.capture_id, capture.entry.manifest_key, m.warc.key}
    wanted |= {media.sha256 for media in m.media}
    chain, events = state.custody.events_naming(m.source_id, wanted)
    return chain, events, state.catalog.access_events(m.capture_id)


@dataclass(frozen=True)
class Requested:
    """One ``requested`` custody event of a capture: who asked for it, through what, why."""

    user: str
    via: str  # cli, web or airflow
    note: str
    at: str


def requests_of(events: list[dict[str, Any]], capture_id: str) -> list[Requested]:
    """The requests answered by this capture, oldest first: the one that made it, and any
    later one answered with it within the reuse window."""
    found = []
    for event in events:
        details = event.get("details")
        if event.get("type") != "requested" or not isinstance(details, dict):
            continue
        if details.get("capture_id") != capture_id:
            continue
        found.append(
            Requested(
                str(details.get("requested_by", "")),
                str(details.get("via", "")),
                str(details.get("note", "")),
                str(event.get("at", "")),
            )
        )
    return found


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "add", "remove", "context", "hunk"
    text: str


def text_diff(old: str, new: str, context: int = 3) -> list[DiffLine]:
    """A line diff of two extracted texts (unified, with a little context)."""
    lines: list[DiffLine] = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=context):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            lines.append(DiffLine("hunk", line))
        elif line.startswith("+"):
            lines.append(DiffLine("add", line[1:]))
        elif line.startswith("-"):
            lines.append(DiffLine("remove", line[1:]))
        else:
            lines.append(DiffLine("context", line[1:]))
    return lines
