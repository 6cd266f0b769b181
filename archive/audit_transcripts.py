"""The audit's transcript pass: each ``transcripts/…`` record against its ``transcribed``
custody event, and the transcript objects it names indexed for the payload pass.

A record custody does not list is orphaned; one whose bytes hash otherwise is corrupt; a
record an event lists that is not stored is missing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import Executor

from pydantic import ValidationError

from archive.audit_lookup import AuditLookup
from archive.audit_records import parallel_map
from archive.audit_report import Finding
from archive.keys import sha256_of_payload_key
from archive.store import ObjectNotFoundError, ObjectStore
from transcription.records import TranscriptRecord


def _read(store: ObjectStore, key: str) -> tuple[str, bytes | None]:
    try:
        return key, store.read_bytes(key)
    except ObjectNotFoundError:
        return key, None


def check_transcripts(
    store: ObjectStore,
    pool: Executor,
    window: int,
    lookup: AuditLookup,
    findings: list[Finding],
) -> int:
    """Check every transcript record against custody; returns how many are stored."""
    count = 0

    def keys() -> Iterator[str]:
        # Streamed from the listing and counted on the way: never a list of every record.
        nonlocal count
        for key in store.list_keys("transcripts/"):
            if key.endswith(".json"):
                count += 1
                yield key

    for key, data in parallel_map(pool, lambda k: _read(store, k), keys(), window):
        listed = lookup.transcript_stored(key)
        if data is None:
            findings.append(Finding("missing", key, "deleted while the audit ran"))
            continue
        _check_record(key, data, listed, lookup, findings)
    for key, expected, event in lookup.transcripts_not_stored():
        detail = f"transcript record listed by {event} is not stored"
        findings.append(Finding("missing", key, detail, expected=expected))
    return count


def _check_record(
    key: str,
    data: bytes,
    listed: tuple[str, str] | None,
    lookup: AuditLookup,
    findings: list[Finding],
) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if listed is None:
        detail = "transcript record is listed by no custody event"
        findings.append(Finding("orphaned", key, detail, actual=actual))
    elif listed[0] != actual:
        detail = f"transcript record bytes differ from those {listed[1]} recorded"
        findings.append(Finding("corrupt", key, detail, expected=listed[0], actual=actual))
    try:
        record = TranscriptRecord.model_validate_json(data)
    except ValidationError as err:
        where = ".".join(str(part) for part in err.errors()[0]["loc"]) or "document"
        detail = f"not a valid transcript record: {where}: {err.errors()[0]['msg']}"
        findings.append(Finding("corrupt", key, detail))
        return
    for ref_key, ref_sha256 in record.object_refs():
        lookup.add_reference(ref_key, f"transcript record {key}")
        if sha256_of_payload_key(ref_key) != ref_sha256:
            detail = f"transcript record names object {ref_key} with a different SHA-256"
            findings.append(Finding("corrupt", key, detail, expected=ref_sha256, actual=ref_key))
