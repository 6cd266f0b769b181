"""Signing in and out. Failed logins are throttled per account and per address."""

from __future__ import annotations

import hmac
import math
import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from web.accounts import USERNAME
from web.pages import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    ForbiddenError,
    Investigator,
    check_csrf,
    client_address,
    render,
    state_of,
)
from web.throttle import login_limits

router = APIRouter()


def _safe_next(target: str) -> str:
    """Only a path on this site: never ``//host`` or a URL (no open redirect)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/search"


def _login_page(request: Request, next_path: str, status: int = 200, **context: object) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", None, status, csrf=token, next_path=_safe_next(next_path), **context
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/search", 303)


@router.get("/healthz")
def health() -> Response:
    """For load balancers and healthchecks: answers without a session, says nothing else."""
    return Response("ok", media_type="text/plain")


@router.get("/login")
def login_form(request: Request, next: str = "/search") -> Response:
    return _login_page(request, next)


@router.post("/login")
def login(
    request: Request,
    username: str = Form(...),
    password: str = Form(...),
    csrf: str = Form(...),
    next: str = Form("/search"),
) -> Response:
    state = state_of(request)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode("utf-8"), expected.encode("utf-8")):
        raise ForbiddenError
    # A hash takes 64 MiB and most of a core: a bounded number at once, else "busy", so a
    # burst of logins cannot exhaust the server's memory.
    if not state.login_slots.acquire(blocking=False):
        response = _login_page(request, next, 429, error="busy")
        response.headers["Retry-After"] = "1"
        return response
    try:
        if not USERNAME.fullmatch(username):  # no such account can exist: nothing to count
            return _login_page(request, next, 401, error="bad_login")
        limits = login_limits(username, client_address(request), state.settings.login_attempts)
        attempt = state.throttle.begin(limits)
        if attempt is None:
            wait = state.throttle.retry_after(limits)
            response = _login_page(
                request, next, 429, error="too_many", minutes=max(1, math.ceil(wait / 60))
            )
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        user = state.accounts.authenticate(username, password)
    finally:
        state.login_slots.release()
    if user is None:
        return _login_page(request, next, 401, error="bad_login")
    state.throttle.succeeded(attempt, *(key for key in limits if not key.startswith("addr:")))
    token, _session = state.accounts.open_session(user, state.settings.session_hours)
    state.accesses.forget_ended_sessions()  # a sign-in is rare enough to tidy up then
    response = RedirectResponse(_safe_next(next), 303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(state.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Investigator) -> Response:
    await check_csrf(request, viewer)
    token = request.cookies.get(SESSION_COOKIE, "")
    state_of(request).accounts.close_session(token)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response
