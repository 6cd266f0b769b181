"""What browser, Telegram and media captures add to a page's WARC records.

A rendered page adds every request the browser made (full request/response records), its
screenshot and rendered DOM (``resource`` records, also stored as objects). A Telegram preview
page adds one ``resource`` record per post with the post's structured JSON. A media file is kept
once as a content-addressed object; the HTTP exchange that delivered it is recorded as a request
record plus a ``metadata`` record naming the object, so the WARC shows where the bytes came from
without holding a second copy of a large video.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from archive.manifest import (
    BrowserArtefacts,
    FailedRequest,
    MediaArtefact,
    ObjectRef,
    PostArtefact,
    ResourceEntry,
)
from archive.store import ObjectStore, put_payload_bytes
from archive.warc import RecordRef, WarcFileWriter
from collectors.http_fetch import FetchResult, HttpExchange


@dataclass
class RenderedExtras:
    """A page as a browser rendered it: everything it loaded, and what it looked like."""

    browser: str
    title: str
    final_url: str
    screenshot_png: bytes
    dom_html: str
    captured_at: datetime
    elapsed_seconds: float
    # Every request after the document itself, in the order the browser made them.
    subresources: Sequence[FetchResult] = ()
    failed: Sequence[tuple[str, str]] = ()  # url, reason
    notes: Sequence[str] = ()


@dataclass
class MediaDownload:
    """A media file already stored as an object, and the HTTP exchange that delivered it (None
    when another program, such as yt-dlp's HLS downloader, fetched it)."""

    artefact: MediaArtefact
    exchange: HttpExchange | None = None


@dataclass
class PostItem:
    """One Telegram post parsed from a preview page."""

    record: dict[str, object]  # the structured post, JSON-ready
    channel: str
    message_id: int
    permalink: str
    text: str
    posted_at: datetime | None = None
    views: int | None = None
    edited: bool = False  # the page marks it "edited"
    edited_since_archived: bool = False  # its text differs from the version archived before
    problems: Sequence[str] = ()
    media: list[MediaDownload] = field(default_factory=list)

    @cached_property
    def json_bytes(self) -> bytes:
        """The structured post as stored (serialised once, for the record and the manifest)."""
        return json.dumps(self.record, ensure_ascii=False, sort_keys=True).encode("utf-8")


def write_response(warc: WarcFileWriter, hop: HttpExchange) -> RecordRef:
    """A full response record of one exchange, its digests computed while it streamed in."""
    hop.body.seek(0)
    return warc.write_response(
        hop.url,
        hop.response_head,
        hop.body,
        hop.body_size,
        hop.payload_sha256,
        hop.block_sha256,
        hop.fetched_at,
        hop.ip_address,
        hop.truncated,
    )


def write_request(warc: WarcFileWriter, hop: HttpExchange, concurrent_to: str) -> RecordRef:
    """The request record of one exchange, as sent."""
    return warc.write_request(
        hop.url, hop.request_head, hop.fetched_at, concurrent_to, hop.ip_address, hop.request_body
    )


def write_hops(warc: WarcFileWriter, result: FetchResult) -> list[tuple[RecordRef, RecordRef]]:
    """Full response and request records for every hop of one fetch."""
    refs = []
    for hop in result.hops:
        response = write_response(warc, hop)
        refs.append((response, write_request(warc, hop, response.record_id)))
    return refs


def _stored(store: ObjectStore, data: bytes, content_type: str) -> tuple[ObjectRef, int]:
    stored = put_payload_bytes(store, data, content_type)
    return ObjectRef(key=stored.key, sha256=stored.sha256), stored.size if stored.created else 0


def write_rendered(
    warc: WarcFileWriter, store: ObjectStore, rendered: RenderedExtras, page_record_id: str
) -> tuple[BrowserArtefacts, int]:
    """The browser's records; returns the manifest's ``browser`` part and the new bytes stored."""
    resources = []
    for result in rendered.subresources:
        refs = write_hops(warc, result)
        result.close()  # written: the temporary bodies can go
        final = result.final
        resources.append(
            ResourceEntry(
                url=result.requested_url,
                method=final.request_head.protocol or "GET",
                status=final.status,
                content_type=final.header("Content-Type"),
                payload_sha256=final.payload_sha256,
                size=final.body_size,
                response_record_id=refs[-1][0].record_id,
                truncated=final.truncated,
            )
        )
    url, moment = rendered.final_url, rendered.captured_at
    png = rendered.screenshot_png
    page_id = page_record_id
    screenshot_ref = warc.write_resource(f"urn:view:{url}", "image/png", png, moment, page_id)
    dom = rendered.dom_html.encode("utf-8")
    dom_ref = warc.write_resource(
        f"urn:dom:{url}", "text/html; charset=utf-8", dom, moment, page_record_id
    )
    screenshot, new_png = _stored(store, rendered.screenshot_png, "image/png")
    dom_object, new_dom = _stored(store, dom, "text/html; charset=utf-8")
    artefacts = BrowserArtefacts(
        browser=rendered.browser,
        title=rendered.title,
        final_url=url,
        screenshot=screenshot,
        screenshot_record_id=screenshot_ref.record_id,
        dom=dom_object,
        dom_record_id=dom_ref.record_id,
        resources=resources,
        failed_requests=[FailedRequest(url=u, reason=r) for u, r in rendered.failed],
        notes=list(rendered.notes),
        elapsed_seconds=round(rendered.elapsed_seconds, 3),
    )
    return artefacts, new_png + new_dom


def write_media_exchange(
    warc: WarcFileWriter, download: MediaDownload
) -> tuple[MediaArtefact, RecordRef | None, RecordRef | None]:
    """Metadata and request records for a media download: the artefact with their ids, and
    the records (None when no exchange of ours delivered the file)."""
    exchange = download.exchange
    artefact = download.artefact
    if exchange is None:
        return artefact, None, None
    fields = {
        "media_object": {"key": artefact.key, "sha256": artefact.sha256, "size": artefact.size},
        "response": {
            "status_line": f"{exchange.response_head.protocol} {exchange.response_head.statusline}",
            "headers": exchange.response_head.headers,
        },
        "payload_sha256": exchange.payload_sha256,
        "truncated": exchange.truncated,
        "downloader": artefact.downloader,
    }
    metadata = warc.write_metadata(exchange.url, fields, exchange.fetched_at, None)
    request = write_request(warc, exchange, metadata.record_id)
    exchange.close()  # the bytes are in the object store; the temporary copy can go
    ids = {"request_record_id": request.record_id, "metadata_record_id": metadata.record_id}
    return artefact.model_copy(update=ids), metadata, request


def write_post(
    warc: WarcFileWriter, store: ObjectStore, post: PostItem, moment: datetime, page_record_id: str
) -> tuple[PostArtefact, RecordRef, int]:
    """The post's JSON as a ``resource`` record and an object; returns the manifest's ``post``
    part, the record, and the new bytes stored."""
    data = post.json_bytes
    ref = warc.write_resource(
        f"urn:post:{post.permalink}", "application/json", data, moment, page_record_id
    )
    stored, new_bytes = _stored(store, data, "application/json")
    artefact = PostArtefact(
        key=stored.key,
        sha256=stored.sha256,
        record_id=ref.record_id,
        channel=post.channel,
        message_id=post.message_id,
        permalink=post.permalink,
        posted_at=post.posted_at,
        views=post.views,
        edited=post.edited,
        problems=list(post.problems),
    )
    return artefact, ref, new_bytes
