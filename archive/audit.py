"""Fixity audit: re-verify every stored object, manifest, WARC record and custody chain.

``audit_archive`` works on any ``ObjectStore`` in three passes:

1. custody (``archive.audit_custody``): every chain verified end to end; what its events
   record (manifest hashes, stored payloads) indexed; every custody anchor checked after the
   other passes (``archive.audit_anchors``): each chain head it pins must be unchanged;
2. manifests (``archive.audit_manifests``): each one's bytes hashed against its custody
   ``captured`` event, its references collected;
3. payloads (``archive.audit_payloads``): every object streamed once in parallel and its
   SHA-256 compared with its key; WARCs are read record by record in the same pass
   (``archive.audit_warc``), and each revisit is matched with the record it refers to.

Findings name the key they concern; ``AuditReport.intact`` is the verdict. What the passes
learn about each capture is kept on disk (``archive.audit_lookup``), so memory stays flat in
the number of captures as it does in the size of an object; only findings are held.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime

from archive.audit_anchors import check_anchors
from archive.audit_custody import check_custody
from archive.audit_lookup import AuditLookup
from archive.audit_manifests import check_manifests
from archive.audit_payloads import PayloadCheck, check_payload, in_sample, payload_stored_at
from archive.audit_records import parallel_map
from archive.audit_report import (
    FINDING_KINDS,
    AuditMode,
    AuditReport,
    AuditTotals,
    Finding,
    FindingKind,
)
from archive.audit_timestamps import check_timestamps
from archive.audit_transcripts import check_transcripts
from archive.audit_warc import Revisit, WarcScan
from archive.custody import CustodyEvent
from archive.keys import sha256_of_payload_key
from archive.store import ObjectStore

__all__ = [
    "AuditReport",
    "AuditTotals",
    "Finding",
    "FindingKind",
    "audit_archive",
    "audit_custody_event",
    "payload_stored_at",
]

ProgressCallback = Callable[[int, int], None]


def audit_archive(
    store: ObjectStore,
    *,
    workers: int = 4,
    since: datetime | None = None,
    sample: float | None = None,
    on_progress: ProgressCallback | None = None,
    seed: int | None = None,
    timestamp_roots: bytes | None = None,
    scratch_dir: str | None = None,
) -> AuditReport:
    """Audit the whole archive in ``store`` and report every finding.

    ``since`` re-hashes only payloads stored at or after that moment (naive means UTC; on
    backends that cannot tell when an object was stored, every payload is re-hashed);
    ``sample`` re-hashes that fraction (0 < f <= 1) of payloads, chosen by ``seed`` (random
    when None; the report records it). Manifests and custody chains are always checked in
    full. ``on_progress(done, total)`` follows the payloads re-hashed. RFC 3161 tokens are
    checked against their records, and their signatures against ``timestamp_roots`` if given.
    The per-capture lookups live in a temporary directory under ``scratch_dir`` (the system's
    temporary directory when None), removed when the audit ends.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if sample is not None and not 0 < sample <= 1:
        raise ValueError(f"sample must be a fraction in (0, 1], got {sample}")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if sample is not None and seed is None:
        seed = secrets.randbelow(2**32)
    report = AuditReport(
        store=store.name,
        mode=_mode(since, sample),
        started_at=datetime.now(UTC),
        duration_seconds=0.0,
        workers=workers,
        since=since,
        sample=sample,
        seed=seed if sample is not None else None,
    )
    started = time.perf_counter()
    # Twice the workers in flight keeps every thread busy without queueing the whole archive.
    window = 2 * workers
    findings, totals = report.findings, report.totals
    with (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit") as pool,
        AuditLookup(scratch_dir) as lookup,
    ):
        totals.chains = check_custody(store, pool, window, lookup, findings)
        totals.events = lookup.events
        totals.manifests = check_manifests(store, pool, window, lookup, findings)
        totals.transcripts = check_transcripts(store, pool, window, lookup, findings)
        _check_payloads(store, pool, window, lookup, report, on_progress)
        check_timestamps(store, timestamp_roots, lookup, totals, findings, pool, window)
    report.anchors = check_anchors(store, timestamp_roots, report.findings)
    _count_anchors(report)
    order = {kind: position for position, kind in enumerate(FINDING_KINDS)}
    report.findings.sort(key=lambda f: (order[f.kind], f.key, f.detail))
    report.duration_seconds = time.perf_counter() - started
    return report


