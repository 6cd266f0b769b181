"""Commands for preservation staff: ``audit``, ``timestamp``, ``export``."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from osint_archive.cli_anchors import print_anchor_checks, print_anchor_result
from osint_archive.cli_common import (
    EXIT_FAILED,
    EXIT_USAGE,
    err_console,
    human_bytes,
    load_settings,
    open_index,
    parse_date,
)


@click.command("audit")
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
    from archive.audit import audit_archive
    from archive.audit_record import last_audit_start, record_audit

    settings = load_settings()
    archive_root = settings.home / "archive"
    if settings.store_backend == "local" and not archive_root.is_dir():
        # An unmounted volume or a mistyped home must not audit as an empty, intact archive.
        err_console.print(f"[red]error:[/] no archive at {archive_root} (OSINT_ARCHIVE_HOME)")
        sys.exit(EXIT_USAGE)
    store = settings.open_store()
    since = last_audit_start(store) if since_last else None
    if since_last and since is None:
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
            f"{totals.manifests} manifests, {totals.transcripts} transcripts, "
            f"{totals.warc_records} WARC records, "
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
        print_anchor_checks(report)
        err_console.print(
            "[green]intact[/]"
            if report.intact
            else f"[red]{len(report.failures)} problem(s) found[/]"
        )
    # Recorded after the report is out, so a read-only store cannot swallow the verdict.
    try:
        anchored = record_audit(store, report, settings.timestamps.authorities)
    except (OSError, ValueError) as err:
        err_console.print(f"[yellow]warning:[/] the audit could not be recorded: {err}")
    else:
        print_anchor_result(anchored)
    sys.exit(0 if report.intact else EXIT_FAILED)


@click.command("timestamp")
@click.option("--source", "source_id", default=None, help="Only this source's manifests.")
def timestamp(source_id: str | None) -> None:
    """Timestamp every manifest that lacks a token from a configured TSA (after an outage).

    Needs OSINT_ARCHIVE_TSA_URLS. Tokens are stored beside the manifests and listed in a
    `timestamped` custody event per source; then the custody heads are anchored and the
    anchor stamped. Exit 1 if any TSA still fails.
    """
    from archive.anchors import anchor_custody
    from archive.custody import CustodyEvent, CustodyLog
    from archive.manifest import iter_manifest_keys
    from archive.timestamps import TimestampError, stamp_record, token_key

    settings = load_settings()
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
    # The custody heads too: a new anchor when events were added, else the newest one is
    # stamped by any TSA it lacks a token from (an outage during a run or an audit).
    anchored = anchor_custody(store, tsas)
    print_anchor_result(anchored)
    sys.exit(EXIT_FAILED if failures or anchored.stamp_error else 0)


@click.command("export")
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
    default=None,
    type=click.Path(path_type=Path),
    help="The .wacz file to write.",
)
@click.option(
    "--allow-damaged",
    is_flag=True,
    help="Package captures whose manifest or custody chain fails its check, with the failure "
    "stated in the summary (exit 1).",
)
@click.option(
    "--signing-key",
    type=click.Path(path_type=Path),
    default=None,
    help="The team's signing key (default: OSINT_ARCHIVE_SIGNING_KEY, else "
    "$OSINT_ARCHIVE_HOME/keys/export-signing-key.pem; made on first use).",
)
@click.option(
    "--verify",
    "verify_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Check this package offline instead of exporting: hashes, digest, signature, stamps.",
)
@click.option(
    "--expect-key", default=None, help="With --verify: the signer's key fingerprint (sha256:…)."
)
@click.option(
    "--tsa-ca-file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="With --verify: PEM roots time stamps must chain to (default OSINT_ARCHIVE_TSA_CA_FILE).",
)
@click.option("--json", "as_json", is_flag=True, help="With --verify: print the result as JSON.")
def export(
    capture_ids: tuple[str, ...],
    source_id: str | None,
    since: str | None,
    until: str | None,
    query: str | None,
    limit: int,
    title: str | None,
    out_path: Path | None,
    allow_damaged: bool,
    signing_key: Path | None,
    verify_path: Path | None,
    expect_key: str | None,
    tsa_ca_file: Path | None,
    as_json: bool,
) -> None:
    """Write a court-ready WACZ package of chosen captures, with every file's SHA-256.

    The package holds the original WARC files, an index, the manifests, the custody events
    and a human-readable summary; it passes `wacz validate`. It is signed per WACZ-auth with
    the team's key (the RFC 3161 time signature added when TSAs are configured). The export
    is recorded in each source's custody chain; with TSAs configured, the package digest is
    timestamped too (tokens beside the package as <file>.<tsa>.tsr).

    With --verify FILE, checks a package offline instead: exit 0 when it verifies, 1 when not.
    """
    from archive.export import ExportError, UnknownCaptureError, export_wacz, select_captures
    from archive.signing_key import SigningKeyError
    from archive.timestamps import TimestampError, stamp_digest
    from osint_archive.export_signer import export_signer

    if verify_path is not None:
        _verify_export(verify_path, expect_key, tsa_ca_file, as_json)
    if out_path is None:
        err_console.print("[red]error:[/] --out is required (or --verify FILE)")
        sys.exit(EXIT_USAGE)
    settings = load_settings()
    try:
        signer = export_signer(settings, signing_key)
    except SigningKeyError as err:
        err_console.print(f"[red]error:[/] {err}", highlight=False)
        sys.exit(EXIT_USAGE)
    store = settings.open_store()
    index = open_index(settings) if query else None
    try:
        manifests = select_captures(
            store,
            capture_ids=capture_ids,
            source=source_id,
            since=parse_date(since),
            until=parse_date(until, end_of_day=True),
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
            store,
            manifests,
            out_path,
            title=described,
            allow_damaged=allow_damaged,
            signer=signer,
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
    if result.signature is not None:
        stamped = result.signature.timestamped_by
        click.echo(
            f"signed by key {result.signature.key_fingerprint}"
            + (f", signature time-stamped by {stamped}" if stamped else "")
        )
        if result.signature.timestamp_error:
            err_console.print(
                f"[yellow]warning:[/] signature not time-stamped: "
                f"{result.signature.timestamp_error}",
                highlight=False,
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


def _verify_export(path: Path, expect_key: str | None, ca_file: Path | None, as_json: bool) -> None:
    """``export --verify``: print every check and exit 0 (verified) or 1 (failed)."""
    from archive.export_verify import verify_package
    from archive.timestamps import CheckOutcome

    if ca_file is not None:
        roots: bytes | None = ca_file.read_bytes()
    else:
        roots = load_settings().timestamps.trusted_roots_pem()
    result = verify_package(path, expected_key=expect_key, trusted_roots_pem=roots)
    if as_json:
        click.echo(result.to_json())
    else:
        colours = {CheckOutcome.PASSED: "green", CheckOutcome.FAILED: "red"}
        for check in result.checks:
            colour = colours.get(check.outcome, "yellow")
            err_console.print(
                f"[{colour}]{check.outcome.value:<11}[/] {check.name}: {check.detail}",
                highlight=False,
            )
        verdict = "[green]verified[/]" if result.ok else "[red]verification FAILED[/]"
        err_console.print(f"{path}: {verdict}", highlight=False)
    sys.exit(0 if result.ok else EXIT_FAILED)
