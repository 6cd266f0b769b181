"""Crawl benchmark: `osint-archive run` against `wget --recursive --warc-file` on one site.

    python -m bench.crawl [--pages 400] [--out bench/results/crawl.json] [--wget-only] [--keep]

Steps, all in one run on the same machine:
1. generate the synthetic site (``bench/site.py``) and serve it from a separate process that
   waits 50 ms before every response, as a remote server would;
2. ``wget --recursive --warc-file`` (what ArchiveBox uses; one request at a time), timed;
3. ``osint-archive run`` with ``concurrency: 8, delay_seconds: 0`` in a fresh home, timed, with
   the child's peak RSS (``os.wait4``) and CPU time (the machine's busy time less the site
   server's, so worker processes outside the child's tree count too);
4. a second ``osint-archive run`` on the unchanged site: new bytes stored, as % of the first;
5. wget and ``osint-archive run`` again on a zero-latency server: the CPU-bound rate.
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from bench.harness import BenchError, run_benchmark
from bench.site import generate_site

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 3.0
TARGET_RECRAWL_PERCENT = 5.0
MIN_SITE_PAGES = 300


@dataclass
class ChildRun:
    """One measured child process."""

    command: list[str]
    returncode: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    log: str
    pages: int = 0
    server: dict[str, int] = field(default_factory=dict)

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    @property
    def pages_per_cpu_second(self) -> float:
        return self.pages / self.cpu_seconds if self.cpu_seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return asdict(self) | {
            "pages_per_second": round(self.pages_per_second, 2),
            "pages_per_cpu_second": round(self.pages_per_cpu_second, 2),
        }


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one running process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_measured(
    command: list[str],
    log_path: Path,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    server_pid: int | None = None,
) -> ChildRun:
    """Run a command to completion: wall time, CPU time and peak RSS.

    CPU time is the machine's busy time during the run less the site server's, so helper
    processes the command starts (a forkserver's workers are not its descendants for
    ``wait4``) are counted too; without a server pid it is the child's own ``wait4`` figure.
    """
    busy_before = busy_cpu_seconds()
    server_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    if server_pid:
        server = process_cpu_seconds(server_pid) - server_before
        cpu = max(cpu, busy_cpu_seconds() - busy_before - server)
    return ChildRun(
        command=command,
        returncode=process.returncode,
        seconds=round(seconds, 3),
        cpu_seconds=round(cpu, 3),
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
        log=str(log_path),
    )


class SiteServer:
    """``python -m bench.site serve`` as a child process; per-phase request statistics."""

    def __init__(self, root: Path, latency_ms: float, workdir: Path) -> None:
        self.stats_file = workdir / f"server-{latency_ms:g}ms-stats.json"
        self.stats_file.unlink(missing_ok=True)
        command = [sys.executable, "-m", "bench.site", "serve", "--root", str(root)]
        command += ["--latency-ms", str(latency_ms), "--stats-file", str(self.stats_file)]
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.isdigit():
            self.process.kill()
            raise BenchError(f"site server did not start (printed {line!r})")
        self.url = f"http://127.0.0.1:{line}/"

    def phase_stats(self) -> dict[str, int]:
        """Requests since the last call (the server resets its counters on SIGUSR1)."""
        self.stats_file.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.stats_file.exists():
            if time.monotonic() > deadline:
                raise BenchError("site server did not write its statistics")
            time.sleep(0.02)
        return dict(json.loads(self.stats_file.read_text(encoding="utf-8")))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def count_files(root: Path, pattern: str) -> int:
    return sum(1 for path in root.rglob(pattern) if path.is_file())


def count_manifests(home: Path) -> int:
    """Capture manifests: ``captures/**/*.json``, wherever the store keeps its root."""
    return sum(count_files(d, "*.json") for d in home.rglob("captures") if d.is_dir())


def stored_bytes_by_area(home: Path) -> dict[str, int]:
    """Bytes of evidence per area (``objects``, ``captures``, ``custody``): not ``state/``,
    not the (derived) index."""
    skipped = {"state", "index", ".incoming"}
    areas = {"objects": 0, "captures": 0, "custody": 0}
    for path in home.rglob("*"):
        parts = path.relative_to(home).parts
        if skipped.intersection(parts) or ".sqlite" in path.name or not path.is_file():
            continue
        area = next((part for part in parts if part in areas), "objects")
        areas[area] += path.stat().st_size
    return areas


def stored_bytes(home: Path) -> int:
    """Bytes of evidence under the archive home: not ``state/``, not the (derived) index."""
    return sum(stored_bytes_by_area(home).values())


def find_cli() -> Path:
    """The installed `osint-archive` script, checked to have a `run` command."""
    candidates = [
        REPO / ".venv" / "bin" / "osint-archive",
        Path(sys.executable).with_name("osint-archive"),
    ]
    found = next((c for c in candidates if c.exists()), None)
    which = shutil.which("osint-archive")
    cli = found or (Path(which) if which else None)
    if cli is None:
        raise BenchError("`osint-archive` is not installed: run `pip install -e .` in .venv first")
    probe = subprocess.run([str(cli), "run", "--help"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        detail = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BenchError(
            f"`{cli} run --help` failed (exit {probe.returncode}: {detail[0]}); the crawler "
            "and CLI must exist before this benchmark can run (use --wget-only meanwhile)"
        )
    return cli


def wget_version() -> str:
    if shutil.which("wget") is None:
        raise BenchError("wget is not installed; it is the reference this benchmark compares to")
    output = subprocess.run(["wget", "--version"], capture_output=True, text=True, check=True)
    return output.stdout.splitlines()[0]


def osint_archive_version() -> str:
    try:
        return metadata.version("osint-archive")
    except metadata.PackageNotFoundError:
        return "not installed"


def run_wget(url: str, workdir: Path, name: str, timeout: float, server_pid: int) -> ChildRun:
    target = workdir / name
    target.mkdir()
    command = ["wget", "--recursive", "--level=inf", "--no-parent"]
    command += [f"--warc-file={target / 'site'}", "--no-verbose", "-e", "robots=off"]
    command += [f"--directory-prefix={target / 'files'}", url]
    run = run_measured(
        command, workdir / f"{name}.log", dict(os.environ), workdir, timeout, server_pid
    )
    run.pages = count_files(target / "files", "*.html")
    if run.returncode not in (0, 8) or run.pages == 0:  # 8: some response was an error status
        raise BenchError(f"wget failed (exit {run.returncode}); see {run.log}")
    return run


def write_config(path: Path, url: str, concurrency: int) -> None:
    source = {
        "id": "bench-site",
        "kind": "web",
        "url": url,
        "schedule": "@daily",
        "max_depth": 10,
        "max_pages": 10000,
        "delay_seconds": 0,
        "concurrency": concurrency,
        "robots": "ignore",
    }
    path.write_text(yaml.safe_dump({"sources": [source]}, sort_keys=False), encoding="utf-8")


def run_archive(
    cli: Path, config: Path, home: Path, log: Path, timeout: float, server_pid: int
) -> ChildRun:
    """One `osint-archive run`; pages = new capture manifests under the home."""
    home.mkdir(parents=True, exist_ok=True)
    before = count_manifests(home)
    env = dict(os.environ)
    env |= {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_CONFIG": str(config),
        "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
    }
    command = [str(cli), "run", "--config", str(config)]
    run = run_measured(command, log, env, config.parent, timeout, server_pid)
    run.pages = count_manifests(home) - before
    if run.returncode != 0 or run.pages == 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        message = (
            f"`osint-archive run` exited {run.returncode} and wrote {run.pages} capture "
            f"manifests under {home}/**/captures/; see {log}:\n  " + "\n  ".join(tail)
        )
        if run.pages == 0:
            raise BenchError(message)
        print(f"warning: {message}", file=sys.stderr)
    return run


def build_result(
    site_pages: int,
    latency_ms: float,
    concurrency: int,
    runs: dict[str, ChildRun],
    first_bytes: int,
    recrawl_areas: dict[str, int],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON document: report rows, targets, machine info and every raw figure."""
    wget, first, zero, wget_zero = runs["wget"], runs["first"], runs["zero"], runs["wget_zero"]
    speedup = first.pages_per_second / wget.pages_per_second if wget.pages_per_second else 0.0
    recrawl_bytes = sum(recrawl_areas.values())
    recrawl_percent = 100 * recrawl_bytes / first_bytes if first_bytes else 0.0
    per_page = {area: size / max(runs["second"].pages, 1) for area, size in recrawl_areas.items()}
    rows = [
        {
            "metric": f"pages captured ({latency_ms:g} ms site)",
            "value": first.pages,
            "reference": f"wget: {wget.pages}",
            "target": f"all {site_pages}",
            "met": first.pages >= site_pages,
        },
        {
            "metric": f"pages/s, {latency_ms:g} ms latency, concurrency {concurrency}",
            "value": f"{first.pages_per_second:.1f}",
            "reference": f"wget: {wget.pages_per_second:.1f} (one request at a time)",
            "target": f"≥ {TARGET_SPEEDUP * wget.pages_per_second:.1f} (3× wget)",
            "met": speedup >= TARGET_SPEEDUP,
        },
        {
            "metric": "speedup vs wget",
            "value": f"{speedup:.2f}×",
            "reference": "1×",
            "target": f"≥ {TARGET_SPEEDUP:g}×",
            "met": speedup >= TARGET_SPEEDUP,
        },
        {
            "metric": "pages/s, zero latency (CPU-bound)",
            "value": f"{zero.pages_per_second:.1f}",
            "reference": f"wget: {wget_zero.pages_per_second:.1f}",
            "target": None,
        },
        {
            "metric": "pages per CPU-second (pages/s per core)",
            "value": f"{zero.pages_per_cpu_second:.1f}",
            "reference": f"wget: {wget_zero.pages_per_cpu_second:.1f}",
            "target": None,
        },
        {
            "metric": f"peak RSS, {latency_ms:g} ms run (MiB)",
            "value": f"{first.peak_rss_mib:.0f}",
            "reference": f"wget: {wget.peak_rss_mib:.0f}",
            "target": None,
        },
        {
            "metric": "re-crawl of unchanged site: new bytes stored",
            "value": f"{recrawl_percent:.2f} %",
            "reference": f"first run stored {first_bytes / 2**20:.1f} MiB",
            "target": f"≤ {TARGET_RECRAWL_PERCENT:g} %",
            "met": recrawl_percent <= TARGET_RECRAWL_PERCENT,
        },
        {
            "metric": "re-crawl bytes per page: WARC records / manifest / custody",
            "value": " / ".join(
                f"{per_page[area]:.0f} B" for area in ("objects", "captures", "custody")
            ),
            "reference": f"first run: {first_bytes / max(first.pages, 1) / 1024:.1f} KiB/page",
            "target": None,
        },
    ]
    return {
        "title": "Crawl: `osint-archive run` vs `wget --recursive --warc-file`",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "notes": (
            f"{site_pages}-page synthetic site (30–60 KB pages) served with {latency_ms:g} ms "
            f"latency per response; osint-archive with concurrency {concurrency}, "
            "delay_seconds 0; whole `osint-archive run` timed (digests, extraction, indexing)."
        ),
        "rows": rows,
        "speedup_vs_wget": round(speedup, 3),
        "recrawl_new_bytes_percent": round(recrawl_percent, 3),
        "first_run_bytes": first_bytes,
        "recrawl_new_bytes": recrawl_bytes,
        "recrawl_new_bytes_by_area": recrawl_areas,
        "targets": {
            "speedup_vs_wget": TARGET_SPEEDUP,
            "recrawl_new_bytes_percent_max": TARGET_RECRAWL_PERCENT,
            "site_pages_min": MIN_SITE_PAGES,
        },
        "config": {"pages": site_pages, "latency_ms": latency_ms, "concurrency": concurrency},
        "runs": {name: run.summary() for name, run in runs.items()},
    }


def cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or platform.machine()
    models = [
        line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line
    ]
    return models[0] if models else platform.machine()


def machine_info(wget: str) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "wget": wget,
        "osint-archive": osint_archive_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any] | None:
    """All steps; returns the result document (None with --wget-only)."""
    machine = machine_info(wget_version())
    cli = None if args.wget_only else find_cli()
    site = generate_site(workdir / "site", args.pages)
    print(f"site: {site.pages} pages, {site.total_bytes / 2**20:.1f} MiB in {site.root}")
    runs: dict[str, ChildRun] = {}

    slow = SiteServer(Path(site.root), args.latency_ms, workdir)
    try:
        runs["wget"] = run_wget(slow.url, workdir, "wget", args.timeout, slow.process.pid)
        runs["wget"].server = slow.phase_stats()
        wget = runs["wget"]
        print(
            f"wget: {wget.pages} pages in {wget.seconds:.1f} s",
            f"= {wget.pages_per_second:.1f} pages/s",
        )
        if cli is None:
            return None
        home = workdir / "home"
        config = workdir / "sources.yaml"
        write_config(config, slow.url, args.concurrency)
        runs["first"] = run_archive(
            cli, config, home, workdir / "first.log", args.timeout, slow.process.pid
        )
        runs["first"].server = slow.phase_stats()
        first_bytes = stored_bytes(home)
        first = runs["first"]
        print(f"osint-archive: {first.pages} pages in {first.seconds:.1f} s")
        before = stored_bytes_by_area(home)
        runs["second"] = run_archive(
            cli, config, home, workdir / "second.log", args.timeout, slow.process.pid
        )
        runs["second"].server = slow.phase_stats()
        after = stored_bytes_by_area(home)
        recrawl_areas = {area: after[area] - before[area] for area in after}
    finally:
        slow.stop()

    fast = SiteServer(Path(site.root), 0, workdir)
    try:
        runs["wget_zero"] = run_wget(fast.url, workdir, "wget-zero", args.timeout, fast.process.pid)
        runs["wget_zero"].server = fast.phase_stats()
        config = workdir / "zero" / "sources.yaml"
        config.parent.mkdir()
        write_config(config, fast.url, args.concurrency)
        runs["zero"] = run_archive(
            cli,
            config,
            workdir / "zero" / "home",
            workdir / "zero.log",
            args.timeout,
            fast.process.pid,
        )
        runs["zero"].server = fast.phase_stats()
    finally:
        fast.stop()
    return build_result(
        site.pages, args.latency_ms, args.concurrency, runs, first_bytes, recrawl_areas, machine
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crawl", description=__doc__)
    parser.add_argument("--pages", type=int, default=400, help="site size (default 400)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "crawl.json")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child run")
    parser.add_argument("--wget-only", action="store_true", help="time wget alone; write nothing")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    if args.pages < MIN_SITE_PAGES:
        print(f"note: the target is stated for sites of ≥ {MIN_SITE_PAGES} pages", file=sys.stderr)

    return run_benchmark("crawl", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
