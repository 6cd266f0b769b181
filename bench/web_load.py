"""The web benchmark's load generator: signed-in HTTP clients on loopback, each sending its
next request as soon as the last answer is read (a closed loop, no think time).

Every request's client latency (send to last byte) and the server's own time (the
``Server-Timing: app;dur=<ms>`` header) are recorded; a status other than 200, an exception or
a timeout is an error. ``load_phase`` runs one phase; ``latency_stats`` summarises a list.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
SERVER_TIMING = re.compile(r"\bapp;dur=([0-9.]+)")
SESSION_COOKIE = "oa_session"
REQUEST_TIMEOUT_S = 30.0
ERROR_SAMPLES = 10
Probe = Callable[[], dict[str, float]]


class LoginFailedError(RuntimeError):
    """A client could not sign in; the message says at which step."""


@dataclass
class Sample:
    """One answered (or failed) request."""

    started_s: float  # since the phase began
    client_ms: float
    server_ms: float | None
    status: int  # 0 when no answer came
    target: int  # index into the phase's URL list


@dataclass
class PhaseRecord:
    """Everything one phase produced: the samples, the errors and the client's own cost."""

    name: str
    clients: int
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the first few, for the report
    error_count: int = 0
    wall_s: float = 0.0
    client_cpu_s: float = 0.0
    # What the caller's probe (CPU counters) rose by over the measured part.
    probe_delta: dict[str, float] = field(default_factory=dict)

    def note_error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < ERROR_SAMPLES:
            self.errors.append(message)

    def summary(self) -> dict[str, Any]:
        answered = [s for s in self.samples if s.status == 200]
        server = [s.server_ms for s in answered if s.server_ms is not None]
        total = len(self.samples)
        return {
            "phase": self.name,
            "clients": self.clients,
            "seconds": self.seconds,
            "wall_s": round(self.wall_s, 2),
            "requests": total,
            "ok": len(answered),
            "errors": self.error_count,
            "error_rate": round(self.error_count / total, 6) if total else None,
            "error_samples": self.errors,
            "without_server_timing": len(answered) - len(server),
            "requests_per_second": round(total / self.wall_s, 2) if self.wall_s else 0.0,
            "server_ms": latency_stats(server),
            "client_ms": latency_stats([s.client_ms for s in answered]),
            "load_generator_cpu_s": round(self.client_cpu_s, 2),
        }


def latency_stats(values: list[float]) -> dict[str, float | int | None]:
    """Count, mean and p50/p95/p99/max of milliseconds (None for an empty list)."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    array = np.asarray(values)
    return {
        "n": int(array.size),
        "mean": round(float(array.mean()), 2),
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "max": round(float(array.max()), 2),
    }


def server_ms(header: str | None) -> float | None:
    """The ``app;dur=`` figure of a ``Server-Timing`` header, in milliseconds."""
    found = SERVER_TIMING.search(header or "")
    return float(found.group(1)) if found else None


async def sign_in(base: str, username: str, password: str) -> aiohttp.ClientSession:
    """A client session signed in through the login form (GET for the CSRF token and its
    cookie, then POST); the caller closes it."""
    # unsafe=True: the default jar refuses cookies from an IP address such as 127.0.0.1.
    session = aiohttp.ClientSession(
        base_url=base,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=1),  # one keep-alive connection per client
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )
    try:
        async with session.get("/login") as response:
            page = await response.text()
            if response.status != 200:
                raise LoginFailedError(f"GET /login answered {response.status}")
        token = CSRF_FIELD.search(page)
        if token is None:
            raise LoginFailedError("GET /login: no hidden csrf field in the form")
        form = {"username": username, "password": password, "csrf": token.group(1)}
        async with session.post(
            "/login", data=form | {"next": "/search"}, allow_redirects=False
        ) as response:
            await response.read()
            if response.status != 303:
                raise LoginFailedError(f"POST /login answered {response.status}, not 303")
        if not any(cookie.key == SESSION_COOKIE for cookie in session.cookie_jar):
            raise LoginFailedError(f"POST /login set no {SESSION_COOKIE} cookie")
    except BaseException:
        await session.close()
        raise
    return session


async def _client(
    session: aiohttp.ClientSession,
    urls: list[str],
    first: int,
    phase_start: float,
    deadline: float,
    record: PhaseRecord,
) -> None:
    """Request ``urls`` in turn from ``first`` on, until ``deadline``."""
    position = first
    while time.perf_counter() < deadline:
        target = position % len(urls)
        position += 1
        started = time.perf_counter()
        status, timing = 0, None
        try:
            async with session.get(urls[target], allow_redirects=False) as response:
                await response.read()
                status, timing = response.status, response.headers.get("Server-Timing")
        except (aiohttp.ClientError, TimeoutError) as error:
            record.note_error(f"{urls[target]}: {type(error).__name__}: {error}")
        else:
            if status != 200:
                record.note_error(f"{urls[target]}: HTTP {status}")
        elapsed_ms = (time.perf_counter() - started) * 1000
        record.samples.append(
            Sample(started - phase_start, elapsed_ms, server_ms(timing), status, target)
        )


async def _run(sessions: list[aiohttp.ClientSession], urls: list[str], record: PhaseRecord) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    deadline = started + record.seconds
    spacing = max(1, len(urls) // len(sessions))
    await asyncio.gather(
        *(
            _client(session, urls, i * spacing, started, deadline, record)
            for i, session in enumerate(sessions)
        )
    )
    record.wall_s = time.perf_counter() - started
    record.client_cpu_s = time.process_time() - cpu


async def _phases(
    base: str,
    credentials: tuple[str, str],
    urls: list[str],
    clients: int,
    warmup_s: float,
    seconds: float,
    name: str,
    probe: Probe | None,
) -> tuple[PhaseRecord, PhaseRecord]:
    sessions = [await sign_in(base, *credentials) for _ in range(clients)]
    try:
        warmup = PhaseRecord(f"{name} (warm-up)", clients, warmup_s)
        if warmup_s > 0:
            await _run(sessions, urls, warmup)
        measured = PhaseRecord(name, clients, seconds)
        before = probe() if probe else {}
        await _run(sessions, urls, measured)
        after = probe() if probe else {}
        measured.probe_delta = {key: after[key] - before[key] for key in before}
    finally:
        await asyncio.gather(*(session.close() for session in sessions))
    return warmup, measured


def load_phase(
    base: str,
    credentials: tuple[str, str],
    urls: list[str],
    *,
    clients: int,
    seconds: float,
    warmup_s: float,
    name: str,
    probe: Probe | None = None,
) -> tuple[PhaseRecord, PhaseRecord]:
    """Sign ``clients`` clients in (one session each), run them for ``warmup_s`` (kept apart)
    and then ``seconds`` over ``urls``; client ``i`` starts at its own place in the list.
    ``probe`` (counters such as CPU seconds) is read just before and after the measured part.
    Returns the warm-up's record and the measured one."""
    return asyncio.run(_phases(base, credentials, urls, clients, warmup_s, seconds, name, probe))
