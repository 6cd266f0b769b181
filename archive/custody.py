"""The custody log: append-only, hash-chained events, one chain per source.

Each event stores the SHA-256 of the previous event, and its own hash covers every field, so
editing, removing or reordering an event breaks the chain where it happened. Events are
records at ``custody/<chain>/<sequence>.json``, created once and never replaced.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archive.store import ObjectExistsError, ObjectNotFoundError, ObjectStore

GENESIS_HASH = "0" * 64
SEQ_WIDTH = 10


def default_actor() -> str:
    """Who handles evidence in this process: the operating-system user at the host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def event_hash(event: dict[str, Any]) -> str:
    """Hash of an event's canonical JSON, excluding its own ``hash`` field."""
    body = {k: v for k, v in event.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CustodyEvent:
    """An event to append; ``event_id`` is deterministic so retries can recognise it."""

    event_id: str
    type: str
    subject: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of verifying one chain: intact, or where and why it broke."""

    chain: str
    events: int
    intact: bool
    broken_at: int | None = None
    reason: str = ""


class CustodyLog:
    """Appends to and verifies the hash-chained custody events of one chain."""

    def __init__(self, store: ObjectStore, chain: str, actor: str | None = None) -> None:
        if not chain or "/" in chain:
            raise ValueError(f"invalid custody chain name: {chain!r}")
        self.store = store
        self.chain = chain
        self.actor = actor or default_actor()

    def _key(self, seq: int) -> str:
        return f"custody/{self.chain}/{seq:0{SEQ_WIDTH}d}.json"

    @property
    def _head_state_key(self) -> str:
        return f"state/custody-head/{self.chain}.json"

    def _head_hint(self) -> tuple[int, str]:
        """The head last recorded after an append; it may lag, but never runs ahead."""
        try:
            hint = json.loads(self.store.read_bytes(self._head_state_key))
            return int(hint["seq"]), str(hint["hash"])
        except (ObjectNotFoundError, ValueError, KeyError, TypeError):
            return 0, GENESIS_HASH

    def head(self) -> tuple[int, str]:
        """(sequence, hash) of the last event; (0, genesis) for an empty chain."""
        seq, digest = self._head_hint()
        if seq and not self.store.exists(self._key(seq)):
            seq, digest = 0, GENESIS_HASH  # the hint is a cache; fall back to a scan
        # The hint may lag behind a crashed or concurrent writer: walk forward to the real head.
        while self.store.exists(self._key(seq + 1)):
            seq += 1
            digest = json.loads(self.store.read_bytes(self._key(seq)))["hash"]
        return seq, digest

    def append(self, events: Iterable[CustodyEvent]) -> list[dict[str, Any]]:
        """Append events in order; returns the stored events with sequence and hashes."""
        stored = []
        seq, prev = self.head()
        for event in events:
            while True:
                record: dict[str, Any] = {
                    "chain": self.chain,
                    "seq": seq + 1,
                    "event_id": event.event_id,
                    "type": event.type,
                    "at": datetime.now(UTC).isoformat(),
                    "actor": self.actor,
                    "subject": event.subject,
                    "details": event.details,
                    "prev_hash": prev,
                }
                record["hash"] = event_hash(record)
                data = json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8")
                try:
                    self.store.put_record(self._key(seq + 1), data)
                except ObjectExistsError:
                    seq, prev = self.head()  # another writer got there first; chain after it
                    continue
                seq, prev = seq + 1, record["hash"]
                stored.append(record)
                break
        if stored:
            self.store.put_state(
                self._head_state_key, json.dumps({"seq": seq, "hash": prev}).encode()
            )
        return stored

    def events(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Stored events in chain order, starting after ``after_seq``."""
        seq = after_seq
        while True:
            seq += 1
            try:
                yield json.loads(self.store.read_bytes(self._key(seq)))
            except ObjectNotFoundError:
                return

    def event(self, seq: int) -> dict[str, Any] | None:
        """One stored event by sequence number; None when there is none (or it is not JSON)."""
        try:
            found = json.loads(self.store.read_bytes(self._key(seq)))
        except (ObjectNotFoundError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def verify(self) -> ChainCheck:
        """Check every event's hash, sequence and link to its predecessor."""
        prev, count = GENESIS_HASH, 0
        recorded, recorded_hash = self._head_hint()
        keys = list(self.store.list_keys(f"custody/{self.chain}/"))
        for position, key in enumerate(keys, start=1):
            try:
                event = json.loads(self.store.read_bytes(key))
            except ValueError:
                return ChainCheck(self.chain, count, False, position, f"{key} is not JSON")
            if not isinstance(event, dict):
                return ChainCheck(self.chain, count, False, position, f"{key} is not an event")
            if key != self._key(position) or event.get("seq") != position:
                return ChainCheck(self.chain, count, False, position, f"sequence gap at {key}")
            if event_hash(event) != event.get("hash"):
                return ChainCheck(self.chain, count, False, position, f"{key} was altered")
            if event.get("prev_hash") != prev:
                return ChainCheck(
                    self.chain,
                    count,
                    False,
                    position,
                    f"{key} does not follow event {position - 1}",
                )
            prev, count = event["hash"], count + 1
            if position == recorded and prev != recorded_hash:
                # The newest event rewritten with a recomputed hash still chains; the head
                # recorded at append time does not match it.
                return ChainCheck(
                    self.chain,
                    count - 1,
                    False,
                    position,
                    f"{key} differs from the event recorded as the chain's head",
                )
        # Removing the newest events leaves an intact chain; the recorded head still shows
        # how far it reached. Both checks rest on a mutable hint: they catch loss and edits,
        # not a forger who also rewrites state/ (an outside anchor, a timestamp, does that).
        if recorded > count:
            return ChainCheck(
                self.chain,
                count,
                False,
                count + 1,
                f"events {count + 1} to {recorded} are missing (the chain reached {recorded})",
            )
        return ChainCheck(self.chain, count, True)


def custody_chains(store: ObjectStore) -> list[str]:
    """Names of all custody chains in the store."""
    return sorted({key.split("/")[1] for key in store.list_keys("custody/") if key.count("/") == 2})
