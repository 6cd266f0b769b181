"""Custody as the capture page shows it: the chain verified, the events that name a capture,
and a custody event for every view and download of evidence.

Verifying a chain reads every event, so the result is kept per chain and reused while the
chain's head is unchanged and the check is younger than ``recheck_seconds``; the page says when
the chain was verified. A new event on the chain, or the time passing, verifies it again.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archive.custody import ChainCheck, CustodyEvent, CustodyLog
from archive.export_custody import mentions
from archive.store import ObjectStore

ACCESS_CHAIN = "_access"  # "_" cannot start a source id, so no source chain is ever named so


@dataclass(frozen=True)
class VerifiedChain:
    check: ChainCheck
    head: tuple[int, str]
    verified_at: datetime
    events: tuple[dict[str, Any], ...] = field(repr=False)


class CustodyView:
    """Verified chains, cached per head; the events of a chain that name given ids."""

    def __init__(self, store: ObjectStore, recheck_seconds: float) -> None:
        self.store = store
        self.recheck_seconds = recheck_seconds
        self._cache: dict[str, tuple[float, VerifiedChain]] = {}
        self._lock = threading.Lock()

    def chain(self, name: str) -> VerifiedChain:
        log = CustodyLog(self.store, name)
        head = log.head()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            checked_at, verified = cached
            if verified.head == head and now - checked_at < self.recheck_seconds:
                return verified
        check = log.verify()
        # Event by event up to the head: one unreadable event (the badge says so) must not
        # hide the others.
        events = tuple(e for e in map(log.event, range(1, head[0] + 1)) if e is not None)
        verified = VerifiedChain(check, head, datetime.now(UTC), events)
        with self._lock:
            self._cache[name] = (now, verified)
        return verified

    def events_naming(self, name: str, wanted: set[str]) -> tuple[VerifiedChain, list[dict]]:
        """The verified chain and its events whose subject or details name any of ``wanted``."""
        verified = self.chain(name)
        return verified, [event for event in verified.events if mentions(event, wanted)]


@dataclass(frozen=True)
class Access:
    """One view or download of evidence by a signed-in user."""

    action: str  # viewed, downloaded, replayed, played
    subject: str  # the manifest or object key
    capture_id: str
    source: str
    username: str
    role: str
    client: str
    detail: dict[str, Any] = field(default_factory=dict)


def record_access(store: ObjectStore, access: Access) -> dict[str, Any]:
    """Append the access to the access chain; returns the stored event."""
    log = CustodyLog(store, ACCESS_CHAIN, actor=f"web:{access.username}")
    details: dict[str, Any] = {
        "capture_id": access.capture_id,
        "source": access.source,
        "user": access.username,
        "role": access.role,
        "client": access.client,
        **access.detail,
    }
    event = CustodyEvent(f"{access.action}:{uuid.uuid4()}", access.action, access.subject, details)
    return log.append([event])[0]
