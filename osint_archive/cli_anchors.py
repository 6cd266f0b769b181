"""What ``run``, ``timestamp`` and ``audit`` print about custody anchors (human output)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from osint_archive.cli_common import err_console

if TYPE_CHECKING:
    from archive.anchors import AnchorResult
    from archive.audit_report import AuditReport


def print_anchor_checks(report: AuditReport) -> None:
    """One line counting the anchors by outcome; a warning when any is unstamped."""
    if not report.anchors:
        err_console.print("[yellow]no custody anchor to check yet[/]")
        return
    counts = Counter(check.outcome for check in report.anchors)
    err_console.print(
        f"{len(report.anchors)} custody anchor(s): {counts['passed']} stamped and verified, "
        f"{counts['not_checked']} stamped but not verified, {counts['unstamped']} unstamped, "
        f"{counts['failed']} failed",
        highlight=False,
    )
    if counts["unstamped"]:
        err_console.print(
            "[yellow]unstamped anchors prove nothing beyond this archive: set "
            "OSINT_ARCHIVE_TSA_URLS (run `osint-archive timestamp` to stamp the newest)[/]"
        )


def print_anchor_result(result: AnchorResult) -> None:
    """Where the heads were anchored, and whether a TSA stamped the root."""
    anchor = result.anchor
    if anchor is None:
        return
    made = "anchored" if result.created else "already anchored"
    stamp = f"stamped ({len(result.token_keys)} token(s))" if result.token_keys else "unstamped"
    err_console.print(
        f"custody heads of {len(anchor.heads)} chain(s) {made} in {anchor.key}, "
        f"root {anchor.root}, {stamp}",
        highlight=False,
        markup=False,
    )
    if result.stamp_error:
        err_console.print(
            f"[yellow]warning:[/] anchor not stamped: {result.stamp_error}", highlight=False
        )
