"""Audit of RFC 3161 tokens: each one must still match the record it stamps and, when trusted
roots are configured, carry a valid TSA signature chaining to them.

Records and their tokens are read in the audit's thread pool, a window of records in flight,
streamed from the key listing and never collected; the signatures are verified by worker
processes in batches (archive/token_verifier.py: the verifier holds the GIL, so threads gave
no gain, processes did).
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
from archive.timestamps import CheckOutcome
from archive.token_verifier import TokenToCheck, verify_tokens


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
    """The tokens of one record as stored: the record's SHA-256 (None when the record is not
    stored) and each token's bytes (None when it went while the audit ran)."""

    record_key: str
    digest: bytes | None
    tokens: list[tuple[str, bytes | None]]


def _read_record(store: ObjectStore, record_key: str, token_keys: list[str]) -> _RecordTokens:
    try:
        digest = hashlib.sha256(store.read_bytes(record_key)).digest()
    except ObjectNotFoundError:
        return _RecordTokens(record_key, None, [(key, None) for key in token_keys])
    tokens: list[tuple[str, bytes | None]] = []
    for token_key in token_keys:
        try:
            tokens.append((token_key, store.read_bytes(token_key)))
        except ObjectNotFoundError:
            tokens.append((token_key, None))
    return _RecordTokens(record_key, digest, tokens)


def check_timestamps(
    store: ObjectStore,
    trusted_roots_pem: bytes | None,
    listed: ListedTokens,
    totals: AuditTotals,
    findings: list[Finding],
    pool: Executor,
    window: int,
    processes: int | None = None,
) -> None:
    """Verify every stored token against the current bytes of the record it stamps, and that
    every token custody recorded (``listed``) is still stored. Records and tokens are read in
    ``pool`` (threads: store I/O); the signatures are verified by ``processes`` worker
    processes (archive/token_verifier.py).

    ``listed`` is consumed: the tokens found are discarded from it, the rest are missing.
    """

    def task(group: tuple[str, list[str]]) -> _RecordTokens:
        return _read_record(store, group[0], group[1])

    def tokens_to_check() -> Iterator[TokenToCheck]:
        for read in parallel_map(pool, task, iter_tokens_by_record(store), window):
            for token_key, _ in read.tokens:
                listed.discard_token(token_key)
            if read.digest is None:
                reason = "a timestamp token stamps a record not stored"
                findings.append(Finding("missing", read.record_key, reason))
                continue
            for token_key, token in read.tokens:
                if token is None:
                    reason = "deleted while the audit ran"
                    findings.append(Finding("timestamp_invalid", token_key, reason))
                else:
                    yield token_key, token, read.digest

    for token_key, outcome, reason in verify_tokens(
        tokens_to_check(), trusted_roots_pem, processes
    ):
        if outcome is CheckOutcome.PASSED:
            totals.timestamps_verified += 1
        elif outcome is CheckOutcome.NOT_CHECKED:
            totals.timestamps_unchecked += 1
        else:
            findings.append(Finding("timestamp_invalid", token_key, reason or "does not verify"))
    for token_key, chain in listed.tokens_not_found():
        findings.append(
            Finding(
                "missing",
                token_key,
                "timestamp token recorded in custody is not stored",
                chain=chain,
            )
        )
