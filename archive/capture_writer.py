"""Archive fetched pages: WARC records, revisits, extracted text, manifests, custody events.

Pages are written into the current WARC segment as they arrive. Every ``segment_pages`` pages
(and at the end) the segment is committed in an order that keeps the archive consistent
after a crash at any point: WARC object, the segment's links (run state, for a resumed crawl),
text objects, manifests, custody events, URL state, index. A crash loses at most the
uncommitted segment, which a resumed run fetches again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from archive.capture_extras import (
    MediaDownload,
    PostItem,
    RenderedExtras,
    write_media_exchange,
    write_post,
    write_rendered,
    write_request,
    write_response,
)
from archive.custody import CustodyEvent, CustodyLog
from archive.keys import manifest_key
from archive.manifest import (
    BrowserArtefacts,
    CaptureManifest,
    Hop,
    MediaArtefact,
    ObjectRef,
    OriginalRecord,
    PostArtefact,
    PreviousCapture,
    TextArtefact,
    TlsCertificate,
    WarcLocation,
    write_manifest,
)
from archive.store import ObjectStore, put_payload_bytes
from archive.url_state import StoredResponse, UrlState, load_url_state, save_url_state
from archive.versions import capture_tools, software_string, tool_versions
from archive.warc import RecordRef, WarcFileWriter, warc_date
from collectors.http_fetch import FetchResult, HttpExchange
from collectors.page_text import PageText, extractor_version


class CommitError(Exception):
    """A segment could not be committed; the run must stop and be resumed by the next pass."""


POST_TEXT_EXTRACTOR = "osint-archive telegram preview parser"
CAPTURE_NAMESPACE = uuid.UUID("5b0c2f55-8f0e-4a6e-9d7a-2a6f0b1c9e41")


def capture_id_for(source_id: str, run_id: str, url: str) -> str:
    """Deterministic capture id: the same run capturing the same URL gets the same id."""
    return str(uuid.uuid5(CAPTURE_NAMESPACE, f"{source_id}\n{run_id}\n{url}"))


def run_links_prefix(source_id: str, run_id: str) -> str:
    """Where a run keeps, per committed segment, the depth and in-scope links of each page.

    A resumed crawl rebuilds its frontier from these; they are derived from the WARC, so they
    are state, not evidence.
    """
    return f"state/runs/{source_id}/{run_id}/"


@dataclass
class PageCapture:
    """What a collector hands over for one requested URL."""

    result: FetchResult
    depth: int
    page_text: PageText | None = None
    text_problem: str | None = None
    outlinks: Sequence[str] = ()
    rendered: RenderedExtras | None = None  # browser capture: all it loaded, screenshot, DOM
    posts: Sequence[PostItem] = ()  # Telegram: each post becomes a capture of its own
    media: Sequence[MediaDownload] = ()  # media found on the page, stored as objects
    # The final response's body is itself a media object (a direct media URL): the WARC gets
    # its request and a metadata record naming the object instead of a second copy.
    payload_object: MediaDownload | None = None


@dataclass
class CaptureStats:
    pages: int = 0
    revisits: int = 0
    changed: int = 0
    new_bytes: int = 0
    segments: int = 0


@dataclass
class _PendingPost:
    item: PostItem
    artefact: PostArtefact
    record: RecordRef
    media: list[MediaArtefact]


@dataclass
class _Pending:
    page: PageCapture
    capture_id: str
    record_type: str
    hop_refs: list[tuple[RecordRef, RecordRef]]
    metadata_ref: RecordRef
    previous: UrlState | None
    text_sha256: str | None
    browser: BrowserArtefacts | None = None
    media: list[MediaArtefact] = field(default_factory=list)
    posts: list[_PendingPost] = field(default_factory=list)


@dataclass
class CaptureRun:
    """The source and run a writer records into."""

    source_id: str
    kind: str
    run_id: str
    robots_policy: str
    operator: str
    options: dict[str, object] = field(default_factory=dict)
    browser: bool = False

    @property
    def run_day(self) -> datetime:
        return datetime.strptime(self.run_id[:8], "%Y%m%d")


class CaptureWriter:
    """Writes one run's pages into WARC segments and commits them with their manifests."""

    def __init__(
        self,
        store: ObjectStore,
        run: CaptureRun,
        custody: CustodyLog,
        on_committed: Callable[[list[CaptureManifest], dict[str, str]], None] | None = None,
        segment_pages: int = 100,
    ) -> None:
        self.store = store
        self.run = run
        self.custody = custody
        self.on_committed = on_committed
        self.segment_pages = segment_pages
        self.stats = CaptureStats()
        self._warc: WarcFileWriter | None = None
        self._pending: list[_Pending] = []
        self._pending_ids: set[str] = set()
        # A resumed run numbers its WARC files after those it committed before the crash.
        self._segments_before = len(
            list(store.list_keys(run_links_prefix(run.source_id, run.run_id)))
        )
        options = json.dumps(run.options, sort_keys=True, ensure_ascii=False).encode("utf-8")
        stored = put_payload_bytes(store, options, "application/json")
        self.options_ref = ObjectRef(key=stored.key, sha256=stored.sha256)
        if stored.created:
            self.stats.new_bytes += stored.size

    def _segment(self) -> WarcFileWriter:
        if self._warc is None:
            self.stats.segments += 1
            number = self._segments_before + self.stats.segments
            name = f"{self.run.source_id}-{self.run.run_id}-{number:05d}.warc.gz"
            self._warc = WarcFileWriter(self.store, name)
            self._warc.write_warcinfo(
                {
                    "software": software_string(),
                    "format": "WARC File Format 1.1",
                    "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                    "operator": self.run.operator,
                    "isPartOf": self.run.source_id,
                    "x-osint-archive-run-id": self.run.run_id,
                    "robots": self.run.robots_policy,
                    "tools": ", ".join(f"{k}/{v}" for k, v in tool_versions().items()),
                }
            )
        return self._warc

    def add(self, page: PageCapture) -> None:
        """Write a page's records now; its manifest follows at the next commit."""
        result = page.result
        capture_id = capture_id_for(self.run.source_id, self.run.run_id, result.requested_url)
        if self._already_captured(capture_id):
            # A resumed run fetches some URLs it already captured again (robots.txt, which it
            # must read; pages queued anew): their manifests exist, and would clash if rewritten.
            result.close()
            return
        self._pending_ids.add(capture_id)
        final = result.final
        previous = load_url_state(self.store, self.run.source_id, final.url)
        warc = self._segment()
        hop_refs = []
        record_type = "response"
        media: list[MediaArtefact] = []
        for hop in result.hops:
            is_final = hop is final
            if is_final and page.payload_object is not None:
                artefact, meta_ref, req_ref = write_media_exchange(warc, page.payload_object)
                assert meta_ref is not None and req_ref is not None
                media.append(artefact)
                hop_refs.append((meta_ref, req_ref))
                record_type = "metadata"
                continue
            if is_final and self._can_revisit(hop, previous):
                assert previous is not None
                response_ref = warc.write_revisit(
                    hop.url,
                    hop.response_head,
                    hop.payload_sha256,
                    previous.original.uri,
                    previous.original.warc_date,
                    previous.original.record_id,
                    hop.fetched_at,
                    hop.ip_address,
                )
                record_type = "revisit"
            else:
                response_ref = write_response(warc, hop)
            request_ref = write_request(warc, hop, response_ref.record_id)
            hop_refs.append((response_ref, request_ref))
        metadata_ref = warc.write_metadata(
            final.url, self._metadata(page), final.fetched_at, hop_refs[-1][0].record_id
        )
        text_sha = None
        if page.page_text is not None and page.page_text.text:
            text_sha = hashlib.sha256(page.page_text.text.encode("utf-8")).hexdigest()
        pending = _Pending(
            page, capture_id, record_type, hop_refs, metadata_ref, previous, text_sha
        )
        self._write_extras(warc, pending)
        pending.media[:0] = media
        self._pending.append(pending)
        self.stats.pages += 1
        self.stats.revisits += record_type == "revisit"
        if len(self._pending) >= self.segment_pages:
            self.commit()

    def _write_extras(self, warc: WarcFileWriter, pending: _Pending) -> None:
        """Browser, media and post records that follow the page's own."""
        page = pending.page
        page_record = pending.hop_refs[-1][0].record_id
        if page.rendered is not None:
            browser, new_bytes = write_rendered(warc, self.store, page.rendered, page_record)
            pending.browser = browser
            self.stats.new_bytes += new_bytes
        pending.media = [write_media_exchange(warc, m)[0] for m in page.media]
        for post in page.posts:
            moment = page.result.final.fetched_at
            artefact, record, new_bytes = write_post(warc, self.store, post, moment, page_record)
            self.stats.new_bytes += new_bytes
            post_media = [write_media_exchange(warc, m)[0] for m in post.media]
            pending.posts.append(_PendingPost(post, artefact, record, post_media))

    def _already_captured(self, capture_id: str) -> bool:
        if capture_id in self._pending_ids:
            return True
        return self.store.exists(manifest_key(self.run.source_id, self.run.run_day, capture_id))

    @staticmethod
    def _can_revisit(hop: HttpExchange, previous: UrlState | None) -> bool:
        return (
            previous is not None
            and hop.truncated is None
            and previous.original.payload_sha256 == hop.payload_sha256
            and previous.original.status == hop.status
        )

    def _metadata(self, page: PageCapture) -> dict[str, object]:
        """What the page's metadata record says; source and run are in the file's warcinfo."""
        result = page.result
        final = result.final
        fields: dict[str, object] = {
            "requested_url": result.requested_url,
            "attempts": result.attempts,
            "elapsed_seconds": round(final.elapsed_seconds, 3),
        }
        if len(result.hops) > 1:
            fields["redirect_chain"] = [
                {"url": hop.url, "status": hop.status, "location": hop.header("Location")}
                for hop in result.hops
            ]
        if final.tls:
            fields["tls"] = vars(final.tls)
        if final.truncated:
            fields["truncated"] = final.truncated
        return fields

    def commit(self) -> None:
        """Store the segment, then its manifests, custody events, URL state and index.

        Any failure is raised as ``CommitError``: the crawl stops with its run still open, so
        the next pass resumes it and recovers what this commit left undone.
        """
        if self._warc is None:
            return
        try:
            self._commit_segment(self._warc)
        except Exception as err:
            raise CommitError(f"committing {self._warc.filename} failed: {err}") from err
        finally:
            self._warc = None

    def _commit_segment(self, warc: WarcFileWriter) -> None:
        warc_object = warc.close()
        warc_name = warc.filename
        pending, self._pending = self._pending, []
        self._pending_ids.clear()
        if warc_object.created:
            self.stats.new_bytes += warc_object.size
        links = {
            item.page.result.requested_url: [item.page.depth, list(item.page.outlinks)]
            for item in pending
        }
        self.store.put_state(
            f"{run_links_prefix(self.run.source_id, self.run.run_id)}{warc_object.sha256}.json",
            json.dumps(links, ensure_ascii=False).encode("utf-8"),
        )
        manifests = []
        page_manifests = []  # one per page, for URL state; posts come after their page
        texts: dict[str, str] = {}
        captures = []
        for item in pending:
            manifest = self._manifest(item, warc_object.key, warc_object.sha256, warc_name)
            data = manifest.to_json_bytes()
            if write_manifest(self.store, manifest):
                self.stats.new_bytes += len(data)
            manifests.append(manifest)
            page_manifests.append(manifest)
            captures.append([manifest.capture_id, hashlib.sha256(data).hexdigest()])
            if manifest.text is not None and item.page.page_text is not None:
                texts[manifest.capture_id] = item.page.page_text.text
            for post in item.posts:
                post_manifest = self._post_manifest(manifest, post)
                data = post_manifest.to_json_bytes()
                if write_manifest(self.store, post_manifest):
                    self.stats.new_bytes += len(data)
                manifests.append(post_manifest)
                captures.append([post_manifest.capture_id, hashlib.sha256(data).hexdigest()])
                if post_manifest.text is not None:
                    texts[post_manifest.capture_id] = post.item.text
        events = segment_events(warc_object.key, warc_object.sha256, warc_name, captures)
        self.custody.append(events)
        for item, manifest in zip(pending, page_manifests, strict=True):
            self._save_state(item, manifest)
        try:
            if self.on_committed is not None:
                self.on_committed(manifests, texts)
        finally:
            for item in pending:
                item.page.result.close()

    def _manifest(
        self, item: _Pending, warc_key: str, warc_sha: str, warc_name: str
    ) -> CaptureManifest:
        page = item.page
        result = page.result
        final = result.final
        text_artefact = None
        text_status = "none"
        changed = False
        if page.page_text is not None and item.text_sha256 is not None:
            text = page.page_text
            text_artefact = self._store_text(
                text.text, text.title, text.charset, extractor_version()
            )
            last_text = item.previous.last_text_sha256 if item.previous else None
            if item.previous is None or last_text is None:
                text_status = "new"
            elif last_text == item.text_sha256:
                text_status = "unchanged"
            else:
                text_status, changed = "changed", True
                self.stats.changed += 1
        previous = None
        if item.previous is not None:
            previous = PreviousCapture(
                capture_id=item.previous.last_capture_id,
                manifest_key=item.previous.last_manifest_key,
                captured_at=item.previous.last_captured_at,
            )
        response_ref, request_ref = item.hop_refs[-1]
        tls = final.tls
        return CaptureManifest(
            capture_id=item.capture_id,
            kind=self.run.kind,  # type: ignore[arg-type]
            source_id=self.run.source_id,
            run_id=self.run.run_id,
            requested_url=result.requested_url,
            final_url=final.url,
            depth=page.depth,
            status=final.status,
            captured_at=final.fetched_at,
            ip_address=final.ip_address,
            content_type=final.header("Content-Type"),
            payload_sha256=final.payload_sha256,
            payload_size=final.body_size,
            truncated=final.truncated,
            redirect_chain=[]
            if len(result.hops) == 1
            else [
                Hop(
                    url=hop.url,
                    status=hop.status,
                    ip_address=hop.ip_address,
                    fetched_at=hop.fetched_at,
                    response_record_id=refs[0].record_id,
                )
                for hop, refs in zip(result.hops, item.hop_refs, strict=True)
            ],
            tls=TlsCertificate(**vars(tls)) if tls else None,
            warc=WarcLocation(
                key=warc_key,
                sha256=warc_sha,
                filename=warc_name,
                record_type=item.record_type,  # type: ignore[arg-type]
                response_record_id=response_ref.record_id,
                request_record_id=request_ref.record_id,
                metadata_record_id=item.metadata_ref.record_id,
                offset=response_ref.offset,
                length=response_ref.length,
                refers_to=self._original_record(item),
            ),
            text=text_artefact,
            text_problem=page.text_problem,
            browser=item.browser,
            media=item.media,
            text_status=text_status,  # type: ignore[arg-type]
            changed=changed,
            previous_capture=previous,
            robots_policy=self.run.robots_policy,  # type: ignore[arg-type]
            operator=self.run.operator,
            tools=capture_tools(self.run.kind, self.run.browser),
            source_options=self.options_ref,
        )

    def _store_text(self, text: str, title: str, charset: str, extractor: str) -> TextArtefact:
        """Store the text the index gets, as its own payload, and describe it."""
        stored = put_payload_bytes(self.store, text.encode("utf-8"), "text/plain; charset=utf-8")
        if stored.created:
            self.stats.new_bytes += stored.size
        return TextArtefact(
            key=stored.key,
            sha256=stored.sha256,
            title=title,
            chars=len(text),
            charset=charset,
            extractor=extractor,
        )

    def _post_manifest(self, page: CaptureManifest, post: _PendingPost) -> CaptureManifest:
        """A post's own capture: its JSON record, text and media, in the page's WARC."""
        item = post.item
        text = None
        if item.text:
            title = f"{item.channel}/{item.message_id}"
            text = self._store_text(item.text, title, "utf-8", POST_TEXT_EXTRACTOR)
        warc = page.warc.model_copy(
            update={
                "record_type": "resource",
                "response_record_id": post.record.record_id,
                "offset": post.record.offset,
                "length": post.record.length,
                "refers_to": None,
            }
        )
        return page.model_copy(
            update={
                "capture_id": capture_id_for(self.run.source_id, self.run.run_id, item.permalink),
                "requested_url": item.permalink,
                "final_url": item.permalink,
                "content_type": "application/json",
                "payload_sha256": post.artefact.sha256,
                "payload_size": len(item.json_bytes),
                "truncated": None,
                "redirect_chain": [],
                "warc": warc,
                "text": text,
                "text_problem": None,
                "text_status": "changed" if item.edited_since_archived else "new",
                "changed": item.edited_since_archived,
                "previous_capture": None,
                "browser": None,
                "post": post.artefact,
                "media": post.media,
            }
        )

    @staticmethod
    def _original_record(item: _Pending) -> OriginalRecord | None:
        if item.record_type != "revisit" or item.previous is None:
            return None
        original = item.previous.original
        return OriginalRecord(
            warc_key=original.warc_key,
            record_id=original.record_id,
            offset=original.offset,
            length=original.length,
        )

    def _save_state(self, item: _Pending, manifest: CaptureManifest) -> None:
        state = url_state_after(manifest, item.previous)
        if state is not None:
            save_url_state(self.store, self.run.source_id, state)

    def abort(self) -> None:
        """Drop the uncommitted segment (used when a run is cancelled)."""
        if self._warc is not None:
            self._warc.abort()
            self._warc = None
        for item in self._pending:
            item.page.result.close()
        self._pending = []
        self._pending_ids.clear()


