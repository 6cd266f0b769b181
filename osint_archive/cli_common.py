"""What every ``osint-archive`` command shares: settings, messages, exit codes, parsing."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from index.backend import IndexUnavailableError, SearchBackend
from osint_archive.settings import Settings, SettingsError
from osint_archive.sources import SourcesConfig, SourcesConfigError, load_sources
from osint_archive.terminal_text import safe_for_terminal

# Messages are never wrapped: scripts match `file:line: field: message` lines whole.
err_console = Console(stderr=True, soft_wrap=True)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Sources file (default: $OSINT_ARCHIVE_CONFIG or config/sources.yaml).",
)
EXIT_FAILED = 1
EXIT_USAGE = 2


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as err:
        err_console.print(f"[red]error:[/] {err}")
        sys.exit(EXIT_USAGE)


def open_index(settings: Settings) -> SearchBackend:
    """The live search index, or exit 2 with what to do (reindex, check the cluster)."""
    try:
        return settings.open_index()
    except (IndexUnavailableError, SettingsError) as err:
        err_console.print(f"[red]error:[/] {escape(safe_for_terminal(str(err)))}", highlight=False)
        sys.exit(EXIT_USAGE)


def load_config(path: Path) -> SourcesConfig:
    try:
        return load_sources(path)
    except SourcesConfigError as err:
        for problem in err.problems:
            err_console.print(safe_for_terminal(str(problem)), markup=False, highlight=False)
        err_console.print(f"[red]{len(err.problems)} problem(s) in {path}[/]")
        sys.exit(EXIT_USAGE)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def clock(seconds: float) -> str:
    """``H:MM:SS`` for a position in a recording."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def parse_date(value: str | None, end_of_day: bool = False) -> datetime | None:
    """An ISO date or time; a bare date as ``--until`` means the whole of that day."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO date: {value!r} (use e.g. 2026-01-31)") from None
    if end_of_day and len(value) == len("2026-01-31"):
        moment = moment.replace(hour=23, minute=59, second=59, microsecond=999999)
    return moment
