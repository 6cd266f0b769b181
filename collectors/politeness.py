"""Per-host politeness: at most ``concurrency`` requests in flight, ``delay`` between starts.

One ``HostGates`` registry serves every source of a pass, so two sources on the same host
share one gate with the strictest of their settings, and a ``Crawl-delay`` from robots.txt
can only slow a host down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager


class HostGate:
    """Limits parallel requests to one host and spaces out their start times."""

    def __init__(self, concurrency: int, delay_seconds: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self.concurrency = concurrency
        self.delay_seconds = delay_seconds
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    def slow_down(self, delay_seconds: float) -> None:
        """Raise the pause between requests (never lower it)."""
        self.delay_seconds = max(self.delay_seconds, delay_seconds)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = time.monotonic() + self.delay_seconds
            yield


class HostGates:
    """One gate per host, created on first use with the strictest settings known for it."""

    def __init__(self, limits: Iterable[tuple[str, int, float]] = ()) -> None:
        """``limits``: (host, concurrency, delay_seconds) of every source in the pass."""
        self._strictest: dict[str, tuple[int, float]] = {}
        for host, concurrency, delay in limits:
            known = self._strictest.get(host, (concurrency, delay))
            self._strictest[host] = (min(known[0], concurrency), max(known[1], delay))
        self._gates: dict[str, HostGate] = {}

    def for_host(self, host: str, concurrency: int, delay_seconds: float) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            strict_concurrency, strict_delay = self._strictest.get(
                host, (concurrency, delay_seconds)
            )
            gate = self._gates[host] = HostGate(
                min(concurrency, strict_concurrency), max(delay_seconds, strict_delay)
            )
        return gate