def url_state_after(manifest: CaptureManifest, previous: UrlState | None) -> UrlState | None:
    """The URL's state once ``manifest`` is committed (None: keep the previous state).

    A truncated body is no reference for later revisits; a revisit keeps pointing at the
    response record that holds the payload.
    """
    if manifest.truncated is not None or manifest.warc.record_type not in ("response", "revisit"):
        return None
    if manifest.warc.record_type == "revisit":
        if previous is None:
            return None  # state is a cache: without it the next capture stores a full copy
        original = previous.original
    else:
        original = StoredResponse(
            uri=manifest.final_url,
            warc_date=warc_date(manifest.captured_at),
            record_id=manifest.warc.response_record_id,
            warc_key=manifest.warc.key,
            payload_sha256=manifest.payload_sha256,
            status=manifest.status,
            offset=manifest.warc.offset,
            length=manifest.warc.length,
        )
    last_text = manifest.text.sha256 if manifest.text is not None else None
    if last_text is None and previous is not None:
        last_text = previous.last_text_sha256
    return UrlState(
        url=manifest.final_url,
        original=original,
        last_capture_id=manifest.capture_id,
        last_manifest_key=manifest.key,
        last_captured_at=manifest.captured_at,
        last_text_sha256=last_text,
    )


def segment_events(
    warc_key: str, warc_sha256: str, warc_name: str, captures: list[list[str]]
) -> list[CustodyEvent]:
    """The custody events of one committed segment: the WARC stored, then its captures.

    One ``captured`` event lists every capture of the segment with the SHA-256 of its manifest
    as stored, so each manifest is bound into the chain without an event per page.
    """
    return [
        CustodyEvent(
            event_id=f"stored:{warc_sha256}",
            type="stored",
            subject=warc_key,
            details={"sha256": warc_sha256, "filename": warc_name},
        ),
        CustodyEvent(
            event_id=f"captured:{warc_sha256}",
            type="captured",
            subject=warc_key,
            details={"warc_sha256": warc_sha256, "captures": captures},
        ),
    ]
