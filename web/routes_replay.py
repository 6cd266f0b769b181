"""Replay of preserved pages, in a sandboxed frame on a path of its own.

Why not pywb: one more server to run and secure, and archived scripts would still run (in
its origin). Here nothing archived ever runs: the frame is ``<iframe sandbox>`` without
``allow-scripts`` or ``allow-same-origin`` (an opaque origin, no scripts), every replay
response carries ``Content-Security-Policy: sandbox`` with ``default-src 'none'`` (so even
opened on its own it runs nothing and loads only from its own replay path), scripts and
handlers are stripped from the HTML, and every link is rewritten into the replay path, so
the live web is never contacted. A rendering browser's capture also shows the DOM it
rendered, which is what the scripts made of the page. Frames cannot carry the session
cookie reliably (an opaque origin is cross-site), so replay URLs carry a signed grant for
one capture, one user and the session that asked for it, valid for an hour at most: it dies
with that session (logout, a password change, a disabled account), and it opens only that
capture's own page and recorded resources. A link to another page opens in the top window
through ``/captures/<id>/follow``, a signed-in request that records the view of the page's
own capture and issues that capture's own grant (the frame may navigate the top window only
on a click: ``allow-top-navigation-by-user-activation``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from archive.store import ObjectNotFoundError
from web.capture_page import CaptureNotFoundError, LoadedCapture, load_capture
from web.evidence import ArchivedResponse, PayloadTooLargeError
from web.pages import Investigator, NotFoundError, render, state_of
from web.replay_html import charset_of, rewrite_archived_html
from web.routes_capture import capture_or_404, record
from web.state import AppState

router = APIRouter()
TOKEN_SECONDS = 3600


# What the frame may do beyond showing: follow a link the user clicks, in the top window.
FRAME_SANDBOX = "allow-top-navigation-by-user-activation"


@dataclass(frozen=True)
class ReplayGrant:
    capture_id: str
    username: str
    expires: int
    session_id: str
    view: str  # "page" (the archived response) or "dom" (the rendered DOM): what was recorded


def sign_grant(key: bytes, grant: ReplayGrant) -> str:
    payload = (
        f"{grant.capture_id}.{grant.expires}.{grant.session_id}.{grant.view}.{grant.username}"
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:18]
    return (
        base64.urlsafe_b64encode(payload).decode().rstrip("=")
        + "."
        + (base64.urlsafe_b64encode(mac).decode())
    )


def read_grant(key: bytes, token: str) -> ReplayGrant | None:
    """The grant a token carries, when its signature holds and it has not expired."""
    encoded, _, mac_text = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        mac = base64.urlsafe_b64decode(mac_text)
    except ValueError:
        return None
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()[:18]):
        return None
    capture_id, expires, session_id, view, username = payload.decode().split(".", 4)
    if int(expires) < time.time():
        return None
    return ReplayGrant(capture_id, username, int(expires), session_id, view)


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def replay_policy(request: Request, token: str) -> str:
    """Scripts never; images, styles, fonts and media only from this replay's own path."""
    own = f"{_origin(request)}/replay/{token}/"
    return (
        f"sandbox {FRAME_SANDBOX}; default-src 'none'; img-src {own} data:;"
        f" style-src {own} 'unsafe-inline';"
        f" font-src {own} data:; media-src {own}; form-action 'none'; base-uri 'none';"
        f" frame-ancestors {_origin(request)}"
    )


@router.get("/captures/{capture_id}/replay")
def replay_frame(
    request: Request,
    capture_id: str,
    viewer: Investigator,
    view: str = "response",
) -> Response:
    capture = capture_or_404(request, capture_id)
    state = state_of(request)
    browser = capture.manifest.browser
    rendered = view == "dom" and browser is not None
    target = "dom" if rendered else "page"
    expires = min(int(time.time()) + TOKEN_SECONDS, int(viewer.session.expires_at.timestamp()))
    grant = ReplayGrant(capture_id, viewer.username, expires, viewer.session.id, target)
    token = sign_grant(state.replay_key, grant)
    shown = browser.dom.key if rendered and browser is not None else capture.manifest.warc.key
    record(request, viewer, capture, "replayed", shown, view=target)
    return render(
        request,
        "replay.html",
        viewer,
        capture=capture,
        m=capture.manifest,
        frame_src=f"/replay/{token}/{target}",
        frame_sandbox=FRAME_SANDBOX,
        rendered=rendered,
    )


@router.get("/captures/{capture_id}/follow")
def follow_link(request: Request, capture_id: str, url: str, viewer: Investigator) -> Response:
    """A link clicked in a replayed page: the capture of that URL nearest in time to this
    one, replayed with its own grant and its own custody event; else "not archived"."""
    capture = capture_or_404(request, capture_id)
    nearest = state_of(request).catalog.nearest(url, capture.manifest.captured_at.isoformat())
    if nearest is None:
        return render(
            request, "error.html", viewer, 404, title_key="not_found", detail=f"not archived: {url}"
        )
    return RedirectResponse(f"/captures/{quote(nearest.capture_id, safe='')}/replay", 303)


