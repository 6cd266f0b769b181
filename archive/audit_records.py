"""What the audit learns from the records (custody events, manifests) before the payload pass.

``archive.audit_custody`` and ``archive.audit_manifests`` record into an
``archive.audit_lookup.AuditLookup`` (on disk): which captures custody lists with which
manifest hashes (``Listed``), which payloads are referenced and by whom, which objects are
WARCs and where in them each capture's record should be (``ExpectedRecord``). The passes read
their stores through ``parallel_map``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from typing import TypeVar

from archive.custody import SEQ_WIDTH

T = TypeVar("T")
R = TypeVar("R")


def parallel_map(
    pool: Executor, task: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """Results of ``task`` over ``items`` as they complete, at most ``window`` in flight.

    The window keeps memory flat: a million objects never become a million pending futures.
    """
    pending: set[Future[R]] = set()
    for item in items:
        pending.add(pool.submit(task, item))
        if len(pending) >= window:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


@dataclass(frozen=True)
class Listed:
    """One capture as a custody ``captured`` event listed it."""

    manifest_sha256: str
    chain: str
    seq: int
    warc_key: str

    @property
    def event_key(self) -> str:
        return event_key(self.chain, self.seq)


@dataclass(frozen=True)
class ExpectedRecord:
    """Where a manifest says its capture's response (or revisit) record is."""

    record_id: str
    offset: int
    length: int
    manifest_key: str
    capture_id: str


def event_key(chain: str, seq: int) -> str:
    """Key of the custody event ``seq`` of ``chain``."""
    return f"custody/{chain}/{seq:0{SEQ_WIDTH}d}.json"
