"""The ``osint-archive`` command line (the external contract in ARCHITECTURE.md)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from index.backend import SearchRequest
from osint_archive.cli_anchors import print_anchor_result
from osint_archive.cli_capture import capture
from osint_archive.cli_common import (
    EXIT_FAILED,
    EXIT_USAGE,
    config_option,
    err_console,
    human_bytes,
    load_config,
    load_settings,
    open_index,
)
from osint_archive.cli_preservation import audit, export, timestamp
from osint_archive.cli_search import print_hit, reindex, search
from osint_archive.cli_transcribe import transcribe
from osint_archive.cli_web import serve, users
from osint_archive.settings import Settings
from osint_archive.sources import (
    Source,
    SourcesConfig,
    UnknownSourceError,
    select_sources,
)
from osint_archive.terminal_text import safe_for_terminal

if TYPE_CHECKING:  # the pipeline pulls in aiohttp and trafilatura: loaded only to run
    from osint_archive.pipeline import SourceOutcome

__all__ = ["main"]


@click.group()
@click.version_option(package_name="osint-archive")
def main() -> None:
    """Collect, preserve and search open-source evidence."""


@main.group()
def sources() -> None:
    """Inspect the sources configuration."""


@sources.command("validate")
@config_option
def sources_validate(config_path: Path | None) -> None:
    """Check the sources file; exit 2 listing every problem with file, line and field."""
    path = config_path or load_settings().config_path
    config = load_config(path)
    click.echo(f"{path}: {len(config.sources)} sources OK")


@sources.command("pools")
@config_option
def sources_pools(config_path: Path | None) -> None:
    """Print the Airflow pools the sources' DAGs use, as JSON for `airflow pools import`:
    one per host (one crawl of a host at a time), `browser` and `speech`."""
    from osint_archive.scheduling.pools import pool_specs

    config = load_config(config_path or load_settings().config_path)
    click.echo(json.dumps(pool_specs(config), indent=2))


def summary_table(outcomes: Sequence[SourceOutcome]) -> Table:
    table = Table(title="osint-archive run")
    columns = ("source", "kind", "status", "pages", "posts", "media", "transcripts", "new bytes")
    for column in (*columns, "revisits", "changed", "failures"):
        left = column in ("source", "kind", "status")
        table.add_column(column, justify="left" if left else "right")
    for o in outcomes:
        status = (
            ("[green]ok[/]" + (" (resumed)" if o.resumed else "")) if o.ok else "[red]failed[/]"
        )
        table.add_row(
            Text(safe_for_terminal(o.source_id)),  # cells are markup unless given as Text
            Text(safe_for_terminal(o.kind)),
            status,
            str(o.pages),
            str(o.counts.get("posts", "")),
            str(o.counts.get("media", "")),
            str(o.counts.get("transcripts", "")),
            human_bytes(o.new_bytes),
            str(o.revisits),
            str(o.changed),
            str(len(o.failures)),
        )
    return table


def run_with_progress(
    settings: Settings, config: SourcesConfig, chosen: Sequence[Source], console: Console
) -> list[SourceOutcome]:
    """Run the chosen sources with a live progress display, then print the summary."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        tasks = {s.id: progress.add_task(s.id, total=s.max_pages) for s in chosen}

        def on_progress(source_id: str, pages: int) -> None:
            progress.update(tasks[source_id], completed=pages)

        def on_done(outcome: SourceOutcome) -> None:
            progress.update(
                tasks[outcome.source_id], completed=outcome.pages, total=max(outcome.pages, 1)
            )

        from osint_archive.pipeline import run_sources

        outcomes = asyncio.run(
            run_sources(settings, config, chosen, on_progress, on_done, anchor_heads=False)
        )
    if settings.transcribe_in_run:
        from osint_archive.cli_transcribe import AudioProgress
        from osint_archive.pipeline import transcribe_captured

        audio_progress = AudioProgress(console)
        try:
            transcribe_captured(settings, chosen, outcomes, audio_progress)
        finally:
            audio_progress.stop()
    # Anchored once the transcripts' custody events are in too: one anchor per pass.
    from osint_archive.pipeline import anchor_custody_heads

    anchored = anchor_custody_heads(settings, outcomes)
    console.print(summary_table(outcomes))
    for o in outcomes:
        # Errors, notes and failures quote what sites sent (URLs, reasons): shown as text.
        source = escape(safe_for_terminal(o.source_id))
        if o.error:
            error = escape(safe_for_terminal(o.error))
            console.print(f"[red]{source}[/]: {error}", highlight=False, soft_wrap=True)
        for note in o.notes:
            shown = escape(safe_for_terminal(note))
            console.print(f"[yellow]{source}[/]: {shown}", highlight=False, soft_wrap=True)
        for failure in o.failures[:10]:
            console.print(
                safe_for_terminal(
                    f"  {o.source_id}: {failure.stage} failed for {failure.url}: {failure.reason}"
                ),
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if len(o.failures) > 10:
            console.print(f"  {o.source_id}: … and {len(o.failures) - 10} more failures")
    if anchored is not None:
        print_anchor_result(anchored)
    return outcomes


@main.command("run")
@config_option
@click.option("--source", "source_ids", multiple=True, help="Only this source id (repeatable).")
def run(config_path: Path | None, source_ids: tuple[str, ...]) -> None:
    """One pass over the sources: collect → archive → transcribe → index. Exit 1 if any
    source failed."""
    settings = load_settings()
    config = load_config(config_path or settings.config_path)
    try:
        chosen = select_sources(config, source_ids)
    except UnknownSourceError as err:
        err_console.print(f"[red]error:[/] {err}")
        sys.exit(EXIT_USAGE)
    open_index(settings).close()  # an index to rebuild is reported before anything is fetched
    outcomes = run_with_progress(settings, config, chosen, Console(stderr=True))
    sys.exit(0 if all(o.ok for o in outcomes) else EXIT_FAILED)


DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"
DEMO_QUERIES = ("задержание", "Минск", "trial", "избили")  # the last is only spoken


@main.command("demo")
@click.option("--port", default=8765, show_default=True, help="Loopback port for the demo site.")
def demo(port: int) -> None:
    """Serve the bundled demo site on loopback, archive it twice, and search the result.

    The second pass runs after one page changed: unchanged pages become WARC revisits and the
    changed page is flagged in its manifest.
    """
    from dataclasses import replace

    from collectors.netguard import NetworkPolicy
    from osint_archive.demo_site import DemoSite

    settings = load_settings()
    # The demo's own site is on loopback: allow exactly that address, nothing else private.
    loopback = NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_NETWORKS": "127.0.0.1/32"})
    settings = replace(settings, network=loopback)
    open_index(settings).close()
    config = load_config(DEMO_CONFIG)
    base = f"http://127.0.0.1:{port}/"
    chosen = [s.model_copy(update={"url": base}) for s in config.sources]
    console = Console(stderr=True)
    try:
        site = DemoSite(port=port)
        site.start()
    except OSError as err:
        err_console.print(
            f"[red]error:[/] cannot serve the demo site on port {port}: {err}; try --port"
        )
        sys.exit(EXIT_USAGE)
    try:
        console.rule(f"Pass 1: archiving the demo site at {base} into {settings.home}")
        first = run_with_progress(settings, config, chosen, console)
        site.edition += 1
        console.rule("Pass 2: the live page changed; the rest is unchanged")
        second = run_with_progress(settings, config, chosen, console)
    finally:
        site.stop()
    index = settings.open_index()
    try:
        for query in DEMO_QUERIES:
            console.rule(f"osint-archive search {query!r}")
            for number, hit in enumerate(index.search(SearchRequest.of(query, limit=3)), 1):
                print_hit(console, number, hit)
    finally:
        index.close()
    console.rule("Next")
    console.print(
        '  .venv/bin/osint-archive search "задержание" --json\n'
        '  .venv/bin/osint-archive search "Минск" --lang be\n'
        '  .venv/bin/osint-archive search "избили" --kind transcript --json\n'
        "  .venv/bin/osint-archive audit\n"
        "  .venv/bin/osint-archive export --source demo-news --out demo.wacz",
        highlight=False,
        markup=False,
    )
    ok = all(o.ok for o in (*first, *second))
    sys.exit(0 if ok else EXIT_FAILED)


for command in (audit, timestamp, export, transcribe, search, reindex, serve, users, capture):
    main.add_command(command)


if __name__ == "__main__":
    main()
