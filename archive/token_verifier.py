"""RFC 3161 tokens verified in worker processes, in batches.

Verifying one token takes about 0.5 ms of CPU (CMS signature, certificate chain), and the
verifier holds the GIL: threads gave no gain (``bench/audit.py --scale``), while two worker
processes verified about 1.7 times as many tokens a second as one thread on a 2-core machine.
A programme's 1.5 million tokens are thus checked by every core. Starting the workers costs
about a second, so an archive with fewer than ``PROCESS_THRESHOLD`` tokens is verified in this
process; where worker processes cannot be started (a daemonic Airflow task process), the
tokens are verified here too, and the result is the same.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor

from archive.audit_records import parallel_map
from archive.timestamps import CheckOutcome, verify_timestamp

__all__ = ["BATCH", "PROCESS_THRESHOLD", "TokenCheck", "TokenToCheck", "verify_tokens"]

log = logging.getLogger(__name__)
BATCH = 64  # tokens a worker verifies per round trip: the hand-over costs less than one token
PROCESS_THRESHOLD = 1024

TokenToCheck = tuple[str, bytes, bytes]  # (token key, stored token, SHA-256 of its record)
TokenCheck = tuple[str, CheckOutcome, str]  # (token key, outcome, reason)

_roots: bytes | None = None  # a worker process's trusted roots, set once when it starts


def _use_roots(roots: bytes | None) -> None:
    global _roots
    _roots = roots


def _check(item: TokenToCheck, roots: bytes | None) -> TokenCheck:
    key, token, digest = item
    check = verify_timestamp(token, digest, roots)
    return key, check.outcome, check.reason


def _check_batch(batch: list[TokenToCheck]) -> list[TokenCheck]:
    return [_check(item, _roots) for item in batch]


def _batches(items: Iterator[TokenToCheck], size: int) -> Iterator[list[TokenToCheck]]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def verify_tokens(
    items: Iterable[TokenToCheck],
    trusted_roots_pem: bytes | None,
    processes: int | None = None,
    threshold: int = PROCESS_THRESHOLD,
) -> Iterator[TokenCheck]:
    """Each token checked against its record's digest and the roots, in completion order;
    at most a few batches per worker in memory at once."""
    stream = iter(items)
    head = list(itertools.islice(stream, threshold))
    workers = processes or os.cpu_count() or 1
    if len(head) < threshold or workers < 2:
        yield from (_check(item, trusted_roots_pem) for item in itertools.chain(head, stream))
        return
    pool = _start_pool(workers, trusted_roots_pem)
    if pool is None:
        yield from (_check(item, trusted_roots_pem) for item in itertools.chain(head, stream))
        return
    with pool:
        batches = _batches(itertools.chain(head, stream), BATCH)
        for checks in parallel_map(pool, _check_batch, batches, 2 * workers):
            yield from checks


def _start_pool(workers: int, roots: bytes | None) -> ProcessPoolExecutor | None:
    """Worker processes with the roots loaded, or None where none can be started."""
    # "spawn": a fork of a process that runs threads (the audit's pool) may deadlock.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_use_roots, initargs=(roots,)
    )
    try:
        pool.submit(_check_batch, []).result()
    except (AssertionError, OSError, RuntimeError) as err:  # daemonic processes have no children
        log.info("verifying timestamp tokens in this process: %s", err)
        pool.shutdown(wait=False, cancel_futures=True)
        return None
    return pool