MAX_FAILURES_IN_EVENT = 100


def audit_custody_event(report: AuditReport) -> CustodyEvent:
    """The ``audited`` custody event recording an audit: options, totals, verdict, and the
    first failures by kind and key (the full list is in the JSON report)."""
    failures = report.failures
    return CustodyEvent(
        event_id=f"audited:{report.started_at.isoformat()}",
        type="audited",
        subject=f"{report.store} store",
        details={
            "intact": report.intact,
            "mode": report.mode,
            "since": report.since.isoformat() if report.since else None,
            "sample": report.sample,
            "seed": report.seed,
            "duration_seconds": round(report.duration_seconds, 3),
            "totals": asdict(report.totals),
            "counts": report.counts(),
            "failures": [{"kind": f.kind, "key": f.key} for f in failures[:MAX_FAILURES_IN_EVENT]],
        },
    )


def _count_anchors(report: AuditReport) -> None:
    totals = report.totals
    totals.anchors = len(report.anchors)
    totals.anchors_verified = sum(a.outcome == "passed" for a in report.anchors)
    totals.anchors_unchecked = sum(a.outcome == "not_checked" for a in report.anchors)
    totals.anchors_unstamped = sum(a.outcome == "unstamped" for a in report.anchors)


def _mode(since: datetime | None, sample: float | None) -> AuditMode:
    if since is not None and sample is not None:
        return "since+sample"
    if since is not None:
        return "since"
    return "sample" if sample is not None else "full"


def _selected(store: ObjectStore, key: str, report: AuditReport) -> bool:
    """Whether this audit re-hashes the payload under ``key`` (always, in a full audit)."""
    sample, seed = report.sample, report.seed
    if sample is not None and seed is not None and not in_sample(seed, key, sample):
        return False
    if report.since is not None:
        stored = payload_stored_at(store, key)
        if stored is not None and stored < report.since:
            return False
    return True


def _check_payloads(
    store: ObjectStore,
    pool: ThreadPoolExecutor,
    window: int,
    lookup: AuditLookup,
    report: AuditReport,
    on_progress: ProgressCallback | None,
) -> None:
    totals, findings = report.totals, report.findings
    # Two passes over the listing instead of a list of every object: memory stays flat in
    # the number of payloads, and the first pass gives the progress total.
    to_hash = 0
    for key in store.list_keys("objects/"):
        totals.objects += 1
        if sha256_of_payload_key(key) is None:
            findings.append(
                Finding(
                    "unreferenced",
                    key,
                    "not a content address (objects/sha256/"
                    "<2>/<2>/<64 hex>); nothing can refer to it",
                )
            )
            continue
        # A stored key leaves the references: those left at the end are missing.
        if not lookup.reference_found(key):
            findings.append(
                Finding("unreferenced", key, "referenced by no manifest and no custody event")
            )
        to_hash += _selected(store, key, report)
    for key, referrers in lookup.missing_references():
        findings.append(Finding("missing", key, f"not stored; referenced by {referrers}"))

    def selected() -> Iterator[tuple[str, bool]]:
        # Runs in this thread (parallel_map consumes it here): only it may ask the lookup.
        for key in store.list_keys("objects/"):
            if sha256_of_payload_key(key) is not None and _selected(store, key, report):
                yield key, lookup.is_warc(key)

    def task(item: tuple[str, bool]) -> PayloadCheck:
        key, is_warc = item
        return check_payload(store, key, key.rsplit("/", 1)[-1], is_warc)

    for done, check in enumerate(parallel_map(pool, task, selected(), window), start=1):
        _record_payload(check, lookup, report)
        if on_progress is not None:
            on_progress(done, max(done, to_hash))
    for warc_key, revisit in lookup.pending_revisits():
        _check_revisit(warc_key, revisit, lookup, report, final=True)


