"""The custody evidence an export carries: the events that mention its captures or WARCs.

Events are copied verbatim (their bytes are what the chain hashes), each chain is verified end
to end when the package is made, and every selected manifest is checked against the
``captured`` event that bound its SHA-256 into the chain. Events are handed on one at a time
as the chain is read, never gathered, and the bindings are kept in the export's scratch
database: neither grows memory with the number of captures.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

from archive.custody import ChainCheck
from archive.export_scratch import ScratchTable
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
    """What one chain contributes: its verification and the capture bindings."""

    chain: str
    check: ChainCheck
    # capture id -> "<sequence of its `captured` event> <manifest SHA-256 that event lists>"
    bindings: ScratchTable

    def binding(self, capture_id: str) -> tuple[int, str] | None:
        """(sequence, listed manifest SHA-256) of the event that bound the capture, if any."""
        found = self.bindings.get(capture_id)
        if found is None:
            return None
        seq, listed = found.split(" ", 1)
        return int(seq), listed


def _string_leaves(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _string_leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _string_leaves(item)


def mentions(event: dict[str, Any], wanted: Container[str]) -> bool:
    """Whether an event's subject or any string in its details is one of ``wanted``.

    Matching whole strings (ids, keys, digests), never substrings, keeps unrelated events out.
    """
    if event.get("subject") in wanted:
        return True
    return any(leaf in wanted for leaf in _string_leaves(event.get("details")))


def chain_events(
    store: ObjectStore, evidence: ChainEvidence, wanted: Container[str]
) -> Iterator[CustodyRecord]:
    """The chain's events that mention anything in ``wanted``, in order, one at a time;
    the capture bindings they carry are added to ``evidence.bindings`` as they pass."""
    for key in store.list_keys(f"custody/{evidence.chain}/"):
        data = store.read_bytes(key)
        try:
            event = json.loads(data)
        except ValueError:
            continue  # the verification already names an unreadable event
        if not isinstance(event, dict) or not mentions(event, wanted):
            continue
        seq = int(event.get("seq", 0))
        if event.get("type") == "captured":
            for listed in event.get("details", {}).get("captures", []):
                if isinstance(listed, list) and len(listed) == 2 and listed[0] in wanted:
                    evidence.bindings.add(str(listed[0]), f"{seq} {listed[1]}")
        yield CustodyRecord(key, seq, data, event)


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