def _granted(request: Request, token: str, view: str | None = None) -> LoadedCapture:
    """The capture a live grant names (for ``view``, when a document is asked for: the view
    that was recorded); else ``NotFoundError``."""
    state = state_of(request)
    grant = read_grant(state.replay_key, token)
    session = state.accounts.session_by_id(grant.session_id) if grant is not None else None
    if grant is None or session is None or session.user.username != grant.username:
        raise NotFoundError
    if view is not None and grant.view != view:
        raise NotFoundError
    try:
        return load_capture(state, grant.capture_id)
    except CaptureNotFoundError:
        raise NotFoundError from None


PASSIVE_TYPES = ("image/", "audio/", "video/", "font/")
PASSIVE_EXACT = ("text/css", "application/font-woff", "application/vnd.ms-fontobject")


def replay_media_type(archived_type: str, fetch_dest: str) -> str:
    """What an archived response is served as. HTML is cleaned and rewritten; passive media
    (raster images, audio, video, fonts, CSS) pass as archived; SVG only where the browser
    asks for an image (an image cannot run or navigate); anything else — XML, SVG opened as a
    document, scripts — as plain text, so no archived document can act in the frame."""
    media = archived_type.split(";")[0].strip().lower()
    if media in ("text/html", "application/xhtml+xml"):
        return "text/html"
    if media == "image/svg+xml":
        return media if fetch_dest == "image" else "text/plain; charset=utf-8"
    if media.startswith(PASSIVE_TYPES) or media in PASSIVE_EXACT:
        return media
    return "text/plain; charset=utf-8"


def resource_link(token: str, url: str) -> str:
    """Where a replayed page finds an archived resource. The URL is escaped whole: no "../"
    in it can climb out of the replay path, and its own escapes come back as archived."""
    return f"/replay/{token}/web/{quote(url, safe='')}"


def follow_link_of(capture_id: str, url: str) -> str:
    """Where a click on a link in a replayed page goes: the signed-in follow route."""
    return f"/captures/{quote(capture_id, safe='')}/follow?url={quote(url, safe='')}"


def _replay_response(
    request: Request,
    token: str,
    archived: ArchivedResponse | None,
    page_url: str,
    capture_id: str,
) -> Response:
    if archived is None:
        return Response(
            "not archived",
            status_code=404,
            media_type="text/plain",
            headers={"Content-Security-Policy": replay_policy(request, token)},
        )
    content_type = replay_media_type(
        archived.content_type, request.headers.get("sec-fetch-dest", "")
    )
    body = archived.body
    if content_type == "text/html":
        body = rewrite_archived_html(
            body,
            page_url,
            lambda url: resource_link(token, url),
            charset_of(archived.content_type),
            navigate_to=lambda url: follow_link_of(capture_id, url),
        )
        content_type = "text/html; charset=utf-8"
    return Response(
        body,
        status_code=200,
        media_type=content_type,
        headers={
            "Content-Security-Policy": replay_policy(request, token),
            "X-Frame-Options": "SAMEORIGIN",
            # Not kept by the browser: a grant ends with its session, and so must what it showed.
            "Cache-Control": "no-store",
        },
    )


@router.get("/replay/{token}/page")
def replay_page(request: Request, token: str) -> Response:
    capture = _granted(request, token, "page")
    state = state_of(request)
    try:
        archived = state.warcs.page(capture.manifest)
    except PayloadTooLargeError:
        archived = None
    return _replay_response(
        request, token, archived, capture.manifest.final_url, capture.manifest.capture_id
    )


@router.get("/replay/{token}/dom")
def replay_dom(request: Request, token: str) -> Response:
    capture = _granted(request, token, "dom")
    browser = capture.manifest.browser
    if browser is None:
        raise NotFoundError
    try:
        body = state_of(request).store.read_bytes(browser.dom.key)
    except ObjectNotFoundError:
        raise NotFoundError from None
    archived = ArchivedResponse(browser.final_url, 200, "text/html; charset=utf-8", body)
    return _replay_response(
        request, token, archived, browser.final_url, capture.manifest.capture_id
    )


def _archived_resource(
    state: AppState, capture: LoadedCapture, url: str
) -> ArchivedResponse | None:
    """A URL as this capture recorded it (its page or one of its resources); never another
    capture's: a grant opens only the capture it names."""
    m = capture.manifest
    if url in (m.requested_url, m.final_url):
        return state.warcs.page(m)
    return state.warcs.resource(m, url)


@router.get("/replay/{token}/web/{url:path}")
def replay_resource(request: Request, token: str, url: str) -> Response:
    capture = _granted(request, token)
    if request.url.query:
        url += "?" + request.url.query
    # Path normalisation may leave one slash after the scheme.
    for scheme in ("http:/", "https:/"):
        if url.startswith(scheme) and not url.startswith(scheme + "/"):
            url = scheme + "/" + url[len(scheme) :]
    try:
        archived = _archived_resource(state_of(request), capture, url)
    except PayloadTooLargeError:
        archived = None
    return _replay_response(request, token, archived, url, capture.manifest.capture_id)
