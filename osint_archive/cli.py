"""The ``osint-archive`` command line (the external contract in ARCHITECTURE.md)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archive.store import ObjectNotFoundError
from index.backend import SearchFilters
from index.rebuild import rebuild_index
from osint_archive.settings import Settings, SettingsError
from osint_archive.sources import (
    Source,
    SourcesConfig,
    SourcesConfigError,
    UnknownSourceError,
    load_sources,
    select_sources,
)

# Messages are never wrapped: scripts match `file:line: field: message` lines whole.
if TYPE_CHECKING:  # the pipeline pulls in aiohttp and trafilatura: loaded only to run
    from osint_archive.pipeline import SourceOutcome

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


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as err:
        err_console.print(f"[red]error:[/] {err}")
        sys.exit(EXIT_USAGE)


def _load_config(path: Path) -> SourcesConfig:
    try:
        return load_sources(path)
    except SourcesConfigError as err:
        for problem in err.problems:
            err_console.print(str(problem), markup=False, highlight=False)
        err_console.print(f"[red]{len(err.problems)} problem(s) in {path}[/]")
        sys.exit(EXIT_USAGE)


def human_bytes(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


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
    path = config_path or _settings().config_path
    config = _load_config(path)
    click.echo(f"{path}: {len(config.sources)} sources OK")


def summary_table(outcomes: Sequence[SourceOutcome]) -> Table:
    table = Table(title="osint-archive run")
    for column in ("source", "status", "pages", "new bytes", "revisits", "changed", "failures"):
        table.add_column(column, justify="left" if column in ("source", "status") else "right")
    for o in outcomes:
        status = (
            ("[green]ok[/]" + (" (resumed)" if o.resumed else "")) if o.ok else "[red]failed[/]"
        )
        table.add_row(
            o.source_id,
            status,
            str(o.pages),
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

        outcomes = asyncio.run(run_sources(settings, config, chosen, on_progress, on_done))
    console.print(summary_table(outcomes))
    for o in outcomes:
        if o.error:
            console.print(f"[red]{o.source_id}[/]: {o.error}", highlight=False, soft_wrap=True)
        for note in o.notes:
            console.print(f"[yellow]{o.source_id}[/]: {note}", highlight=False, soft_wrap=True)
        for failure in o.failures[:10]:
            console.print(
                f"  {o.source_id}: {failure.stage} failed for {failure.url}: {failure.reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        if len(o.failures) > 10:
            console.print(f"  {o.source_id}: … and {len(o.failures) - 10} more failures")
    return outcomes


@main.command("run")
@config_option
@click.option("--source", "source_ids", multiple=True, help="Only this source id (repeatable).")
def run(config_path: Path | None, source_ids: tuple[str, ...]) -> None:
    """One pass over the sources: collect → archive → index. Exit 1 if any source failed."""
    settings = _settings()
    config = _load_config(config_path or settings.config_path)
    try:
        chosen = select_sources(config, source_ids)
    except UnknownSourceError as err:
        err_console.print(f"[red]error:[/] {err}")
        sys.exit(EXIT_USAGE)
    outcomes = run_with_progress(settings, config, chosen, Console(stderr=True))
    sys.exit(0 if all(o.ok for o in outcomes) else EXIT_FAILED)


def _date(value: str | None, end_of_day: bool = False) -> datetime | None:
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


@main.command("search")
@click.argument("query")
@click.option("--lang", default=None, help="Language code, e.g. ru, be, uk, en.")
@click.option("--source", "source_id", default=None, help="Source id.")
@click.option("--kind", type=click.Choice(["page", "post", "transcript"]), default=None)
@click.option("--since", default=None, help="Captured on or after this date (ISO).")
@click.option("--until", default=None, help="Captured on or before this date (ISO).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def search(
    query: str,
    lang: str | None,
    source_id: str | None,
    kind: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Full-text search over pages, posts and transcripts."""
    filters = SearchFilters(
        kind=kind,
        source=source_id,
        lang=lang,
        since=_date(since),
        until=_date(until, end_of_day=True),
    )
    index = _settings().open_index()
    try:
        hits = index.search(query, filters, limit)
    finally:
        index.close()
    for hit in hits:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": hit.id,
                        "kind": hit.kind,
                        "source": hit.source,
                        "url": hit.url,
                        "capture_id": hit.capture_id,
                        "lang": hit.lang,
                        "captured_at": hit.captured_at,
                        "snippet": hit.snippet,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            click.echo(f"{hit.captured_at[:19]}  {hit.source}  {hit.url}\n    {hit.snippet}")
    if not hits and not as_json:
        err_console.print("no results")


