"""``osint-archive capture``: preserve the given URLs now (the external contract)."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from archive.custody import default_actor
from collectors.urls import normalise_url
from osint_archive.adhoc import (
    CaptureOptions,
    CaptureRequest,
    CaptureResult,
    UrlList,
    UrlListError,
    read_url_list,
)
from osint_archive.adhoc.records import REQUESTED_KINDS, RequestedKind
from osint_archive.adhoc.url_lists import BadLine, parse_url_list
from osint_archive.cli_common import EXIT_FAILED, EXIT_USAGE, err_console, load_settings
from osint_archive.settings import SettingsError
from osint_archive.terminal_text import safe_for_terminal

STATUS_STYLE = {"captured": "green", "existing": "cyan", "failed": "red"}


def _requests_of(urls: tuple[str, ...], from_file: Path | None, note: str) -> UrlList:
    """The arguments, then the list file, as one list; ``note`` for requests without one.

    Arguments carry no line number; a URL both given and listed is captured once."""
    wanted = read_url_list(from_file) if from_file is not None else UrlList(sha256="")
    given = parse_url_list("\n".join(u.strip() for u in urls).encode("utf-8"), is_csv=False)
    listed = {normalise_url(r.url) for r in wanted.requests}
    fresh = [r for r in given.requests if normalise_url(r.url) not in listed]
    wanted.requests = [CaptureRequest(r.url) for r in fresh] + wanted.requests
    wanted.bad_lines = [BadLine(0, b.text, b.reason) for b in given.bad_lines] + wanted.bad_lines
    wanted.requests = [r if r.note else replace(r, note=note) for r in wanted.requests]
    return wanted


def _print_result(console: Console, result: CaptureResult) -> None:
    style = STATUS_STYLE[result.status]
    where = f"line {result.line}: " if result.line else ""
    console.print(
        f"[{style}]{result.status:<8}[/] {result.kind or '-':<8} {result.capture_id or '-':<36} ",
        end="",
        highlight=False,
    )
    console.print(safe_for_terminal(f"{where}{result.url}"), markup=False, highlight=False)
    for line in ([result.reason] if result.reason else []) + result.notes:
        console.print("  " + safe_for_terminal(line), markup=False, highlight=False, style="dim")


@click.command("capture")
@click.argument("urls", nargs=-1)
@click.option(
    "--from-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="A list of URLs: text, one a line, or CSV with a 'url' and an optional 'note' column.",
)
@click.option(
    "--kind",
    type=click.Choice(REQUESTED_KINDS),
    default="auto",
    show_default=True,
    help="Collector: auto picks Telegram post, video or browser capture from the URL.",
)
@click.option("--note", default="", help="Why these are preserved (the custody log keeps it).")
@click.option("--force", is_flag=True, help="Capture again even if captured within the window.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per URL on stdout.")
def capture(
    urls: tuple[str, ...],
    from_file: Path | None,
    kind: RequestedKind,
    note: str,
    force: bool,
    as_json: bool,
) -> None:
    """Preserve the given URLs now, as captures of the built-in `adhoc` source.

    Each URL goes through the same collectors, caps, WARC writing, custody and speech
    recognition as a scheduled source. Exit 0 when every URL was captured (or already was),
    1 when any failed, 2 for bad usage.
    """
    if not urls and from_file is None:
        err_console.print("[red]error:[/] give one or more URLs, or --from-file LIST")
        sys.exit(EXIT_USAGE)
    try:
        wanted = _requests_of(urls, from_file, note)
    except UrlListError as err:
        err_console.print(f"[red]error:[/] {safe_for_terminal(str(err))}", highlight=False)
        sys.exit(EXIT_USAGE)
    settings = load_settings()
    options = CaptureOptions(
        requested_by=default_actor(),
        kind=kind,
        force=force,
        list_sha256=wanted.sha256 or None,
    )
    console = Console(stderr=True)
    bad = [
        CaptureResult(b.text, "failed", reason=b.reason, line=b.line or None)
        for b in wanted.bad_lines
    ]
    total = len(wanted.requests) + len(bad) + len(wanted.repeats)
    with Progress(
        TextColumn("capturing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=as_json,
        disable=total < 2,
    ) as progress:
        task = progress.add_task("capture", total=total)
        progress.advance(task, len(bad))
        from osint_archive.adhoc.runner import capture_urls, configured_operator

        try:
            results = asyncio.run(
                capture_urls(
                    settings,
                    wanted.requests,
                    options,
                    configured_operator(settings),
                    on_result=lambda _: progress.advance(task),
                )
            )
        except SettingsError as err:
            err_console.print(f"[red]error:[/] {err}")
            sys.exit(EXIT_USAGE)
        by_line = {r.line: r for r in results if r.line is not None}
        for line, first in sorted(wanted.repeats.items()):
            original = by_line.get(first)
            repeat = CaptureResult(
                original.url if original else "",
                "failed" if original is None or original.status == "failed" else "existing",
                original.capture_id if original else None,
                original.kind if original else "",
                f"repeats line {first}",
                original.http_status if original else None,
                line,
            )
            results.append(repeat)
            progress.advance(task)
    results = bad + results
    results.sort(key=lambda r: (r.line is not None, r.line or 0))
    for result in results:
        if as_json:
            click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        else:
            _print_result(console, result)
    counts = {s: sum(r.status == s for r in results) for s in STATUS_STYLE}
    console.print(
        f"{counts['captured']} captured, {counts['existing']} existing, {counts['failed']} failed",
        highlight=False,
    )
    sys.exit(EXIT_FAILED if counts["failed"] else 0)
