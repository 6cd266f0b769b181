"""Per-host politeness shared by every source of a pass."""

from __future__ import annotations

import asyncio

from collectors.politeness import HostGates


def test_sources_on_one_host_share_the_strictest_limits() -> None:
    gates = HostGates([("mvd.gov.by", 2, 1.0), ("mvd.gov.by", 1, 3.0), ("belta.by", 4, 0.5)])
    first = gates.for_host("mvd.gov.by", 2, 1.0)
    second = gates.for_host("mvd.gov.by", 4, 0.0)
    assert first is second
    assert (first.concurrency, first.delay_seconds) == (1, 3.0)
    belta = gates.for_host("belta.by", 4, 0.5)
    assert (belta.concurrency, belta.delay_seconds) == (4, 0.5)


def test_unknown_hosts_get_the_asking_source_limits() -> None:
    gate = HostGates().for_host("example.org", 3, 0.25)
    assert (gate.concurrency, gate.delay_seconds) == (3, 0.25)


def test_crawl_delay_only_slows_down() -> None:
    gate = HostGates().for_host("example.org", 2, 1.0)
    gate.slow_down(0.1)
    assert gate.delay_seconds == 1.0
    gate.slow_down(5.0)
    assert gate.delay_seconds == 5.0


def test_concurrency_is_enforced() -> None:
    gate = HostGates().for_host("example.org", 2, 0.0)
    in_flight = 0
    peak = 0

    async def request() -> None:
        nonlocal in_flight, peak
        async with gate.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(10)))

    asyncio.run(main())
    assert peak == 2
