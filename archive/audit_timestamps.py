"""Audit of RFC 3161 tokens: each one must still match the record it stamps and, when trusted
roots are configured, carry a valid TSA signature chaining to them.

Tokens are verified in the audit's thread pool, a window of records in flight, so a slow
store read overlaps verification. Whether the Rust/OpenSSL verifier scales across threads
could not be shown on the 2-core, shared machine measured (``bench/audit.py --scale``:
serial, threads and processes all near 2,000 tokens/s); threads were kept as they cost
nothing there and a process pool pays pickling. The stored tokens are streamed from the key
listing, record by record, never collected.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from archive.audit_records import parallel_map
from archive.audit_report import AuditTotals, Finding
from archive.store import ObjectNotFoundError, ObjectStore
from archive.timestamp_config import TSR_SUFFIX
from archive.timestamps import CheckOutcome, verify_timestamp


def record_of_token(token_key: str) -> str:
    """The record a token stamps: ``<record>.<tsa name>.tsr`` -> ``<record>``."""
    return token_key[: -len(TSR_SUFFIX)].rsplit(".", 1)[0]


def iter_tokens_by_record(
    store: ObjectStore, prefix: str = "captures/"
) -> Iterator[tuple[str, list[str]]]:
    """(record key, its token keys) from the key listing, streamed: a record's tokens sort
    right after it, so consecutive tokens of one record come as one group."""
    tokens = (key for key in store.list_keys(prefix) if key.endswith(TSR_SUFFIX))
    for record_key, group in itertools.groupby(tokens, key=record_of_token):
        yield record_key, list(group)


class ListedTokens(Protocol):
    """The tokens custody recorded (``archive.audit_lookup.AuditLookup`` keeps them)."""

    def discard_token(self, token_key: str) -> None:
        """A stored token: it is not missing."""

    def tokens_not_found(self) -> Iterable[tuple[str, str]]:
        """(token key, chain) of the recorded tokens not discarded, by key."""


@dataclass(frozen=True)
class _RecordTokens:
    """The tokens of one record and, when the record is stored, each one's (token key,
    outcome, reason)."""

    record_key: str
    token_keys: list[str]
    checks: list[tuple[str, CheckOutcome, str]] | None


def _verify_record(
    store: ObjectStore, record_key: str, token_keys: list[str], roots: bytes | None
) -> _RecordTokens:
    try:
        digest = hashlib.sha256(store.read_bytes(record_key)).digest()
    except ObjectNotFoundError:
        return _RecordTokens(record_key, token_keys, None)
    checks = []
    for token_key in token_keys:
        try:
            check = verify_timestamp(store.read_bytes(token_key), digest, roots)
        except ObjectNotFoundError:
            checks.append((token_key, CheckOutcome.FAILED, "deleted while the audit ran"))
            continue
        checks.append((token_key, check.outcome, check.reason))
    return _RecordTokens(record_key, token_keys, checks)


def check_timestamps(
    store: ObjectStore,
    trusted_roots_pem: bytes | None,
    listed: ListedTokens,
    totals: AuditTotals,
    findings: list[Finding],
    pool: Executor,
    window: int,
) -> None:
    """Verify every stored token against the current bytes of the record it stamps, and that
    every token custody recorded (``listed``) is still stored.

    ``listed`` is consumed: the tokens found are discarded from it, the rest are missing.
    """

    def task(group: tuple[str, list[str]]) -> _RecordTokens:
        return _verify_record(store, group[0], group[1], trusted_roots_pem)

    for result in parallel_map(pool, task, iter_tokens_by_record(store), window):
        for token_key in result.token_keys:
            listed.discard_token(token_key)
        if result.checks is None:
            findings.append(
                Finding(
                    "missing", result.record_key, "a timestamp token stamps a record not stored"
                )
            )
            continue
        for token_key, outcome, reason in result.checks:
            if outcome is CheckOutcome.PASSED:
                totals.timestamps_verified += 1
            elif outcome is CheckOutcome.NOT_CHECKED:
                totals.timestamps_unchecked += 1
            else:
                findings.append(
                    Finding("timestamp_invalid", token_key, reason or "does not verify")
                )
    for token_key, chain in listed.tokens_not_found():
        findings.append(
            Finding(
                "missing",
                token_key,
                "timestamp token recorded in custody is not stored",
                chain=chain,
            )
        )
