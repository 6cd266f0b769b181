"""The web application: routes, security headers, error pages, the catalogue refresher and
the capture worker."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive.store import ObjectNotFoundError
from web import (
    routes_admin,
    routes_archive,
    routes_auth,
    routes_capture,
    routes_player,
    routes_replay,
    routes_search,
)
from web.capture_page import CaptureDamagedError
from web.capture_worker import CaptureWorker
from web.config import WebSettings
from web.pages import ForbiddenError, LoginRequiredError, NotFoundError, render
from web.state import AppState

log = logging.getLogger(__name__)
# The application's own pages: its scripts and styles only, no framing, forms only to itself.
# Replay responses set a stricter policy of their own (web/routes_replay.py).
APP_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " media-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none';"
    " form-action 'self'; frame-ancestors 'none'"
)
DEFAULT_HEADERS = (
    ("Content-Security-Policy", APP_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cache-Control", "no-store"),
)


class SecurityHeaders:
    """Adds the application's security headers (a response's own, like replay's stricter
    policy, win) and ``Server-Timing``; plain ASGI, so it costs next to nothing per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        tls = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in DEFAULT_HEADERS:
                    headers.setdefault(name, value)
                if tls:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
                # Time to the first byte of the answer, for the benchmark and operators' tools.
                headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _App(FastAPI):
    """FastAPI with the security headers outside its whole stack: the answer to an
    unexpected error (500), made by the outermost layer, carries them too."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(BodyLimit(super().build_middleware_stack()))


class GrantsOutOfAccessLog(logging.Filter):
    """A replay URL carries a bearer grant: the access log shows ``/replay/…/`` instead, so
    reading the log opens nothing."""

    _GRANT = re.compile(r"^/replay/[^/]+/")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 2 and isinstance(args[2], str):
            record.args = (*args[:2], self._GRANT.sub("/replay/…/", args[2]), *args[3:])
        return True


def _keep_grants_out_of_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, GrantsOutOfAccessLog) for f in access.filters):
        access.addFilter(GrantsOutOfAccessLog())


MAX_REQUEST_BODY = 64 * 1024  # the UI takes small forms only; nothing is uploaded


class BodyLimit:
    """Refuses a request body over ``MAX_REQUEST_BODY`` (413) or of no declared length (411)
    before anything reads it: a login form of a gigabyte must not be parsed first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        status = 0
        if declared is None:
            status = 411 if b"transfer-encoding" in headers else 0
        elif not declared.isdigit() or int(declared) > MAX_REQUEST_BODY:
            status = 413
        if status:
            await PlainTextResponse(
                "request body too large" if status == 413 else "length required", status
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _refresh_catalog_forever(state: AppState, stop: threading.Event) -> None:
    interval = max(state.settings.catalog_refresh_seconds, 1.0)
    # `serve` catalogues before it starts listening; the first round waits its turn.
    if state.catalog.last_refresh and stop.wait(interval):
        return
    while True:
        try:
            added = state.catalog.refresh()
            if added:
                log.info("catalogue: %d new captures", added)
        except Exception:  # the next round tries again; pages still serve what is known
            log.exception("catalogue refresh failed")
        if stop.wait(interval):
            return


def app_from_env() -> FastAPI:
    """The application of one server process (``serve --workers N`` starts N of them)."""
    return create_app(WebSettings.from_env())


def create_app(settings: WebSettings, state: AppState | None = None) -> FastAPI:
    """The UI over the configured archive and index."""
    state = state or AppState.open(settings)
    _keep_grants_out_of_access_log()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        refresher = threading.Thread(
            target=_refresh_catalog_forever, args=(state, stop), daemon=True
        )
        refresher.start()
        # With Airflow as the scheduler its DAG captures what the form asks for.
        worker = None
        if settings.airflow is None:
            worker = CaptureWorker(state.jobs, settings.archive, on_captured=state.catalog.refresh)
            worker.start()
        yield
        stop.set()
        if worker is not None:
            worker.stop()

    app = _App(
        title="osint-archive",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.archive = state
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), "static")
    for module in (
        routes_auth,
        routes_search,
        routes_capture,
        routes_player,
        routes_replay,
        routes_archive,
        routes_admin,
    ):
        app.include_router(module.router)

    # Pages, links and the replay policy are built from the request's Host: only named hosts.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts))

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        if request.method == "GET":
            return RedirectResponse(f"/login?next={quote(exc.next_path, safe='')}", 303)
        return Response("sign in first", status_code=401, media_type="text/plain")

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return render(request, "error.html", None, 403, title_key="forbidden")

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return render(request, "error.html", None, 404, title_key="not_found")

    @app.exception_handler(ObjectNotFoundError)
    async def object_missing(request: Request, exc: ObjectNotFoundError) -> Response:
        return render(
            request,
            "error.html",
            None,
            404,
            title_key="not_found",
            detail="a stored object this page needs is missing: run `osint-archive audit`",
        )

    @app.exception_handler(CaptureDamagedError)
    async def damaged(request: Request, exc: CaptureDamagedError) -> Response:
        return render(request, "error.html", None, 409, title_key="bad_request", detail=str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        key = {404: "not_found", 403: "forbidden"}.get(exc.status_code, "bad_request")
        return render(request, "error.html", None, exc.status_code, title_key=key)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return render(request, "error.html", None, 400, title_key="bad_request")

    return app
