"""The synthetic site served on many loopback addresses at once, logging every request.

    python -m bench.site_hosts --root DIR --hosts 127.0.0.2,127.0.0.3 --port P
        [--latency-ms 50] --log-file F

osint-archive's per-host politeness is keyed by host name, not port, so a benchmark of many
hosts needs distinct addresses; Linux routes all of 127.0.0.0/8 to the loopback interface. One
process serves every address on one port, from memory, with ``bench.site``'s latency. Each
request is logged on arrival as ``[monotonic seconds, address, path]`` (``CLOCK_MONOTONIC`` is
system-wide, so the benchmark can compare it with its own clock). It prints the port when
ready; SIGUSR1 writes the log to ``--log-file`` and starts a new one, SIGTERM writes it and
stops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from bench.site import ServerStats, make_app

RequestLog = list[tuple[float, str, str]]


def logging_app(root: Path, latency_s: float, log: RequestLog) -> web.Application:
    """``bench.site``'s app with a middleware that logs each request before its latency."""
    app = make_app(root, latency_s, ServerStats())

    @web.middleware
    async def log_request(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        # The address the client connected to is the host the politeness gate saw.
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        address = sockname[0] if sockname else (request.host.rsplit(":", 1)[0])
        log.append((time.monotonic(), address, request.path))
        return await handler(request)

    app.middlewares.append(log_request)
    return app


async def serve(root: Path, hosts: list[str], port: int, latency_s: float, log_file: Path) -> None:
    log: RequestLog = []
    runner = web.AppRunner(logging_app(root, latency_s, log), access_log=None)
    await runner.setup()
    for host in hosts:
        await web.TCPSite(runner, host, port).start()
        port = port or runner.addresses[0][1]  # the first address picks it, the rest share it

    def write_log() -> None:
        # Write then rename, so a reader polling for the file never sees half of it.
        partial_file = log_file.with_suffix(".partial")
        partial_file.write_text(json.dumps(log) + "\n", encoding="utf-8")
        partial_file.replace(log_file)

    def write_and_clear() -> None:
        write_log()
        log.clear()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, write_and_clear)
    print(port, flush=True)  # only now: a SIGUSR1 before its handler would end the process
    await stop.wait()
    await runner.cleanup()
    write_log()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.site_hosts", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--hosts", required=True, help="comma-separated addresses")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--log-file", type=Path, required=True)
    args = parser.parse_args(argv)
    hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
    asyncio.run(serve(args.root, hosts, args.port, args.latency_ms / 1000, args.log_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
