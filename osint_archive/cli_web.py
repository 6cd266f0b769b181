"""``osint-archive serve`` (the investigators' web UI) and ``osint-archive users``."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click

from osint_archive.cli_common import EXIT_USAGE, err_console
from osint_archive.settings import SettingsError
from web.accounts import AccountError, Accounts, Role
from web.config import ALLOWED_HOSTS_VARIABLE, LOCAL_HOSTS, WebSettings, header_timeout_of

F = TypeVar("F", bound=Callable[..., None])
ROLE_NAMES = [role.value for role in Role]  # in rank order: each includes the ones before


def _web_settings() -> WebSettings:
    try:
        return WebSettings.from_env()
    except SettingsError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_USAGE)


def _accounts() -> Accounts:
    settings = _web_settings()
    return Accounts(settings.directory / "accounts.sqlite")


@contextmanager
def account_errors() -> Iterator[None]:
    """An account that cannot be changed so: the reason, exit 2."""
    try:
        yield
    except AccountError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_USAGE)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--ssl-certfile",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve HTTPS with this certificate (session cookies are then Secure).",
)
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Server processes (default: one per CPU core; searches and pages use one core each).",
)
@click.option(
    "--forwarded-allow-ips",
    default=None,
    help="Behind a TLS proxy: the proxy's addresses, whose X-Forwarded-* headers are trusted.",
)
@click.option(
    "--allowed-host",
    "allowed_hosts",
    multiple=True,
    help="A host name the UI is reached by (repeatable), besides localhost and 127.0.0.1;"
    " requests naming any other Host get 400. Also OSINT_ARCHIVE_WEB_ALLOWED_HOSTS.",
)
def serve(
    host: str,
    port: int,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
    workers: int | None,
    forwarded_allow_ips: str | None,
    allowed_hosts: tuple[str, ...],
) -> None:
    """The investigators' web UI: search, capture pages, replay, transcript player.

    \b
    Nobody gets in without an account:
      osint-archive users add alice --role investigator
    Roles: investigator (search, read, watch, download), analyst (also capture URLs now),
    custodian (also export), admin (also accounts). Every view and download is recorded in
    the custody log.
    """
    import uvicorn

    from index.backend import IndexUnavailableError
    from web.app import create_app
    from web.header_timeout import PROTOCOL as HEADER_TIMEOUT_PROTOCOL

    if (ssl_certfile is None) != (ssl_keyfile is None):
        err_console.print("[red]error:[/] --ssl-certfile and --ssl-keyfile go together")
        sys.exit(EXIT_USAGE)
    named = [*allowed_hosts]
    if host not in ("0.0.0.0", "::"):  # noqa: S104
        # The address it listens on is one it is reached by (an IPv6 one in brackets).
        named.append(f"[{host}]" if ":" in host else host)
    # Through the environment, so that every worker process builds the same settings.
    listed = os.environ.get(ALLOWED_HOSTS_VARIABLE, "")
    os.environ[ALLOWED_HOSTS_VARIABLE] = ",".join(filter(None, [listed, *named]))
    settings = _web_settings()
    try:
        header_timeout_of(os.environ)  # read by each server process: refused here, at once
        settings.archive.open_index().close()
        app = create_app(settings)
    except (IndexUnavailableError, SettingsError) as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_USAGE)
    state = app.state.archive
    if not state.accounts.users():
        err_console.print(
            "[yellow]note:[/] there are no accounts yet, so nobody can sign in: create one with"
            " `osint-archive users add NAME --role admin`",
            highlight=False,
        )
    err_console.print("cataloguing the archive's captures …", highlight=False)
    added = state.catalog.refresh()
    scheme = "https" if ssl_certfile else "http"
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    err_console.print(
        f"{added} new captures catalogued; serving {settings.archive.home} at"
        f" {scheme}://{shown}:{port}/ with {workers or os.cpu_count() or 1} process(es)"
        " (Ctrl+C stops)",
        highlight=False,
    )
    if len(settings.allowed_hosts) == len(LOCAL_HOSTS):
        err_console.print(
            "[yellow]note:[/] only requests for localhost and 127.0.0.1 are answered: name the"
            " host the UI is reached by with --allowed-host NAME",
            highlight=False,
        )
    processes = workers or os.cpu_count() or 1
    uvicorn.run(
        # Several processes need the application by name; each builds its own.
        "web.app:app_from_env" if processes > 1 else app,
        factory=processes > 1,
        workers=processes,
        host=host,
        port=port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level="info",
        http=HEADER_TIMEOUT_PROTOCOL,
        timeout_keep_alive=5,
        limit_concurrency=1000,  # beyond this, 503 at once instead of a slow collapse
    )


@click.group("users")
def users() -> None:
    """Accounts of the web UI (investigator, analyst, custodian, admin)."""


def _password(stdin: bool, generate: bool) -> tuple[str, bool]:
    """The new password and whether it was generated (and must be shown once)."""
    if stdin:
        return sys.stdin.readline().rstrip("\n"), False
    if generate or not sys.stdin.isatty():
        return secrets.token_urlsafe(15), True
    entered: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return entered, False


password_options = [
    click.option("--password-stdin", is_flag=True, help="Read the password from stdin."),
    click.option(
        "--generate-password",
        is_flag=True,
        help="Make a random password and print it once (the default without a terminal).",
    ),
]


def _with_password_options(function: F) -> F:
    for option in reversed(password_options):
        function = option(function)
    return function


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLE_NAMES),
    default="investigator",
    show_default=True,
)
@click.option("--exist-ok", is_flag=True, help="Exit 0 when the account exists already.")
@_with_password_options
def users_add(
    username: str, role: str, exist_ok: bool, password_stdin: bool, generate_password: bool
) -> None:
    """Create an account (the password is stored as an argon2id hash only)."""
    accounts = _accounts()
    if accounts.get(username) is not None:
        if exist_ok:
            err_console.print(
                f"the account {username!r} exists already (a new password:"
                f" `osint-archive users passwd {username}`)",
                highlight=False,
            )
            return
        err_console.print(f"[red]error:[/] the account {username!r} exists already")
        sys.exit(EXIT_USAGE)
    password, generated = _password(password_stdin, generate_password)
    with account_errors():
        accounts.add(username, Role(role), password)
    click.echo(f"created {role} account {username!r}")
    if generated:
        click.echo(f"password (shown once): {password}")


@users.command("passwd")
@click.argument("username")
@_with_password_options
def users_passwd(username: str, password_stdin: bool, generate_password: bool) -> None:
    """Set a new password; the account's open sessions end."""
    password, generated = _password(password_stdin, generate_password)
    with account_errors():
        _accounts().set_password(username, password)
    click.echo(f"new password set for {username!r}")
    if generated:
        click.echo(f"password (shown once): {password}")


@users.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLE_NAMES))
def users_role(username: str, role: str) -> None:
    """Change an account's role."""
    with account_errors():
        _accounts().set_role(username, Role(role))
    click.echo(f"{username!r} is now {role}")


@users.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again.")
def users_disable(username: str, enable: bool) -> None:
    """Disable an account (ending its sessions); accounts are never deleted, custody names
    them."""
    with account_errors():
        _accounts().set_disabled(username, not enable)
    click.echo(f"{username!r} {'enabled' if enable else 'disabled'}")


@users.command("list")
def users_list() -> None:
    """Accounts, their roles and whether they are disabled."""
    for user in _accounts().users():
        state = " (disabled)" if user.disabled else ""
        click.echo(f"{user.username}\t{user.role.value}\t{user.created_at}{state}")
