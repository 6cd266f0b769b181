"""What the audit learns from the records (custody events, manifests) before the payload pass.

``archive.audit_custody`` and ``archive.audit_manifests`` fill a ``RecordIndex``: which
captures custody lists with which manifest hashes, which payloads are referenced and by whom,
which objects are WARCs and where in them each capture's record should be.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
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


class References:
    """Who refers to each payload key: the first referrer named, and how many there are."""

    def __init__(self) -> None:
        self.first: dict[str, str] = {}
        self.count: dict[str, int] = {}

    def add(self, key: str, referrer: str) -> None:
        # Records are read in parallel: keep the least referrer so reports are reproducible.
        known = self.first.get(key)
        self.first[key] = referrer if known is None else min(known, referrer)
        self.count[key] = self.count.get(key, 0) + 1

    def __contains__(self, key: object) -> bool:
        return key in self.first

    def found(self, key: str) -> bool:
        """Whether ``key`` is referenced; it leaves the references, so that once every stored
        key was found, those left are the missing ones (no second set of every key)."""
        self.count.pop(key, None)
        return self.first.pop(key, None) is not None

    def describe(self, key: str) -> str:
        others = self.count[key] - 1
        return self.first[key] + (f" and {others} other record(s)" if others else "")


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


@dataclass
class RecordIndex:
    """What custody and manifests say is stored, for the payload pass to check."""

    listed: dict[str, list[Listed]] = field(default_factory=dict)  # capture id -> listings
    references: References = field(default_factory=References)
    warc_keys: set[str] = field(default_factory=set)
    run_days: dict[str, str] = field(default_factory=dict)  # WARC key -> "YYYY/MM/DD"
    expected_records: dict[str, list[ExpectedRecord]] = field(default_factory=dict)
    manifest_ids: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)  # timestamp token key -> chain
    # transcript record key -> (record SHA-256, the custody event that listed it)
    transcripts: dict[str, tuple[str, str]] = field(default_factory=dict)
    events: int = 0


def event_key(chain: str, seq: int) -> str:
    """Key of the custody event ``seq`` of ``chain``."""
    return f"custody/{chain}/{seq:0{SEQ_WIDTH}d}.json"