@main.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the archive alone (manifests and text objects)."""
    settings = _settings()
    store = settings.open_store()
    index = settings.open_index()
    try:
        count = rebuild_index(store, index)
    finally:
        index.close()
    click.echo(f"indexed {count} documents")


AUDIT_CHAIN = "_audit"  # "_" cannot start a source id, so no source chain is ever named so
LAST_AUDIT_STATE = "state/audit/last.json"


@main.command("audit")
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--since-last", is_flag=True, help="Re-hash only payloads stored since the last audit began."
)
@click.option(
    "--sample",
    type=click.FloatRange(0, 1, min_open=True),
    default=None,
    help="Re-hash only this random fraction of payloads (e.g. 0.05).",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Parallel readers."
)
def audit(as_json: bool, since_last: bool, sample: float | None, workers: int) -> None:
    """Re-verify every object, manifest, WARC record, custody chain and timestamp token.

    Exit 0 when everything is intact, 1 listing each missing, corrupt or invalid item.
    Manifests, custody chains and tokens are always checked in full.
    """
    from archive.audit import audit_archive, audit_custody_event
    from archive.custody import CustodyLog

    settings = _settings()
    archive_root = settings.home / "archive"
    if settings.store_backend == "local" and not archive_root.is_dir():
        # An unmounted volume or a mistyped home must not audit as an empty, intact archive.
        err_console.print(f"[red]error:[/] no archive at {archive_root} (OSINT_ARCHIVE_HOME)")
        sys.exit(EXIT_USAGE)
    store = settings.open_store()
    since = None
    if since_last:
        try:
            since = datetime.fromisoformat(json.loads(store.read_bytes(LAST_AUDIT_STATE))["at"])
        except (KeyError, TypeError, ValueError, ObjectNotFoundError):
            err_console.print("no earlier audit recorded: auditing everything")
    with Progress(
        TextColumn("audit"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("audit", total=None)
        report = audit_archive(
            store,
            workers=workers,
            since=since,
            sample=sample,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            timestamp_roots=settings.timestamps.trusted_roots_pem(),
        )
    if as_json:
        click.echo(report.to_json())
    else:
        totals = report.totals
        err_console.print(
            f"{totals.objects_hashed} objects ({human_bytes(totals.bytes_hashed)}) re-hashed, "
            f"{totals.manifests} manifests, {totals.warc_records} WARC records, "
            f"{totals.chains} custody chains, {totals.timestamps_verified} timestamps verified "
            f"in {report.duration_seconds:.1f} s ({report.mode})",
            highlight=False,
        )
        for finding in report.findings:
            click.echo(f"{finding.kind}: {finding.key}: {finding.detail}")
        if totals.timestamps_unchecked:
            err_console.print(
                f"[yellow]{totals.timestamps_unchecked} timestamp token(s) match their records "
                "but were not verified: set OSINT_ARCHIVE_TSA_CA_FILE to the TSAs' roots[/]"
            )
        err_console.print(
            "[green]intact[/]"
            if report.intact
            else f"[red]{len(report.failures)} problem(s) found[/]"
        )
    # Recorded after the report is out, so a read-only store cannot swallow the verdict.
    try:
        CustodyLog(store, AUDIT_CHAIN).append([audit_custody_event(report)])
        # Only an audit that re-hashed everything it could marks the point --since-last
        # starts from; a sample leaves objects unread.
        if report.intact and report.mode in ("full", "since"):
            store.put_state(
                LAST_AUDIT_STATE, json.dumps({"at": report.started_at.isoformat()}).encode()
            )
    except (OSError, ValueError) as err:
        err_console.print(f"[yellow]warning:[/] the audit could not be recorded: {err}")
    sys.exit(0 if report.intact else EXIT_FAILED)


@main.command("timestamp")
@click.option("--source", "source_id", default=None, help="Only this source's manifests.")
def timestamp(source_id: str | None) -> None:
    """Timestamp every manifest that lacks a token from a configured TSA (after an outage).

    Needs OSINT_ARCHIVE_TSA_URLS. Tokens are stored beside the manifests and listed in a
    `timestamped` custody event per source. Exit 1 if any TSA still fails.
    """
    from archive.custody import CustodyEvent, CustodyLog
    from archive.manifest import iter_manifest_keys
    from archive.timestamps import TimestampError, stamp_record, token_key

    settings = _settings()
    tsas = settings.timestamps.authorities
    if not tsas:
        err_console.print("[red]error:[/] no TSA configured: set OSINT_ARCHIVE_TSA_URLS")
        sys.exit(EXIT_USAGE)
    store = settings.open_store()
    by_source: dict[str, list[str]] = {}
    for key in iter_manifest_keys(store, source_id):
        if not all(store.exists(token_key(key, tsa.name)) for tsa in tsas):
            by_source.setdefault(key.split("/")[1], []).append(key)
    failures = 0
    for source, keys in sorted(by_source.items()):
        stamped: list[str] = []
        for key in keys:
            try:
                stamped += stamp_record(store, key, tsas)
            except TimestampError as err:
                failures += 1
                err_console.print(f"{key}: {err}", highlight=False, markup=False)
        if stamped:
            CustodyLog(store, source).append(
                [
                    CustodyEvent(
                        f"timestamped:{hashlib.sha256(' '.join(stamped).encode()).hexdigest()}",
                        "timestamped",
                        f"{len(keys)} manifests",
                        {"tokens": sorted(stamped)},
                    )
                ]
            )
    total = sum(len(keys) for keys in by_source.values())
    click.echo(f"{total - failures} of {total} manifests without a token are now timestamped")
    sys.exit(EXIT_FAILED if failures else 0)


@main.command("export")
@click.option("--capture", "capture_ids", multiple=True, help="A capture id (repeatable).")
@click.option("--source", "source_id", default=None, help="Captures of this source.")
@click.option("--since", default=None, help="Captured on or after this date (ISO).")
@click.option("--until", default=None, help="Captured on or before this date (ISO).")
@click.option("--query", default=None, help="Captures whose text matches this search.")
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="Most captures a --query selects.",
)
@click.option("--title", default=None, help="Package title (default: describes the selection).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The .wacz file to write.",
)
@click.option(
    "--allow-damaged",
    is_flag=True,
    help="Package captures whose manifest or custody chain fails its check, with the failure "
    "stated in the summary (exit 1).",
)
def export(
    capture_ids: tuple[str, ...],
    source_id: str | None,
    since: str | None,
    until: str | None,
    query: str | None,
    limit: int,
    title: str | None,
    out_path: Path,
    allow_damaged: bool,
) -> None:
    """Write a court-ready WACZ package of chosen captures, with every file's SHA-256.

    The package holds the original WARC files, an index, the manifests, the custody events
    and a human-readable summary; it passes `wacz validate`. The export is recorded in each
    source's custody chain; with TSAs configured, the package digest is timestamped too
    (tokens beside the package as <file>.<tsa>.tsr).
    """
    from archive.export import ExportError, UnknownCaptureError, export_wacz, select_captures
    from archive.timestamps import TimestampError, stamp_digest

    settings = _settings()
    store = settings.open_store()
    index = settings.open_index() if query else None
    try:
        manifests = select_captures(
            store,
            capture_ids=capture_ids,
            source=source_id,
            since=_date(since),
            until=_date(until, end_of_day=True),
            query=query,
            index=index,
            limit=limit,
        )
    except (UnknownCaptureError, ValueError) as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_USAGE)
    finally:
        if index is not None:
            index.close()
    if not manifests:
        err_console.print("[red]error:[/] no capture matches the selection")
        sys.exit(EXIT_USAGE)
    described = title or "osint-archive export: " + ", ".join(
        part
        for part in (
            f"{len(manifests)} captures",
            f"source {source_id}" if source_id else "",
            f"query {query!r}" if query else "",
        )
        if part
    )
    try:
        result = export_wacz(
            store, manifests, out_path, title=described, allow_damaged=allow_damaged
        )
    except (ExportError, ValueError) as err:  # damaged or malformed evidence is never packaged
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_FAILED)
    except OSError as err:
        err_console.print(f"[red]error:[/] cannot write {out_path}: {err}", highlight=False)
        sys.exit(EXIT_USAGE)
    click.echo(
        f"{result.path}  sha256:{result.sha256}  {human_bytes(result.size)}  "
        f"{len(result.captures)} captures, {len(result.files)} files"
    )
    tsas = settings.timestamps.authorities
    if tsas:
        try:
            tokens = stamp_digest(bytes.fromhex(result.sha256), tsas)
        except TimestampError as err:
            err_console.print(f"[yellow]warning:[/] package not timestamped: {err}")
        else:
            for name, token in tokens.items():
                out_path.with_name(f"{out_path.name}.{name}.tsr").write_bytes(token)
            click.echo(f"timestamped by {', '.join(tokens)}")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    sys.exit(EXIT_FAILED if result.warnings else 0)


DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"
DEMO_QUERIES = ("задержали", "Мінску", "trial")


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

    settings = _settings()
    # The demo's own site is on loopback: allow exactly that address, nothing else private.
    loopback = NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_NETWORKS": "127.0.0.1/32"})
    settings = replace(settings, network=loopback)
    config = _load_config(DEMO_CONFIG)
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
            for hit in index.search(query, SearchFilters(), limit=3):
                console.print(
                    f"{hit.url}  [dim]{hit.capture_id}[/]\n    {hit.snippet}", highlight=False
                )
    finally:
        index.close()
    console.rule("Next")
    console.print(
        '  .venv/bin/osint-archive search "задержали" --json\n'
        "  .venv/bin/osint-archive audit\n"
        "  .venv/bin/osint-archive export --source demo-news --out demo.wacz",
        highlight=False,
        markup=False,
    )
    ok = all(o.ok for o in (*first, *second))
    sys.exit(0 if ok else EXIT_FAILED)


if __name__ == "__main__":
    main()
