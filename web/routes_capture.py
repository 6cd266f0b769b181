"""The capture page, the text diff between captures of one URL, and evidence downloads.

Downloads name a capture and, for media, a digest the capture's manifest lists; no path
from the request ever reaches the store, so there is nothing to traverse.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from archive.audit_payloads import PayloadCheck, check_payload
from archive.export import ExportError, export_wacz
from archive.signing_key import SigningKeyError
from osint_archive.export_signer import export_signer
from web.capture_page import (
    SHA256,
    CaptureNotFoundError,
    LoadedCapture,
    custody_of,
    hash_rows,
    load_capture,
    read_text,
    requests_of,
    text_diff,
    transcripts_of,
)
from web.custody_view import Access, record_access
from web.downloads import stream_object
from web.pages import (
    Custodian,
    Investigator,
    NotFoundError,
    Viewer,
    check_csrf,
    render,
    state_of,
)

router = APIRouter()


def capture_or_404(request: Request, capture_id: str) -> LoadedCapture:
    try:
        return load_capture(state_of(request), capture_id)
    except CaptureNotFoundError:
        raise NotFoundError from None


def record(
    request: Request,
    viewer: Viewer,
    capture: LoadedCapture,
    action: str,
    subject: str,
    **detail: object,
) -> None:
    """A custody event for a view or download of evidence (who, what, when)."""
    state = state_of(request)
    stored = record_access(
        state.store,
        Access(
            action=action,
            subject=subject,
            capture_id=capture.manifest.capture_id,
            source=capture.manifest.source_id,
            username=viewer.username,
            role=viewer.role.value,
            client=viewer.client,
            detail=dict(detail),
        ),
    )
    state.catalog.note_access(capture.manifest.capture_id, stored)


def record_receipt(
    request: Request,
    viewer: Viewer,
    capture: LoadedCapture,
    action: str,
    subject: str,
    served: str,
    part: str,
    **detail: object,
) -> None:
    """A custody event for evidence bytes sent to a session (why this unit:
    web/session_accesses.py). ``served`` is ``"whole"`` or the range ``"first-last"`` of this
    response. A session's receipt of the whole object is one event; its receipt of byte
    ranges is another, naming the first range (``served: ranges``, ``first_range``): a
    player's later ranges are that receipt, so the event says *some ranges, from this one
    on*, never less than was sent."""
    accesses = state_of(request).accesses
    whole = served == "whole"
    # A WARC file or a video may belong to several captures: each capture's receipt counts.
    receipt = f"{capture.manifest.capture_id}/{subject}#{part}#{'whole' if whole else 'ranges'}"
    if accesses.recorded(viewer.session.id, action, receipt):
        return
    sent = {"served": "whole"} if whole else {"served": "ranges", "first_range": served}
    record(
        request,
        viewer,
        capture,
        action,
        subject,
        part=part,
        session=viewer.session.id[:16],
        **sent,
        **detail,
    )
    accesses.note(viewer.session.id, action, receipt)


@router.get("/captures/{capture_id}")
def capture_page(request: Request, capture_id: str, viewer: Investigator) -> Response:
    state = state_of(request)
    capture = capture_or_404(request, capture_id)
    record(request, viewer, capture, "viewed", capture.entry.manifest_key)
    chain, events, accesses = custody_of(state, capture)
    m = capture.manifest
    return render(
        request,
        "capture.html",
        viewer,
        capture=capture,
        m=m,
        hashes=hash_rows(capture),
        chain=chain,
        events=events,
        requested=requests_of(events, m.capture_id),
        accesses=accesses,
        text=read_text(state.store, m),
        versions=state.catalog.versions(m.requested_url),
        transcripts={media.sha256: transcripts_of(state.store, media.sha256) for media in m.media},
    )


@router.get("/captures/{capture_id}/diff/{other_id}")
def capture_diff(
    request: Request, capture_id: str, other_id: str, viewer: Investigator
) -> Response:
    state = state_of(request)
    capture, other = capture_or_404(request, capture_id), capture_or_404(request, other_id)
    older, newer = sorted((capture, other), key=lambda c: c.manifest.captured_at)
    # Both texts are shown: each capture's record says it was seen, and beside what.
    record(request, viewer, capture, "compared", capture.entry.manifest_key, other=other_id)
    if other.manifest.capture_id != capture.manifest.capture_id:
        record(request, viewer, other, "compared", other.entry.manifest_key, other=capture_id)
    lines = text_diff(
        read_text(state.store, older.manifest) or "", read_text(state.store, newer.manifest) or ""
    )
    return render(
        request, "diff.html", viewer, capture=capture, older=older, newer=newer, lines=lines
    )


@router.get("/captures/{capture_id}/screenshot")
def screenshot(request: Request, capture_id: str, viewer: Investigator) -> Response:
    capture = capture_or_404(request, capture_id)
    browser = capture.manifest.browser
    if browser is None:
        raise NotFoundError
    key = browser.screenshot.key
    return stream_object(
        state_of(request).store,
        key,
        "image/png",
        range_header=request.headers.get("range"),
        on_serve=lambda served: record_receipt(
            request, viewer, capture, "viewed", key, served, part="screenshot"
        ),
    )


def _warc_download(
    request: Request, viewer: Viewer, capture: LoadedCapture, part: str, whole: bool
) -> Response:
    """The capture's own WARC record (exactly the stored gzip member) or its whole WARC."""
    warc = capture.manifest.warc
    return stream_object(
        state_of(request).store,
        warc.key,
        "application/warc",
        range_header=request.headers.get("range"),
        filename=warc.filename if whole else f"{capture.manifest.capture_id}.warc.gz",
        offset=0 if whole else warc.offset,
        length=None if whole else warc.length,
        on_serve=lambda served: record_receipt(
            request, viewer, capture, "downloaded", warc.key, served, part=part
        ),
    )


