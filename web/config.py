"""Settings of the web UI, from the environment (the archive's own come from ``Settings``)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from osint_archive.settings import Settings, SettingsError
from web.airflow_runs import AirflowApi


def _number(environ: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


# Always answered: the server's own machine (healthchecks, an SSH tunnel, a local proxy).
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
ALLOWED_HOSTS_VARIABLE = "OSINT_ARCHIVE_WEB_ALLOWED_HOSTS"
# A DNS name (``*.`` may lead it), an IPv4 address, or an IPv6 address in brackets.
_HOST_NAME = re.compile(
    r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]"
)


def allowed_hosts_of(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The host names requests may name: the local ones plus ``OSINT_ARCHIVE_WEB_ALLOWED_HOSTS``
    (comma-separated; ``*.example.org`` allows its subdomains)."""
    listed = [name.strip().lower() for name in environ.get(ALLOWED_HOSTS_VARIABLE, "").split(",")]
    extra = [name for name in listed if name and name not in LOCAL_HOSTS]
    for name in extra:
        if not _HOST_NAME.fullmatch(name):
            raise SettingsError(
                f"{ALLOWED_HOSTS_VARIABLE}: {name!r} is not a host name: give names like"
                " archive.example.org or *.example.org, without scheme, port or path (a"
                " wildcard for every host would trust the Host header again)"
            )
    return (*LOCAL_HOSTS, *extra)


def header_timeout_of(environ: Mapping[str, str]) -> float:
    """``OSINT_ARCHIVE_WEB_HEADER_TIMEOUT_SECONDS`` (default 10): how long a request, headers
    and body, may take to arrive (web/header_timeout.py)."""
    return _number(environ, "OSINT_ARCHIVE_WEB_HEADER_TIMEOUT_SECONDS", 10.0, 0.1)


@dataclass(frozen=True)
class WebSettings:
    """Where the UI keeps its accounts and catalogue, and how strict it is."""

    archive: Settings
    session_hours: float = 12.0
    login_attempts: int = 5  # failed logins per account or address ...
    login_window_seconds: float = 900.0  # ... within this window, then a pause as long
    chain_recheck_seconds: float = 60.0  # a custody chain is re-verified in full this often
    catalog_refresh_seconds: float = 60.0
    login_hashes: int = 2  # password hashes at once per server process (64 MiB each)
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS  # pages and links never trust other Hosts
    # When Airflow is the scheduler, "Archive a URL" triggers its capture_urls DAG instead of
    # the server's own queue.
    airflow: AirflowApi | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WebSettings:
        """``OSINT_ARCHIVE_WEB_SESSION_HOURS`` (default 12),
        ``OSINT_ARCHIVE_WEB_LOGIN_ATTEMPTS`` (5) per ``OSINT_ARCHIVE_WEB_LOGIN_WINDOW_SECONDS``
        (900), ``OSINT_ARCHIVE_WEB_CHAIN_RECHECK_SECONDS`` (60; 0 verifies every custody
        chain in full on every view), ``OSINT_ARCHIVE_WEB_CATALOG_REFRESH_SECONDS`` (60) and
        ``OSINT_ARCHIVE_WEB_LOGIN_HASHES`` (2 password checks at once per server process; more
        are answered 429), ``OSINT_ARCHIVE_WEB_ALLOWED_HOSTS`` (host names besides the local
        ones; requests naming any other get 400), ``OSINT_ARCHIVE_AIRFLOW_API_URL`` with
        ``OSINT_ARCHIVE_AIRFLOW_USER`` and ``_PASSWORD`` (``web.airflow_runs``). The server
        itself also reads ``OSINT_ARCHIVE_WEB_HEADER_TIMEOUT_SECONDS`` (``header_timeout_of``)."""
        return cls(
            archive=Settings.from_env(environ),
            session_hours=_number(environ, "OSINT_ARCHIVE_WEB_SESSION_HOURS", 12.0, 0.01),
            login_attempts=int(_number(environ, "OSINT_ARCHIVE_WEB_LOGIN_ATTEMPTS", 5, 1)),
            login_window_seconds=_number(
                environ, "OSINT_ARCHIVE_WEB_LOGIN_WINDOW_SECONDS", 900.0, 1
            ),
            chain_recheck_seconds=_number(
                environ, "OSINT_ARCHIVE_WEB_CHAIN_RECHECK_SECONDS", 60.0, 0
            ),
            catalog_refresh_seconds=_number(
                environ, "OSINT_ARCHIVE_WEB_CATALOG_REFRESH_SECONDS", 60.0, 0
            ),
            login_hashes=int(_number(environ, "OSINT_ARCHIVE_WEB_LOGIN_HASHES", 2, 1)),
            allowed_hosts=allowed_hosts_of(environ),
            airflow=AirflowApi.from_env(environ),
        )

    @property
    def directory(self) -> Path:
        """Accounts, sessions and the capture catalogue: state, never evidence."""
        return self.archive.home / "web"
