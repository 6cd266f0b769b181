"""Request context shared by the routes: who is signed in, in which language, rendering,
CSRF checks and role checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from web.accounts import Role, Session
from web.state import AppState
from web.strings import pick_language, translate

SESSION_COOKIE = "oa_session"
LOGIN_CSRF_COOKIE = "oa_login_csrf"
LANG_COOKIE = "oa_lang"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


class LoginRequiredError(Exception):
    """No valid session: HTML pages send the browser to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class ForbiddenError(Exception):
    """Signed in, but the role or the CSRF token does not allow this."""


class NotFoundError(Exception):
    """No such capture, object or page (nothing is said about why)."""


def state_of(request: Request) -> AppState:
    state: AppState = request.app.state.archive
    return state


def language_of(request: Request) -> str:
    return pick_language(
        request.query_params.get("ui"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language", ""),
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request."""

    session: Session
    lang: str
    client: str

    @property
    def username(self) -> str:
        return self.session.user.username

    @property
    def role(self) -> Role:
        return self.session.user.role

    @property
    def may_request_captures(self) -> bool:
        """Whether the "Archive a URL" page is open to this user (analysts and above)."""
        return self.role.allows(Role.ANALYST)

    def t(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)


def current_viewer(request: Request) -> Viewer:
    """The session's user, or ``LoginRequiredError``."""
    token = request.cookies.get(SESSION_COOKIE)
    session = state_of(request).accounts.session(token) if token else None
    if session is None:
        path = request.url.path
        if request.url.query:
            path += "?" + request.url.query
        raise LoginRequiredError(path)
    return Viewer(session, language_of(request), client_address(request))


def investigator(request: Request) -> Viewer:
    return current_viewer(request)


def analyst(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if not viewer.may_request_captures:
        raise ForbiddenError
    return viewer


def custodian(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if not viewer.role.allows(Role.CUSTODIAN):
        raise ForbiddenError
    return viewer


def admin(request: Request) -> Viewer:
    viewer = current_viewer(request)
    if not viewer.role.allows(Role.ADMIN):
        raise ForbiddenError
    return viewer


async def check_csrf(request: Request, viewer: Viewer) -> dict[str, Any]:
    """The posted form, when its CSRF token is this session's; else ``ForbiddenError``."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode("utf-8"), viewer.session.csrf_token.encode("utf-8")
    ):
        raise ForbiddenError
    return dict(form)


def _with_query(request: Request, **changes: str) -> str:
    """This page's path and query with some parameters changed (a relative link)."""
    # Only the query: a path from the request (``//host/…``) must never become a link.
    return "?" + request.url.include_query_params(**changes).query


def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = viewer.lang if viewer is not None else language_of(request)
    other = "ru" if lang == "en" else "en"
    response = templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "lang": lang,
            "t": lambda key, **values: translate(lang, key, **values),
            "other_lang": other,
            "other_lang_url": _with_query(request, ui=other),
            "quote": quote,
            **context,
        },
        status_code=status_code,
    )
    if request.query_params.get("ui") == lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


Investigator = Annotated[Viewer, Depends(investigator)]
Analyst = Annotated[Viewer, Depends(analyst)]
Custodian = Annotated[Viewer, Depends(custodian)]
Admin = Annotated[Viewer, Depends(admin)]
