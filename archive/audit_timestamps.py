"""Audit of RFC 3161 tokens: each one must still match the record it stamps and, when trusted
roots are configured, carry a valid TSA signature chaining to them."""

from __future__ import annotations

import hashlib
from collections import defaultdict

from archive.audit_report import AuditTotals, Finding
from archive.store import ObjectNotFoundError, ObjectStore
from archive.timestamp_config import TSR_SUFFIX
from archive.timestamps import CheckOutcome, verify_timestamp


def tokens_by_record(store: ObjectStore) -> dict[str, list[str]]:
    """Token keys grouped by the record they stamp (``<record>.<tsa name>.tsr``)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for key in store.list_keys("captures/"):
        if key.endswith(TSR_SUFFIX):
            grouped[key[: -len(TSR_SUFFIX)].rsplit(".", 1)[0]].append(key)
    return grouped


def check_timestamps(
    store: ObjectStore,
    trusted_roots_pem: bytes | None,
    listed: dict[str, str],
    totals: AuditTotals,
    findings: list[Finding],
) -> None:
    """Verify every stored token against the current bytes of the record it stamps, and that
    every token custody recorded (``listed``: token key -> chain) is still stored."""
    stored = tokens_by_record(store)
    present = {key for keys in stored.values() for key in keys}
    for token_key, chain in sorted(listed.items()):
        if token_key not in present:
            findings.append(
                Finding(
                    "missing",
                    token_key,
                    "timestamp token recorded in custody is not stored",
                    chain=chain,
                )
            )
    for record_key, token_keys in sorted(stored.items()):
        try:
            digest = hashlib.sha256(store.read_bytes(record_key)).digest()
        except ObjectNotFoundError:
            findings.append(
                Finding("missing", record_key, "a timestamp token stamps a record not stored")
            )
            continue
        for token_key in token_keys:
            check = verify_timestamp(store.read_bytes(token_key), digest, trusted_roots_pem)
            if check.outcome is CheckOutcome.PASSED:
                totals.timestamps_verified += 1
            elif check.outcome is CheckOutcome.NOT_CHECKED:
                totals.timestamps_unchecked += 1
            else:
                findings.append(
                    Finding("timestamp_invalid", token_key, check.reason or "does not verify")
                )
