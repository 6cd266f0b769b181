"""Settings of the web UI, from the environment (the archive's own come from ``Settings``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from osint_archive.settings import Settings, SettingsError


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


@dataclass(frozen=True)
class WebSettings:
    """Where the UI keeps its accounts and catalogue, and how strict it is."""

    archive: Settings
    session_hours: float = 12.0
    login_attempts: int = 5  # failed logins per account or address ...
    login_window_seconds: float = 900.0  # ... within this window, then a pause as long
    chain_recheck_seconds: float = 60.0  # a custody chain is re-verified in full this often
    catalog_refresh_seconds: float = 60.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> WebSettings:
        """``OSINT_ARCHIVE_WEB_SESSION_HOURS`` (default 12),
        ``OSINT_ARCHIVE_WEB_LOGIN_ATTEMPTS`` (5) per ``OSINT_ARCHIVE_WEB_LOGIN_WINDOW_SECONDS``
        (900), ``OSINT_ARCHIVE_WEB_CHAIN_RECHECK_SECONDS`` (60; 0 verifies every custody
        chain in full on every view) and ``OSINT_ARCHIVE_WEB_CATALOG_REFRESH_SECONDS`` (60)."""
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
        )

    @property
    def directory(self) -> Path:
        """Accounts, sessions and the capture catalogue: state, never evidence."""
        return self.archive.home / "web"
