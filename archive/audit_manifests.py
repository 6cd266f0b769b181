"""The audit's manifest pass: each manifest's bytes against its custody ``captured`` event.

A manifest custody does not list is orphaned; one whose bytes hash otherwise is corrupt; a
capture custody lists without a manifest is missing, named by the key it would be filed
under. What each manifest references is indexed for the payload pass.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Executor
from dataclasses import dataclass

from pydantic import ValidationError

from archive.audit_lookup import AuditLookup
from archive.audit_records import ExpectedRecord, Listed, parallel_map
from archive.audit_report import Finding
from archive.keys import sha256_of_payload_key
from archive.manifest import CaptureManifest
from archive.store import ObjectNotFoundError, ObjectStore


@dataclass(frozen=True)
class _ManifestRead:
    key: str
    sha256: str | None = None
    manifest: CaptureManifest | None = None
    error: str | None = None


def _read_manifest(store: ObjectStore, key: str) -> _ManifestRead:
    try:
        data = store.read_bytes(key)
    except ObjectNotFoundError:
        return _ManifestRead(key, error="deleted while the audit ran")
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        return _ManifestRead(key, sha256, CaptureManifest.model_validate_json(data))
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "document"
        return _ManifestRead(
            key, sha256, error=f"not a valid capture manifest: {where}: {first['msg']}"
        )


def check_manifests(
    store: ObjectStore,
    pool: Executor,
    window: int,
    lookup: AuditLookup,
    findings: list[Finding],
) -> int:
    """Check every manifest against custody and collect its references; returns the count."""
    # Streamed from the listing, a window of reads in flight: never a list of every manifest.
    keys = (key for key in store.list_keys("captures/") if key.endswith(".json"))
    count = 0
    for read in parallel_map(pool, lambda k: _read_manifest(store, k), keys, window):
        _check_manifest(read, lookup, findings)
        count += 1
    for capture_id, listed in lookup.listed_without_manifest():
        findings.append(_missing_manifest(capture_id, listed, lookup))
    return count


def _missing_manifest(capture_id: str, listed: Listed, lookup: AuditLookup) -> Finding:
    day = lookup.run_day(listed.warc_key) or "<run day unknown>"
    expected_key = f"captures/{listed.chain}/{day}/{capture_id}.json"
    return Finding(
        "missing",
        expected_key,
        f"manifest of capture {capture_id}, listed by {listed.event_key}, is not stored",
        expected=listed.manifest_sha256,
        capture_id=capture_id,
        chain=listed.chain,
        position=listed.seq,
    )


def _check_manifest(read: _ManifestRead, lookup: AuditLookup, findings: list[Finding]) -> None:
    key = read.key
    capture_id = key.rsplit("/", 1)[-1].removesuffix(".json")
    lookup.add_manifest(capture_id)
    if read.sha256 is None:
        findings.append(Finding("missing", key, read.error or "", capture_id=capture_id))
        return
    listings = lookup.listings(capture_id)
    if not listings:
        findings.append(
            Finding(
                "orphaned",
                key,
                f"manifest of capture {capture_id} is listed by no custody event",
                actual=read.sha256,
                capture_id=capture_id,
            )
        )
    elif read.sha256 not in {listed.manifest_sha256 for listed in listings}:
        findings.append(
            Finding(
                "corrupt",
                key,
                f"manifest bytes differ from those {listings[0].event_key} recorded",
                expected=listings[0].manifest_sha256,
                actual=read.sha256,
                capture_id=capture_id,
                chain=listings[0].chain,
                position=listings[0].seq,
            )
        )
    elif read.error:
        findings.append(Finding("corrupt", key, read.error, capture_id=capture_id))
    if read.manifest is not None:
        _index_manifest(key, capture_id, read.manifest, lookup, findings)


def _index_manifest(
    key: str,
    capture_id: str,
    manifest: CaptureManifest,
    lookup: AuditLookup,
    findings: list[Finding],
) -> None:
    referrer = f"manifest {key}"
    if manifest.key != key:
        findings.append(
            Finding(
                "corrupt",
                key,
                f"manifest describes capture {manifest.capture_id} of {manifest.source_id}, "
                f"which belongs at {manifest.key}",
                expected=manifest.key,
                actual=key,
                capture_id=capture_id,
            )
        )
    for ref_key, ref_sha256 in manifest.object_refs():
        lookup.add_reference(ref_key, referrer)
        if sha256_of_payload_key(ref_key) != ref_sha256:
            findings.append(
                Finding(
                    "corrupt",
                    key,
                    f"manifest names object {ref_key} with a different SHA-256",
                    expected=ref_sha256,
                    actual=ref_key,
                    capture_id=capture_id,
                )
            )
    warc = manifest.warc
    lookup.add_warc(warc.key, f"{manifest.run_day:%Y/%m/%d}")
    lookup.add_expected(
        warc.key,
        ExpectedRecord(warc.response_record_id, warc.offset, warc.length, key, capture_id),
    )