@router.get("/captures/{capture_id}/warc-record")
def warc_record(request: Request, capture_id: str, viewer: Investigator) -> Response:
    capture = capture_or_404(request, capture_id)
    return _warc_download(request, viewer, capture, "warc-record", whole=False)


@router.get("/captures/{capture_id}/warc")
def warc_file(request: Request, capture_id: str, viewer: Investigator) -> Response:
    capture = capture_or_404(request, capture_id)
    return _warc_download(request, viewer, capture, "warc-file", whole=True)


@router.get("/captures/{capture_id}/media/{media_sha256}")
def media_file(
    request: Request,
    capture_id: str,
    media_sha256: str,
    viewer: Investigator,
    download: int = 0,
) -> Response:
    capture = capture_or_404(request, capture_id)
    if not SHA256.fullmatch(media_sha256):
        raise NotFoundError
    media = next((m for m in capture.manifest.media if m.sha256 == media_sha256), None)
    if media is None:
        raise NotFoundError
    extension = (media.container or "bin").split(",")[0]
    action = "downloaded" if download else "played"
    return stream_object(
        state_of(request).store,
        media.key,
        media.content_type or "application/octet-stream",
        range_header=request.headers.get("range"),
        filename=f"{media.sha256}.{extension}" if download else None,
        on_serve=lambda served: record_receipt(
            request, viewer, capture, action, media.key, served, part="media", sha256=media.sha256
        ),
    )


@router.post("/captures/{capture_id}/verify")
async def verify_capture(request: Request, capture_id: str, viewer: Custodian) -> Response:
    """Re-hash every object the capture names now (WARCs record by record), and record it."""
    await check_csrf(request, viewer)
    capture = capture_or_404(request, capture_id)
    store = state_of(request).store
    warc_keys = {capture.manifest.warc.key}

    def check_all() -> list[PayloadCheck]:
        return [
            check_payload(store, key, sha256, key in warc_keys)
            for key, sha256 in capture.manifest.object_refs()
        ]

    # Re-hashing a video takes a while: off the event loop, so other pages keep answering.
    checks = await run_in_threadpool(check_all)
    intact = all(c.actual == c.expected and not (c.warc and c.warc.problems) for c in checks)
    record(
        request,
        viewer,
        capture,
        "verified",
        capture.entry.manifest_key,
        objects=len(checks),
        intact=intact,
    )
    return render(request, "fixity.html", viewer, capture=capture, checks=checks, intact=intact)


@router.post("/captures/{capture_id}/export")
async def export_capture(
    request: Request,
    capture_id: str,
    background: BackgroundTasks,
    viewer: Custodian,
) -> Response:
    await check_csrf(request, viewer)
    capture = capture_or_404(request, capture_id)
    state = state_of(request)
    folder = Path(tempfile.mkdtemp(prefix="osint-archive-export-"))
    out = folder / f"{capture.manifest.capture_id}.wacz"
    try:
        await run_in_threadpool(
            export_wacz,
            state.store,
            [capture.manifest],
            out,
            title=f"Capture {capture.manifest.capture_id}",
            description=f"Exported from the web UI by {viewer.username}",
            actor=f"web:{viewer.username}",
            signer=export_signer(state.settings.archive),  # signed like the CLI's exports
        )
    except (ExportError, SigningKeyError) as err:
        shutil.rmtree(folder, ignore_errors=True)
        return render(request, "error.html", viewer, 409, title_key="export", detail=str(err))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # copied evidence must not linger
        raise
    background.add_task(shutil.rmtree, folder, ignore_errors=True)
    # The source's chain says a package was made; the access chain says who took it away.
    record(request, viewer, capture, "exported", capture.entry.manifest_key, part="wacz")
    return FileResponse(out, media_type="application/wacz+zip", filename=out.name)
