"""Per-host politeness: at most ``concurrency`` requests in flight, ``delay`` between starts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class HostGate:
    """Limits parallel requests to one host and spaces out their start times."""

    def __init__(self, concurrency: int, delay_seconds: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._delay = delay_seconds
        self._lock = asyncio.Lock()
        self._next_start = 0.0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            async with self._lock:
                wait = self._next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                self._next_start = time.monotonic() + self._delay
            yield


class HostGates:
    """One gate per host, created on first use."""

    def __init__(self, concurrency: int, delay_seconds: float) -> None:
        self._concurrency = concurrency
        self._delay = delay_seconds
        self._gates: dict[str, HostGate] = {}

    def for_host(self, host: str) -> HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = HostGate(self._concurrency, self._delay)
        return gate
