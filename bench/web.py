"""Web UI benchmark: the search page and the capture page of ``osint-archive serve`` under
concurrent load, with the 1M-document search-benchmark index behind the search page.

    python -m bench.web [--clients 20] [--seconds 60] [--docs 1000000 | --index FILE]
                        [--server-workers N] [--quick] [--out bench/results/web.json]
                        [--dir D] [--keep]

``--quick`` (a 20,000-document index, 4 clients, 5 s per phase) is a smoke check: it writes to
the temporary directory, never over ``bench/results/web.json``.

Steps, all in one run on the same machine:
1. the index: ``--index FILE`` (made by ``python -m bench.search --index-only FILE --mode
   stemming``), else the cached ``bench/out/search-index-<docs>-seed<seed>.sqlite``, else that
   file is built first (about 12 minutes for 1M documents on two cores). It is copied into
   the benchmark home, so the cached file is never opened for writing;
2. a benchmark home: ``osint-archive demo`` archives the bundled demo site into it (real
   captures, manifests, custody chains), then its small index is replaced by the copy;
3. the references, in-process and single-client: ``SqliteFtsBackend.search`` + ``.facets``
   with the very ``SearchRequest`` the search page builds for each query, and
   ``read_manifest`` of each capture the capture page shows;
4. ``osint-archive serve`` (its default workers, or ``--server-workers N``) on a free
   loopback port, an investigator account, one sign-in per client; four phases, each after
   a short warm-up that is not counted: search page with one client, search page with
   ``--clients``, capture page with one client, capture page with ``--clients``. Per
   request: client latency and the server's ``Server-Timing`` figure; CPU of the server's
   processes, of the load generator and of the whole machine per phase;
5. where the time goes: ``--breakdown`` requests of each page through the app in-process
   (FastAPI ``TestClient``, one client), timing the session lookup, index calls, custody
   steps and template rendering inside each.
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import apsw

from bench.crawl import busy_cpu_seconds, find_cli, process_cpu_seconds, run_measured
from bench.harness import BenchError, run_benchmark
from bench.search import build_queries, checkpoint, index_code_digest, machine_info
from bench.search_corpus import build_vocabularies
from bench.web_load import (
    CSRF_FIELD,
    REQUEST_TIMEOUT_S,
    LoginFailedError,
    PhaseRecord,
    latency_stats,
    load_phase,
    server_ms,
)
from index.backend import SearchRequest
from index.sqlite_fts import SqliteFtsBackend
from index.sqlite_generations import live_index_path

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "bench" / "results" / "web.json"
QUICK_RESULT = Path(tempfile.gettempdir()) / "osint-bench-web-quick.json"
CACHE = REPO / "bench" / "out"
TARGET_SEARCH_P95_MS = 150.0
TARGET_CAPTURE_P95_MS = 100.0
QUICK_DOCS = 20_000
USERNAME, PASSWORD = "bench-investigator", "bench-password-not-secret"
PAGES = (1, 1, 2, 1, 3)  # the page number of query i is PAGES[i % 5]: most searches see page 1
SERVER_START_TIMEOUT_S = 120.0
SERVER_TIME = "server time (Server-Timing)"
WORKERS_LINE = re.compile(r"with (\d+) process")  # serve's start-up line


@dataclass(frozen=True)
class SearchTarget:
    """One search-page request: its URL and the backend request the page makes for it."""

    kind: str
    label: str
    page: int
    url: str
    request: SearchRequest


def search_targets(seed: int, count: int) -> list[SearchTarget]:
    """The query mix of ``bench/search.py`` (words common to rare, phrases, filters, prefixes,
    AND/OR/NOT) as search-page URLs on pages 1–3, each with the ``SearchRequest`` that
    ``web.routes_search.search_page`` builds from that URL (read by the page's own form)."""
    from starlette.requests import Request

    from web.routes_search import PAGE_SIZE, SearchForm

    targets = []
    for i, query in enumerate(build_queries(build_vocabularies(seed), seed, count)):
        f = query.filters
        params = {
            "q": query.text,
            "kind": f.kind or "",
            "source": f.source or "",
            "lang": f.lang or "",
            "since": f.since.date().isoformat() if f.since else "",
            "until": f.until.date().isoformat() if f.until else "",
            "sort": query.sort,
            "page": PAGES[i % len(PAGES)],
        }
        shown = urlencode({k: v for k, v in params.items() if v not in ("", 1, "relevance")})
        form = SearchForm.of(Request({"type": "http", "query_string": shown.encode()}))
        request = SearchRequest.of(
            form.q,
            form.filters(),
            sort=form.sort,  # type: ignore[arg-type]
            limit=PAGE_SIZE,
            offset=(form.page - 1) * PAGE_SIZE,
        )
        url = f"/search?{shown}"
        targets.append(SearchTarget(query.kind, query.label(), form.page, url, request))
    return targets


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cached_index_path(docs: int, seed: int) -> Path:
    return CACHE / f"search-index-{docs}-seed{seed}.sqlite"


def obtain_index(args: argparse.Namespace, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The benchmark index to copy into the home, and how it was obtained."""
    if args.index is not None:
        if not args.index.is_file():
            raise BenchError(f"--index {args.index}: no such file")
        return args.index, {"source": str(args.index), "built_now": False}
    cached = cached_index_path(args.docs, args.seed)
    if cached.is_file():
        made = datetime.fromtimestamp(cached.stat().st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return cached, {"source": str(cached), "built_now": False, "cached_at": made}
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(cached.name + ".partial")
    Path(f"{partial}-wal").unlink(missing_ok=True)
    partial.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench.search", "--index-only", str(partial)]
    command += ["--mode", "stemming", "--docs", str(args.docs), "--seed", str(args.seed)]
    print(f"building the benchmark index ({args.docs} documents) into {cached} …", flush=True)
    env = dict(os.environ) | {"PYTHONPATH": str(REPO)}
    child = run_measured(command, workdir / "build-index.log", env, REPO, args.build_timeout)
    if child.returncode != 0:
        raise BenchError(f"building the index exited {child.returncode}; see {child.log}")
    checkpoint(partial)
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(cached)
    return cached, {"source": str(cached), "built_now": True, "build_seconds": child.seconds}


def copy_index(source: Path, target: Path) -> None:
    """Copy an index (with its WAL, if it has one) so the benchmark never writes to the
    original."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        part = Path(f"{source}{suffix}")
        if part.exists() and part.stat().st_size:
            shutil.copyfile(part, f"{target}{suffix}")


def describe_index(path: Path) -> dict[str, Any]:
    index = SqliteFtsBackend(path)
    try:
        docs = index.count()
    finally:
        index.close()
    connection = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        rows: list[Any] = connection.execute("SELECT key, value FROM meta").fetchall()
    finally:
        connection.close()
    return {"docs": docs, "bytes": path.stat().st_size, "meta": dict(rows)}


def make_home(cli: Path, workdir: Path, index_source: Path, timeout: float) -> Path:
    """A home with the demo archive in it and the benchmark index as its live index."""
    home = workdir / "home"
    env = dict(os.environ) | {"OSINT_ARCHIVE_HOME": str(home), "OSINT_ARCHIVE_INDEX": "sqlite"}
    log = workdir / "demo.log"
    demo = run_measured([str(cli), "demo", "--port", str(free_port())], log, env, REPO, timeout)
    if demo.returncode != 0:
        raise BenchError(f"`osint-archive demo` exited {demo.returncode}; see {log}")
    index_dir = home / "index"
    shutil.rmtree(index_dir)
    copy_index(index_source, live_index_path(index_dir))
    return home


def capture_targets(home: Path) -> list[tuple[str, str]]:
    """(capture id, manifest key) of every capture in the home's archive."""
    archive = home / "archive"
    found = []
    for path in sorted((archive / "captures").rglob("*.json")):
        capture_id = json.loads(path.read_bytes())["capture_id"]
        found.append((capture_id, path.relative_to(archive).as_posix()))
    if not found:
        raise BenchError(f"no capture manifests under {archive / 'captures'}")
    return found


def timed_ms(function: Any, *arguments: Any) -> float:
    started = time.perf_counter()
    function(*arguments)
    return (time.perf_counter() - started) * 1000


def search_reference(index_path: Path, targets: list[SearchTarget], passes: int) -> dict:
    """The bare backend calls the search page makes (``search``, then ``facets`` counting
    at most the page's ``FACET_MATCHES``), one client: a warm-up pass, then ``passes`` timed
    passes."""
    from web.routes_search import FACET_MATCHES

    index = SqliteFtsBackend(index_path)
    search_ms: list[float] = []
    facets_ms: list[float] = []
    try:
        for round_ in range(passes + 1):
            for target in targets:
                searched = timed_ms(index.search, target.request)
                faceted = timed_ms(
                    functools.partial(index.facets, max_matches=FACET_MATCHES), target.request
                )
                if round_:
                    search_ms.append(searched)
                    facets_ms.append(faceted)
    finally:
        index.close()
    both = [a + b for a, b in zip(search_ms, facets_ms, strict=True)]
    by_kind: dict[str, list[float]] = {}
    for target, ms in zip(targets * passes, both, strict=True):
        by_kind.setdefault(target.kind, []).append(ms)
    return {
        "search_plus_facets_ms": latency_stats(both),
        "search_ms": latency_stats(search_ms),
        "facets_ms": latency_stats(facets_ms),
        "per_kind_ms": {kind: latency_stats(v) for kind, v in sorted(by_kind.items())},
    }


def capture_reference(home: Path, keys: list[str], passes: int) -> dict:
    """``read_manifest`` of each capture the page shows, bare, one client."""
    from archive.local_store import LocalStore
    from archive.manifest import read_manifest

    store = LocalStore(home / "archive")
    values = []
    for round_ in range(passes + 1):
        for key in keys:
            ms = timed_ms(read_manifest, store, key)
            if round_:
                values.append(ms)
    return {"read_manifest_ms": latency_stats(values)}


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (``serve --workers`` forks its workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


class WebServer:
    """``osint-archive serve`` on a loopback port as a child process (with its workers)."""

    def __init__(self, cli: Path, home: Path, log: Path, workers: int | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        env = dict(os.environ) | {"OSINT_ARCHIVE_HOME": str(home), "OSINT_ARCHIVE_INDEX": "sqlite"}
        command = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if workers is not None:
            command += ["--workers", str(workers)]
        self.command = command
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"the server exited {self.process.returncode}; see {self.log}")
            try:
                with urllib.request.urlopen(f"{self.base}/login", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise BenchError(f"the server did not answer within {SERVER_START_TIMEOUT_S:.0f} s")

    def processes(self) -> int:
        """Server processes serving requests: the workers, or the one process without any."""
        tree = process_tree(self.process.pid)
        found = WORKERS_LINE.search(self.log.read_text(encoding="utf-8", errors="replace"))
        return int(found.group(1)) if found else len(tree)

    def cpu_seconds(self) -> float:
        """CPU seconds of the server and its workers so far."""
        total = 0.0
        for pid in process_tree(self.process.pid):
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += process_cpu_seconds(pid)
        return total

    def stop(self) -> None:
        tree = process_tree(self.process.pid)
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in tree[1:]:  # workers the server left behind (it normally stops them)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def add_account(cli: Path, home: Path) -> None:
    env = dict(os.environ) | {"OSINT_ARCHIVE_HOME": str(home)}
    command = [str(cli), "users", "add", USERNAME, "--role", "investigator", "--password-stdin"]
    done = subprocess.run(
        command, input=PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60
    )
    if done.returncode != 0:
        raise BenchError(f"`osint-archive users add` failed: {done.stderr.strip()}")


@dataclass
class PhaseRun:
    """A measured phase and the CPU the server and the whole machine spent meanwhile."""

    warmup: PhaseRecord
    measured: PhaseRecord
    server_cpu_s: float
    machine_busy_cpu_s: float

    def summary(self) -> dict[str, Any]:
        data = self.measured.summary()
        requests = data["requests"] or 1
        # Busy CPU that was neither the server nor this process: other work on the machine.
        other = self.machine_busy_cpu_s - self.server_cpu_s - self.measured.client_cpu_s
        return data | {
            "server_cpu_s": round(self.server_cpu_s, 2),
            "server_cpu_ms_per_request": round(self.server_cpu_s * 1000 / requests, 2),
            "server_cores_busy": round(self.server_cpu_s / self.measured.wall_s, 2),
            "other_cores_busy": round(max(other, 0.0) / self.measured.wall_s, 2),
            "warmup": {
                "seconds": self.warmup.seconds,
                "requests": len(self.warmup.samples),
                "errors": self.warmup.error_count,
                "error_samples": self.warmup.errors,
            },
        }


def run_phase(
    server: WebServer, urls: list[str], clients: int, seconds: float, warmup: float, name: str
) -> PhaseRun:
    print(f"phase: {name}, {clients} client(s), {seconds:g} s …", flush=True)

    def cpu_counters() -> dict[str, float]:
        return {"server": server.cpu_seconds(), "machine": busy_cpu_seconds()}

    try:
        warm, measured = load_phase(
            server.base,
            (USERNAME, PASSWORD),
            urls,
            clients=clients,
            seconds=seconds,
            warmup_s=warmup,
            name=name,
            probe=cpu_counters,
        )
    except LoginFailedError as error:
        raise BenchError(f"{name}: signing in failed: {error}; see {server.log}") from None
    cpu = measured.probe_delta
    run = PhaseRun(warm, measured, cpu["server"], cpu["machine"])
    summary = run.summary()
    print(
        f"  {summary['requests']} requests, {summary['requests_per_second']} req/s,"
        f" {summary['errors']} errors; server p50/p95/p99 ms:"
        f" {summary['server_ms']['p50']} / {summary['server_ms']['p95']} /"
        f" {summary['server_ms']['p99']}; other work {summary['other_cores_busy']} cores",
        flush=True,
    )
    return run


def per_target_kind(run: PhaseRun, targets: list[SearchTarget]) -> dict[str, Any]:
    """Server time of the search phase by query type and by page number."""
    samples = [s for s in run.measured.samples if s.status == 200 and s.server_ms is not None]
    groups: dict[str, list[float]] = {}
    for sample in samples:
        target = targets[sample.target]
        groups.setdefault(f"type {target.kind}", []).append(sample.server_ms or 0.0)
        groups.setdefault(f"page {target.page}", []).append(sample.server_ms or 0.0)
    return {name: latency_stats(values) for name, values in sorted(groups.items())}


def slowest_targets(run: PhaseRun, labels: list[str], count: int = 10) -> list[dict[str, Any]]:
    by_target: dict[int, list[float]] = {}
    for sample in run.measured.samples:
        if sample.server_ms is not None:
            by_target.setdefault(sample.target, []).append(sample.server_ms)
    ranked = sorted(by_target.items(), key=lambda item: -max(item[1]))[:count]
    return [
        {"request": labels[i], "n": len(values), "max_ms": round(max(values), 1)}
        for i, values in ranked
    ]


def ms_text(value: float | None) -> str:
    """Milliseconds with sensible precision (a manifest read takes hundredths of one)."""
    if value is None:
        return "–"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def fmt(stats: dict[str, Any], keys: tuple[str, ...]) -> str:
    return " / ".join(ms_text(stats[k]) for k in keys)


def page_rows(
    page: str,
    many: dict[str, Any],
    single: dict[str, Any],
    reference: dict[str, Any],
    reference_name: str,
    target_ms: float,
) -> list[dict[str, Any]]:
    """The report rows of one page: the target row first, then the detail."""
    server, client = many["server_ms"], many["client_ms"]
    load = f"{many['clients']} clients × {many['seconds']:g} s"
    p95 = server["p95"]
    return [
        {
            "metric": f"{page} page p95 server time, {load} (ms)",
            "value": ms_text(p95),
            "reference": f"{reference_name} p95: {ms_text(reference['p95'])}",
            "target": f"≤ {target_ms:g}",
            "met": p95 is not None and p95 <= target_ms,
        },
        {
            "metric": f"{page} page server time p50 / p99 / max, {load} (ms)",
            "value": fmt(server, ("p50", "p99", "max")),
            "reference": f"{reference_name}: " + fmt(reference, ("p50", "p99", "max")),
            "target": None,
        },
        {
            "metric": f"{page} page client latency p50 / p95 / p99 / max, {load} (ms)",
            "value": fmt(client, ("p50", "p95", "p99", "max")),
            "reference": None,
            "target": None,
        },
        {
            "metric": f"{page} page throughput, {load} (requests/s)",
            "value": f"{many['requests_per_second']:.1f}",
            "reference": f"server CPU {many['server_cpu_ms_per_request']:.1f} ms/request;"
            f" server {many['server_cores_busy']:.2f} cores busy, other work"
            f" {many['other_cores_busy']:.2f}",
            "target": None,
        },
        {
            "metric": f"{page} page errors, {load}",
            "value": f"{many['errors']} of {many['requests']}",
            "reference": None,
            "target": "0",
            "met": many["errors"] == 0 and many["requests"] > 0,
        },
        {
            "metric": f"{page} page server time p50 / p95, 1 client (ms)",
            "value": fmt(single["server_ms"], ("p50", "p95")),
            "reference": f"{reference_name}: " + fmt(reference, ("p50", "p95")),
            "target": None,
        },
    ]


def code_revision() -> dict[str, Any]:
    """The commit measured, and the files of the measured packages changed since it."""

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], capture_output=True, text=True, cwd=REPO)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "web", "index", "archive", "osint_archive")
    return {"commit": git("rev-parse", "HEAD"), "uncommitted": changed.splitlines()}


def where_time_goes(summaries: dict[str, Any], stages: dict[str, Any]) -> str:
    """A sentence or two from the figures: the work per request against the waiting."""
    parts = []
    for page in ("search", "capture"):
        one, many = summaries[f"{page}, 1 client"], summaries[page]
        parts.append(
            f"{page} page: {one['server_cpu_ms_per_request']:.1f} ms server CPU per request with"
            f" 1 client ({one['requests_per_second']:.0f} req/s),"
            f" {many['server_cpu_ms_per_request']:.1f} ms with {many['clients']}"
            f" ({many['requests_per_second']:.0f} req/s), mean server time"
            f" {many['server_ms']['mean'] or 0:.0f} ms"
        )
    text = "Under load the server is CPU-bound and requests wait: " + "; ".join(parts) + "."
    for page in ("search", "capture"):
        spent = stages.get(page, {}).get("mean_ms")
        if spent:
            total = spent.get(SERVER_TIME, 0.0)
            stages_ms = [(label, ms) for label, ms in spent.items() if label != SERVER_TIME]
            top = sorted(stages_ms, key=lambda item: -item[1])[:3]
            shown = ", ".join(f"{label} {ms:.1f}" for label, ms in top)
            text += f" In-process, 1 client, {page} page mean {total:.1f} ms: {shown}."
    return text


def build_result(
    args: argparse.Namespace,
    index: dict[str, Any],
    server: dict[str, Any],
    targets: list[SearchTarget],
    captures: list[tuple[str, str]],
    references: dict[str, Any],
    phases: dict[str, PhaseRun],
    stages: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    summaries = {name: run.summary() for name, run in phases.items()}
    search_ref = references["search"]["search_plus_facets_ms"]
    capture_ref = references["capture"]["read_manifest_ms"]
    from web.routes_search import FACET_MATCHES as facet_matches

    docs = index["docs"]
    workers = f" --workers {args.server_workers}" if args.server_workers else ""
    scale = f"{docs:,}".replace(",", " ")
    smaller = "" if docs >= 1_000_000 else f" NOTE: the index holds {scale} documents, not 1M."
    return {
        "title": f"Web UI: search and capture pages under load ({scale}-document index)",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "notes": (
            f"`osint-archive serve{workers}` ({server['processes']} uvicorn server"
            f" process(es){'' if args.server_workers else ', the default'}) on loopback with the"
            f" search-benchmark index ({scale} synthetic documents, stemming) and the demo"
            f" archive ({len(captures)} real captures). aiohttp load generator in the same"
            f" machine: each client signed in once and sends its next request when the last"
            f" answer is read (closed loop); {args.warmup:g} s warm-up per phase not counted."
            f" Search page: {len(targets)} queries of the `bench/search.py` mix (words common"
            f" to rare, phrases, filters, prefixes, AND/OR/NOT) on pages 1–3; reference: the"
            f" same `SqliteFtsBackend.search` + `.facets` calls (facets stop at the page's"
            f" {facet_matches:,} matches) in-process, one client. Capture"
            f" page (every view appends a custody event, fsynced); reference: `read_manifest`."
            f" Server time is the app's `Server-Timing` (middleware to response); client"
            f" latency adds uvicorn, the socket and queueing in the load generator. A request"
            f" unanswered after {REQUEST_TIMEOUT_S:g} s is an error and in neither percentile."
            f" {where_time_goes(summaries, stages)} Whole run {seconds / 60:.0f} min.{smaller}"
        ),
        "rows": page_rows(
            "search",
            summaries["search"],
            summaries["search, 1 client"],
            search_ref,
            "backend search + facets",
            TARGET_SEARCH_P95_MS,
        )
        + page_rows(
            "capture",
            summaries["capture"],
            summaries["capture, 1 client"],
            capture_ref,
            "read_manifest",
            TARGET_CAPTURE_P95_MS,
        ),
        "targets": {
            "search_p95_server_ms": TARGET_SEARCH_P95_MS,
            "capture_p95_server_ms": TARGET_CAPTURE_P95_MS,
            "error_rate": 0,
        },
        "config": {
            "clients": args.clients,
            "seconds": args.seconds,
            "single_client_seconds": args.single_seconds,
            "warmup_seconds": args.warmup,
            "queries": len(targets),
            "reference_passes": args.reference_passes,
            "seed": args.seed,
        },
        "index": index,
        "server": server,
        "phases": summaries,
        "search_server_ms_by_group": per_target_kind(phases["search"], targets),
        "search_slowest": slowest_targets(phases["search"], [t.url for t in targets]),
        "references": references,
        "breakdown": stages,
        "run_seconds": round(seconds, 1),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "index_code_sha256": index_code_digest(),
    }


# Where a page's server time goes: (label, module, attribute path) of the calls timed inside
# each request. Names are patched where the routes look them up.
STAGES = (
    ("session lookup", "web.accounts", "Accounts.session"),
    ("index search", "index.sqlite_fts", "SqliteFtsBackend.search"),
    ("index facets", "index.sqlite_fts", "SqliteFtsBackend.facets"),
    ("catalogue + manifest", "web.routes_capture", "load_capture"),
    ("custody: append the view event", "web.routes_capture", "record_access"),
    ("custody: chain, events, accesses", "web.routes_capture", "custody_of"),
    ("extracted text", "web.routes_capture", "read_text"),
    ("versions of the URL", "web.catalog", "CaptureCatalog.versions"),
    ("transcripts", "web.routes_capture", "transcripts_of"),
    ("template rendering", "web.pages", "templates.TemplateResponse"),
)


def _restore(owner: Any, name: str, original: Any, own: bool) -> None:
    """Put back what ``StageClock.installed`` replaced: the owner's own attribute, or none."""
    if own:
        setattr(owner, name, original)
    else:
        delattr(owner, name)


class StageClock:
    """Milliseconds spent in each of ``STAGES`` during the current request."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*arguments: Any, **options: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*arguments, **options)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                with self._lock:
                    self.spent[label] = self.spent.get(label, 0.0) + elapsed

        return timed

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Every stage wrapped for the duration; the originals put back afterwards."""
        undo: list[Callable[[], None]] = []
        try:
            for label, module, path in STAGES:
                *parents, name = path.split(".")
                owner: Any = importlib.import_module(module)
                for parent in parents:
                    owner = getattr(owner, parent)
                original, own = getattr(owner, name), name in vars(owner)
                setattr(owner, name, self.wrap(label, original))
                undo.append(functools.partial(_restore, owner, name, original, own))
            yield
        finally:
            for step in reversed(undo):
                step()


def breakdown(
    home: Path, credentials: tuple[str, str], pages: dict[str, list[str]], count: int
) -> dict[str, Any]:
    """Mean milliseconds per stage of ``count`` requests of each page, one client, through
    the whole app in-process (FastAPI ``TestClient``); "other" is the ``Server-Timing``
    figure less the timed stages (routing, dependencies, middleware, response)."""
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.config import WebSettings

    environ = {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_INDEX": "sqlite",
        "OSINT_ARCHIVE_WEB_ALLOWED_HOSTS": "testserver",  # TestClient's Host
    }
    app = create_app(WebSettings.from_env(environ))
    app.state.archive.catalog.refresh()
    clock = StageClock()
    result: dict[str, Any] = {"requests_per_page": count}
    with TestClient(app) as client, clock.installed():
        token = CSRF_FIELD.search(client.get("/login").text)
        form = {"username": credentials[0], "password": credentials[1], "next": "/search"}
        signed_in = client.post(
            "/login", data=form | {"csrf": token.group(1) if token else ""}, follow_redirects=False
        )
        if signed_in.status_code != 303:
            raise BenchError(f"breakdown: sign-in answered {signed_in.status_code}")
        for page, urls in pages.items():
            for url in urls[: min(5, count)]:  # warm-up: connections, caches
                client.get(url)
            totals: dict[str, list[float]] = {}
            statuses: dict[int, int] = {}
            for i in range(count):
                clock.spent = {}
                # Spread over the whole list: the query mix is ordered by query type.
                answer = client.get(urls[i * len(urls) // count % len(urls)])
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                server = server_ms(answer.headers.get("server-timing")) or 0.0
                totals.setdefault(SERVER_TIME, []).append(server)
                for label, spent in clock.spent.items():
                    totals.setdefault(label, []).append(spent)
                totals.setdefault("other", []).append(server - sum(clock.spent.values()))
            result[page] = {
                "statuses": statuses,
                "mean_ms": {
                    label: round(sum(values) / count, 2) for label, values in totals.items()
                },
            }
    return result


@dataclass
class Bench:
    """The running parts, for ``benchmark`` to tear down whatever happens."""

    server: WebServer | None = None

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def phases_of(
    server: WebServer,
    args: argparse.Namespace,
    search_urls: list[str],
    capture_urls: list[str],
) -> Iterator[tuple[str, PhaseRun]]:
    for page, urls in (("search", search_urls), ("capture", capture_urls)):
        single = f"{page}, 1 client"
        yield single, run_phase(server, urls, 1, args.single_seconds, args.warmup, single)
        yield page, run_phase(server, urls, args.clients, args.seconds, args.warmup, page)


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    cli = find_cli()
    source, provenance = obtain_index(args, workdir)
    print(f"index: {source}; home in {workdir}", flush=True)
    home = make_home(cli, workdir, source, args.timeout)
    index_path = live_index_path(home / "index")
    index = provenance | describe_index(index_path)
    targets = search_targets(args.seed, args.queries)
    captures = capture_targets(home)
    print(f"{index['docs']} documents, {len(targets)} queries, {len(captures)} captures")
    references = {
        "search": search_reference(index_path, targets, args.reference_passes),
        "capture": capture_reference(home, [key for _, key in captures], 10),
    }
    print(f"references: {json.dumps({k: v for k, v in references['search'].items()})[:300]}")
    add_account(cli, home)
    capture_urls = [f"/captures/{capture_id}" for capture_id, _ in captures]
    bench = Bench()
    try:
        bench.server = WebServer(cli, home, workdir / "serve.log", args.server_workers)
        bench.server.wait_ready()
        server = {
            "command": bench.server.command,
            "processes": bench.server.processes(),
            "code": code_revision(),  # what the server loaded as it started
        }
        phases = dict(phases_of(bench.server, args, [t.url for t in targets], capture_urls))
    finally:
        bench.close()
    pages = {"search": [t.url for t in targets], "capture": capture_urls}
    stages = breakdown(home, (USERNAME, PASSWORD), pages, args.breakdown) if args.breakdown else {}
    seconds = time.perf_counter() - started
    return build_result(args, index, server, targets, captures, references, phases, stages, seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="per many-client phase")
    parser.add_argument("--single-seconds", type=float, default=15.0, help="per 1-client phase")
    parser.add_argument("--warmup", type=float, default=5.0, help="uncounted, before each phase")
    parser.add_argument("--docs", type=int, default=1_000_000, help="size of the built index")
    parser.add_argument("--index", type=Path, default=None, help="an existing benchmark index")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DOCS} docs, 4 clients, 5 s")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--reference-passes", type=int, default=1)
    parser.add_argument("--breakdown", type=int, default=60, help="requests per page; 0: none")
    parser.add_argument("--server-workers", type=int, default=None, help="serve --workers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help=f"default {RESULT}")
    parser.add_argument("--dir", type=Path, default=None, help="where the home is made")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for the demo")
    parser.add_argument("--build-timeout", type=float, default=3 * 3600.0)
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.quick:
        args.docs, args.clients, args.seconds = QUICK_DOCS, 4, 5.0
        args.single_seconds, args.warmup, args.breakdown = 3.0, 1.0, 10
    args.out = args.out or (QUICK_RESULT if args.quick else RESULT)
    return run_benchmark("web", args, benchmark, scratch_parent=args.dir)


if __name__ == "__main__":
    sys.exit(main())
