"""The weekly fixity audit as a scheduled task."""

from __future__ import annotations

import logging
from dataclasses import asdict

from archive.audit import audit_archive
from archive.audit_record import last_audit_start, record_audit
from osint_archive.scheduling.failures import PermanentFailure
from osint_archive.settings import Settings

FINDINGS_SHOWN = 20
log = logging.getLogger(__name__)


def audit_fixity(settings: Settings, since_last: bool = False) -> dict[str, object]:
    """Re-hash the archive (only what was stored since the last intact audit with
    ``since_last``), record the audit in the custody log, and return its counts.

    Raises ``PermanentFailure`` listing the findings when anything is missing or corrupt:
    retrying cannot repair evidence, a person must look."""
    store = settings.open_store()
    since = last_audit_start(store) if since_last else None
    report = audit_archive(
        store, since=since, timestamp_roots=settings.timestamps.trusted_roots_pem()
    )
    # The verdict first: a store that cannot take the audit's record must not hide it, and a
    # retry would re-hash the whole archive.
    try:
        record_audit(store, report, settings.timestamps.authorities)
    except (OSError, ValueError) as err:
        log.warning("the audit could not be recorded: %s", err)
    if not report.intact:
        failures = report.failures
        lines = [f"{f.kind}: {f.key}: {f.detail}" for f in failures[:FINDINGS_SHOWN]]
        more = len(failures) - len(lines)
        raise PermanentFailure(
            f"audit found {len(failures)} problem(s):\n"
            + "\n".join(lines)
            + (f"\n… and {more} more (run `osint-archive audit`)" if more else "")
        )
    return asdict(report.totals)