def _record_payload(check: PayloadCheck, lookup: AuditLookup, report: AuditReport) -> None:
    totals, findings, key = report.totals, report.findings, check.key
    if check.missing:
        findings.append(Finding("missing", key, "deleted while the audit ran"))
        return
    if check.error is not None:
        findings.append(Finding("unreadable", key, f"could not be read: {check.error}"))
        return
    totals.objects_hashed += 1
    totals.bytes_hashed += check.size
    if check.corrupt:
        findings.append(
            Finding(
                "corrupt",
                key,
                f"stored bytes hash to {check.actual}, not to the SHA-256 their key names",
                expected=check.expected,
                actual=check.actual,
            )
        )
    if check.warc is not None:
        _record_warc(key, check.warc, lookup, report)


def _record_warc(key: str, scan: WarcScan, lookup: AuditLookup, report: AuditReport) -> None:
    totals, findings = report.totals, report.findings
    totals.warcs += 1
    totals.warc_records += scan.records
    totals.digests_verified += scan.digests_verified
    totals.digests_unchecked += scan.digests_unchecked
    totals.revisits += len(scan.revisits)
    findings.extend(Finding("invalid_warc", key, p.describe()) for p in scan.problems)
    lookup.add_payload_digests(scan.payload_digests)
    for revisit in scan.revisits:
        if not _check_revisit(key, revisit, lookup, report, final=False):
            lookup.add_pending_revisit(key, revisit)
    for expected in lookup.expected_records(key):
        position = scan.positions.get(expected.record_id)
        if position is None:
            findings.append(
                Finding(
                    "missing",
                    key,
                    f"record {expected.record_id} of capture {expected.capture_id} (manifest "
                    f"{expected.manifest_key}) is not in this WARC",
                    capture_id=expected.capture_id,
                )
            )
        elif position != (expected.offset, expected.length):
            findings.append(
                Finding(
                    "invalid_warc",
                    key,
                    f"record {expected.record_id} of capture {expected.capture_id} is at "
                    f"offset {position[0]} (length {position[1]}), not where manifest "
                    f"{expected.manifest_key} places it",
                    expected=f"{expected.offset}+{expected.length}",
                    actual=f"{position[0]}+{position[1]}",
                    capture_id=expected.capture_id,
                )
            )


def _check_revisit(
    warc_key: str, revisit: Revisit, lookup: AuditLookup, report: AuditReport, final: bool
) -> bool:
    """Match a revisit with the record it refers to; False while that record is unseen.

    With ``final`` (every selected WARC read), an unseen record is missing in a full audit
    and merely unchecked in a partial one, whose unread WARCs may hold it.
    """
    if revisit.refers_to is None or revisit.payload_digest is None:
        return True  # a revisit need not name its original; nothing to match
    original = lookup.payload_digest(revisit.refers_to)
    if original is None:
        if final and report.mode == "full":
            report.findings.append(
                Finding(
                    "missing",
                    warc_key,
                    f"revisit {revisit.record_id} at offset {revisit.offset} refers to record "
                    f"{revisit.refers_to}, which no stored WARC holds",
                    capture_id=lookup.capture_of(warc_key, revisit.record_id),
                )
            )
        return False
    if original == revisit.payload_digest:
        report.totals.revisits_verified += 1
    else:
        report.findings.append(
            Finding(
                "invalid_warc",
                warc_key,
                f"revisit {revisit.record_id} at offset {revisit.offset} records payload digest "
                f"{revisit.payload_digest}, but the record it refers to, {revisit.refers_to}, "
                f"has {original}",
                expected=original,
                actual=revisit.payload_digest,
                capture_id=lookup.capture_of(warc_key, revisit.record_id),
            )
        )
    return True
