"""The custody evidence an export carries: the events that mention its captures or WARCs.

Events are copied verbatim (their bytes are what the chain hashes), each chain is verified end
to end when the package is made, and every selected manifest is checked against the
``captured`` event that bound its SHA-256 into the chain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from archive.custody import ChainCheck, CustodyLog
from archive.store import ObjectStore


@dataclass(frozen=True)
class CustodyRecord:
    """One stored event, as bytes (verbatim) and parsed."""

    key: str
    seq: int
    data: bytes
    event: dict[str, Any]


@dataclass
class ChainEvidence:
    """What one chain contributes: matching events, its verification, the capture bindings."""

    chain: str
    check: ChainCheck
    events: list[CustodyRecord] = field(default_factory=list)
    # capture id -> (sequence of its `captured` event, manifest SHA-256 that event lists)
    bindings: dict[str, tuple[int, str]] = field(default_factory=dict)


def _string_leaves(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _string_leaves(item)


def mentions(event: dict[str, Any], wanted: set[str]) -> bool:
    """Whether an event's subject or any string in its details is one of ``wanted``.

    Matching whole strings (ids, keys, digests), never substrings, keeps unrelated events out.
    """
    if event.get("subject") in wanted:
        return True
    return any(leaf in wanted for leaf in _string_leaves(event.get("details")))


def collect_chain(store: ObjectStore, chain: str, wanted: set[str]) -> ChainEvidence:
    """Verify one chain and gather its events that mention anything in ``wanted``."""
    evidence = ChainEvidence(chain, CustodyLog(store, chain).verify())
    for key in store.list_keys(f"custody/{chain}/"):
        data = store.read_bytes(key)
        try:
            event = json.loads(data)
        except ValueError:
            continue  # the verification above already names an unreadable event
        if not isinstance(event, dict) or not mentions(event, wanted):
            continue
        seq = int(event.get("seq", 0))
        evidence.events.append(CustodyRecord(key, seq, data, event))
        if event.get("type") == "captured":
            for listed in event.get("details", {}).get("captures", []):
                if isinstance(listed, list) and len(listed) == 2 and listed[0] in wanted:
                    evidence.bindings.setdefault(str(listed[0]), (seq, str(listed[1])))
    return evidence


def collect_custody(
    store: ObjectStore, chains: Iterable[str], wanted: set[str]
) -> list[ChainEvidence]:
    """The evidence of each chain, in name order."""
    return [collect_chain(store, chain, wanted) for chain in sorted(set(chains))]


def verification_json(check: ChainCheck, verified_at: str) -> bytes:
    """A chain's verification result as the package records it."""
    data = {
        "chain": check.chain,
        "events": check.events,
        "intact": check.intact,
        "broken_at": check.broken_at,
        "reason": check.reason,
        "verified_at": verified_at,
        "verifier": "archive.custody.CustodyLog.verify",
    }
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")
