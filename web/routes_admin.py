"""Account management for admins (the same as ``osint-archive users``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from web.accounts import AccountError, Role, parse_role
from web.pages import Admin, check_csrf, render, state_of

router = APIRouter()
ROLES = [role.value for role in Role]  # in rank order: each includes the ones before


@router.get("/admin/users")
def users_page(request: Request, viewer: Admin) -> Response:
    return render(
        request, "users.html", viewer, users=state_of(request).accounts.users(), roles=ROLES
    )


@router.post("/admin/users")
async def add_user(request: Request, viewer: Admin) -> Response:
    form = await check_csrf(request, viewer)
    accounts = state_of(request).accounts
    try:
        accounts.add(
            str(form.get("username", "")),
            parse_role(str(form.get("role", ""))),
            str(form.get("password", "")),
        )
    except AccountError as err:
        return render(
            request, "users.html", viewer, 400, users=accounts.users(), roles=ROLES, error=str(err)
        )
    return RedirectResponse("/admin/users", 303)
