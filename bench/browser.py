"""Browser benchmark: `osint-archive run` of a `browser: true` source against plain HTTP.

    python -m bench.browser [--pages 30] [--out bench/results/browser.json] [--keep]

Steps, all in one run on the same machine:
1. generate a site of ``--pages`` articles whose text JavaScript builds from a JSON document
   it fetches (an XHR per page), each with its own image, linked from a static index; serve
   it from a separate process (Python's ``http.server``, which logs every request);
2. ``osint-archive run`` with ``browser: false`` (the plain HTTP crawler, the reference) in a
   fresh home, timed, with its CPU time (the machine's busy time less the site server's);
3. ``osint-archive run`` with ``browser: true`` in a fresh home, timed the same way, while a
   thread samples every 0.1 s the memory of every process the run starts: Chromium's tree
   (RSS summed over its processes, and PSS, which counts shared pages once), the Playwright
   driver, and the Python process itself;
4. for both: pages captured, requests the site served, and how many pages are found by
   searching for a word only the JavaScript writes.
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.crawl import (
    ChildRun,
    count_manifests,
    cpu_model,
    find_cli,
    osint_archive_version,
    run_measured,
)
from bench.harness import BenchError, run_benchmark
from bench.site import paragraph, sentence
from collectors.browser_traffic import QUIET_SECONDS
from tests.telegram_site import png_image

REPO = Path(__file__).resolve().parent.parent
JS_MARKER = "renderedbyscript"  # one word only the pages' JavaScript writes
SAMPLE_SECONDS = 0.1
CHROMIUM_NAMES = ("chromium", "chrome", "headless_shell")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024

ARTICLE_PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><header><a href="/">Belarus Rights Daily</a></header>
<main><h1 id="title">Loading&hellip;</h1><img src="/img/{number:03d}.png" alt="" width="320">
<article id="article"></article></main>
<script>
fetch('/api/{number:03d}.json').then(r => r.json()).then(data => {{
  document.getElementById('title').textContent = data.title;
  const article = document.getElementById('article');
  for (const text of data.paragraphs) {{
    const p = document.createElement('p');
    p.textContent = text;
    article.appendChild(p);
  }}
}});
</script></body></html>
"""
INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Belarus Rights Daily</title>
<link rel="stylesheet" href="/static/site.css"></head>
<body><h1>Latest reports</h1><ul>{links}</ul></body></html>
"""


def generate_site(root: Path, pages: int, seed: int = 2024) -> dict[str, int]:
    """The index, ``pages`` article shells, their JSON documents and images, one stylesheet."""
    rng = random.Random(seed)
    for folder in ("pages", "api", "img", "static"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "static" / "site.css").write_text(
        "body{font-family:Georgia,serif;margin:0 auto;max-width:48em}", encoding="utf-8"
    )
    links = []
    for number in range(1, pages + 1):
        lang = ("ru", "be", "en")[rng.randrange(3)]
        title = sentence(rng, lang).split(",")[0].rstrip(".")
        paragraphs = [paragraph(rng, lang) for _ in range(rng.randint(4, 10))]
        paragraphs[-1] += f" {JS_MARKER}"
        document = {"title": title, "paragraphs": paragraphs}
        (root / "api" / f"{number:03d}.json").write_text(
            json.dumps(document, ensure_ascii=False), encoding="utf-8"
        )
        (root / "img" / f"{number:03d}.png").write_bytes(png_image(number, 64))
        shell = ARTICLE_PAGE.format(lang=lang, title=html.escape(title), number=number)
        (root / "pages" / f"{number:03d}.html").write_text(shell, encoding="utf-8")
        links.append(f'<li><a href="/pages/{number:03d}.html">{html.escape(title)}</a></li>')
    (root / "index.html").write_text(INDEX_PAGE.format(links="".join(links)), encoding="utf-8")
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"pages": pages + 1, "articles": pages, "bytes": total}


def request_kind(path: str) -> str:
    """page (the index or an article), api (the XHR), img, static (stylesheet) or other."""
    if path in ("/", "/index.html") or path.startswith("/pages/"):
        return "page"
    folder = path.split("/")[1] if path.count("/") > 1 else ""
    return folder if folder in ("api", "img", "static") else "other"


class StaticServer:
    """``python -m http.server`` on a free loopback port, its request log kept in a file."""

    def __init__(self, root: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("wb")
        command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
        command += ["--directory", str(root)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, cwd=root
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"port (\d+)", line)
        if match is None:
            self.process.kill()
            raise BenchError(f"http.server did not start (printed {line!r})")
        self.url = f"http://127.0.0.1:{match.group(1)}/"
        self._offset = 0

    def phase_requests(self) -> Counter[str]:
        """Requests since the last call, counted by ``request_kind``."""
        self._log.flush()
        time.sleep(0.2)  # the server writes its log line after answering
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        new, self._offset = text[self._offset :], len(text)
        counts: Counter[str] = Counter()
        for path in re.findall(r'"[A-Z]+ (\S+) HTTP/[\d.]+"', new):
            counts[request_kind(path)] += 1
        return counts

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self._log.close()


@dataclass
class TreeUsage:
    """What the sampler saw: peaks in KiB (sums over a group's processes at one instant) and
    CPU seconds per group (each process's last reading, summed)."""

    chromium_rss: int = 0
    chromium_pss: int = 0
    chromium_processes: int = 0
    driver_rss: int = 0
    python_rss: int = 0
    samples: int = 0
    seconds: float = 0.0
    names: set[str] = field(default_factory=set)
    cpu_by_pid: dict[int, tuple[str, float]] = field(default_factory=dict)

    def cpu_seconds(self) -> dict[str, float]:
        totals = {"chromium": 0.0, "driver": 0.0, "python": 0.0}
        for group, seconds in self.cpu_by_pid.values():
            totals[group] += seconds
        return {group: round(seconds, 2) for group, seconds in totals.items()}


def group_of(name: str) -> str:
    """chromium, python (osint-archive and its workers) or driver (Playwright's node and the
    script that starts it)."""
    if name.startswith(CHROMIUM_NAMES):
        return "chromium"
    if name.startswith(("osint-archive", "python")):
        return "python"
    return "driver"


def _read_stat(pid: int) -> tuple[str, int, float, int]:
    """(name, parent pid, CPU seconds, RSS in KiB) from ``/proc/<pid>/stat``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return name, int(fields[1]), cpu, int(fields[21]) * PAGE_KIB


def _pss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


class ProcessTreeSampler(threading.Thread):
    """Every ``SAMPLE_SECONDS``, the memory and CPU time of this process's descendants.

    Groups: see ``group_of``. ``skip`` names pids to leave out (the site server). The
    machine's busy time would count other work on a shared machine; this counts only ours.
    """

    def __init__(self, skip: set[int]) -> None:
        super().__init__(daemon=True)
        self.skip = skip
        self.usage = TreeUsage()
        self._stop_event = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self._stop_event.wait(SAMPLE_SECONDS):
            self.sample()
        self.sample()
        self.usage.seconds = time.monotonic() - started

    def stop(self) -> TreeUsage:
        self._stop_event.set()
        self.join(timeout=10)
        return self.usage

    def sample(self) -> None:
        processes: dict[int, tuple[str, int, float, int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):  # ended while read
                    processes[int(entry.name)] = _read_stat(int(entry.name))
        ours = {os.getpid()}
        changed = True
        while changed:  # /proc lists parents before children only mostly: repeat until stable
            changed = False
            for pid, (_name, ppid, _cpu, _rss) in processes.items():
                if ppid in ours and pid not in ours and pid not in self.skip:
                    ours.add(pid)
                    changed = True
        ours.discard(os.getpid())
        rss = {"chromium": 0, "driver": 0, "python": 0}
        pss = count = 0
        usage = self.usage
        for pid in ours:
            name, _ppid, cpu, resident = processes[pid]
            group = group_of(name)
            usage.names.add(name)
            usage.cpu_by_pid[pid] = (group, cpu)
            rss[group] += resident
            if group == "chromium":
                count += 1
                with contextlib.suppress(OSError):
                    pss += _pss_kib(pid)
        usage.samples += 1
        usage.chromium_rss = max(usage.chromium_rss, rss["chromium"])
        usage.chromium_pss = max(usage.chromium_pss, pss)
        usage.chromium_processes = max(usage.chromium_processes, count)
        usage.driver_rss = max(usage.driver_rss, rss["driver"])
        usage.python_rss = max(usage.python_rss, rss["python"])


def write_config(path: Path, url: str, browser: bool) -> Path:
    source = {
        "id": "bench-browser" if browser else "bench-plain",
        "kind": "web",
        "url": url,
        "schedule": None,
        "browser": browser,
        "max_depth": 1,
        "max_pages": 1000,
        "delay_seconds": 0,
        "robots": "ignore",
    }
    path.write_text(yaml.safe_dump({"sources": [source]}, sort_keys=False), encoding="utf-8")
    return path


def archive_env(home: Path, config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
    return env | {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_CONFIG": str(config),
        "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
    }


def pages_with_script_text(cli: Path, home: Path, config: Path) -> int:
    """Pages the index finds by the word only JavaScript writes."""
    done = subprocess.run(
        [str(cli), "search", JS_MARKER, "--json", "--limit", "1000"],
        env=archive_env(home, config),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"`osint-archive search` exited {done.returncode}: {done.stderr[-300:]}")
    return sum(1 for line in done.stdout.splitlines() if line.startswith("{"))


def browser_seconds(home: Path) -> list[float]:
    """Each rendered page's time in Chromium, as its capture manifest records it."""
    seconds = []
    for path in (home / "archive" / "captures").rglob("*.json"):
        rendered = json.loads(path.read_bytes()).get("browser") or {}
        if "elapsed_seconds" in rendered:
            seconds.append(float(rendered["elapsed_seconds"]))
    return sorted(seconds)


def run_archive(
    cli: Path,
    server: StaticServer,
    workdir: Path,
    browser: bool,
    timeout: float,
) -> tuple[ChildRun, dict[str, Any]]:
    """One `osint-archive run` in a fresh home; memory sampled while it runs."""
    name = "browser" if browser else "plain"
    home = workdir / name / "home"
    home.mkdir(parents=True)
    config = write_config(workdir / name / "sources.yaml", server.url, browser)
    sampler = ProcessTreeSampler(skip={server.process.pid})
    sampler.start()
    command = [str(cli), "run", "--config", str(config)]
    log = workdir / f"{name}.log"
    try:
        run = run_measured(command, log, archive_env(home, config), config.parent, timeout)
    finally:
        usage = sampler.stop()
    cpu = usage.cpu_seconds()
    # wait4 counts only the descendants that were reaped; the samples count every one.
    run.cpu_seconds = round(max(run.cpu_seconds, sum(cpu.values())), 3)
    run.pages = count_manifests(home)
    if run.returncode != 0 or run.pages == 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise BenchError(
            f"`osint-archive run` ({name}) exited {run.returncode} with {run.pages} captures; "
            f"see {log}:\n  " + "\n  ".join(tail)
        )
    details = {
        "browser_seconds_per_page": browser_seconds(home),
        "requests": dict(server.phase_requests()),
        "script_text_pages": pages_with_script_text(cli, home, config),
        "memory_kib": {
            "chromium_rss_sum": usage.chromium_rss,
            "chromium_pss_sum": usage.chromium_pss,
            "chromium_processes": usage.chromium_processes,
            "playwright_driver_rss": usage.driver_rss,
            "python_rss": usage.python_rss,
        },
        "cpu_seconds_by_group": cpu,
        "samples": usage.samples,
        "sampled_seconds": round(usage.seconds, 2),
        "process_names": sorted(usage.names),
    }
    return run, details


def mib(kib: int) -> float:
    return kib / 1024


def build_result(
    site: dict[str, int],
    runs: dict[str, ChildRun],
    details: dict[str, dict[str, Any]],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON document: report rows, targets, machine info and every raw figure."""
    plain, browser = runs["plain"], runs["browser"]
    memory = details["browser"]["memory_kib"]
    cpu = details["browser"]["cpu_seconds_by_group"]
    rendered = details["browser"]["browser_seconds_per_page"]
    slowdown = browser.seconds / plain.seconds if plain.seconds else 0.0
    per_page_ms = 1000 * (browser.seconds / browser.pages - plain.seconds / plain.pages)
    requests = {name: details[name]["requests"] for name in runs}
    articles = site["articles"]
    rows = [
        {
            "metric": "pages captured",
            "value": browser.pages,
            "reference": f"plain HTTP: {plain.pages}",
            "target": f"all {site['pages']}",
            "met": browser.pages == site["pages"],
        },
        {
            "metric": "pages/s, `browser: true` (Chromium renders each page)",
            "value": f"{browser.pages_per_second:.2f}",
            "reference": f"plain HTTP crawler: {plain.pages_per_second:.1f}",
            "target": None,
        },
        {
            "metric": "run time (s) / slowdown of rendering",
            "value": f"{browser.seconds:.1f} / {slowdown:.1f}×",
            "reference": f"plain HTTP: {plain.seconds:.1f} / 1×",
            "target": None,
        },
        {
            "metric": "cost of rendering per page (ms)",
            "value": f"{per_page_ms:.0f}",
            "reference": "browser time per page − plain time per page",
            "target": None,
        },
        {
            "metric": "time in Chromium per page, median (s)",
            "value": f"{statistics.median(rendered) if rendered else 0.0:.2f}",
            "reference": (
                f"range {min(rendered, default=0.0):.2f}–{max(rendered, default=0.0):.2f}; "
                f"network idle = {QUIET_SECONDS:g} s with no request in flight, awaited after "
                "the load event and after scrolling"
            ),
            "target": None,
        },
        {
            "metric": "CPU seconds per page (all processes of the run)",
            "value": f"{browser.cpu_seconds / browser.pages:.2f}",
            "reference": (
                f"plain HTTP: {plain.cpu_seconds / plain.pages:.2f}; browser run by process: "
                f"Chromium {cpu['chromium']:.1f} s, Python {cpu['python']:.1f} s, "
                f"Playwright driver {cpu['driver']:.1f} s"
            ),
            "target": None,
        },
        {
            "metric": f"pages whose JavaScript-written text is searchable (of {articles})",
            "value": details["browser"]["script_text_pages"],
            "reference": f"plain HTTP: {details['plain']['script_text_pages']}",
            "target": f"all {articles}",
            "met": details["browser"]["script_text_pages"] == articles,
        },
        {
            "metric": "requests served: pages / XHR (JSON) / images / stylesheet",
            "value": " / ".join(
                str(requests["browser"].get(k, 0)) for k in ("page", "api", "img", "static")
            ),
            "reference": "plain HTTP: "
            + " / ".join(
                str(requests["plain"].get(k, 0)) for k in ("page", "api", "img", "static")
            ),
            "target": None,
        },
        {
            "metric": "Chromium peak memory, sum over its processes (MiB): RSS / PSS",
            "value": (
                f"{mib(memory['chromium_rss_sum']):.0f} / {mib(memory['chromium_pss_sum']):.0f}"
            ),
            "reference": (
                f"{memory['chromium_processes']} Chromium processes at most; Playwright "
                f"driver {mib(memory['playwright_driver_rss']):.0f}; osint-archive "
                f"(Python) {mib(memory['python_rss']):.0f}"
            ),
            "target": None,
        },
        {
            "metric": "peak RSS of the plain HTTP run, sum over its processes (MiB)",
            "value": f"{mib(details['plain']['memory_kib']['python_rss']):.0f}",
            "reference": None,
            "target": None,
        },
    ]
    return {
        "title": "Browser capture: `browser: true` (Chromium) vs the plain HTTP crawler",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "notes": (
            f"{articles} article pages whose text JavaScript builds from a JSON document it "
            "fetches (one XHR each), each with an image, linked from a static index; served "
            "without added latency by `python -m http.server` on loopback. Each run in a "
            "fresh home (`max_depth: 1`, `delay_seconds: 0`), whole `osint-archive run` timed "
            "(start-up included; Chromium starts once per run). A browser source renders "
            "one page at a time: navigation, network idle, scrolling, screenshot, DOM; every "
            "request goes through the guarded fetcher into the WARC. CPU time and memory of "
            f"every process the run starts sampled every {SAMPLE_SECONDS:g} s from /proc "
            "(VmRSS; PSS, from smaps_rollup, counts pages shared between processes once)."
        ),
        "rows": rows,
        "slowdown_vs_plain": round(slowdown, 2),
        "pages_per_second": {
            "browser": round(browser.pages_per_second, 3),
            "plain": round(plain.pages_per_second, 3),
        },
        "site": site,
        "runs": {name: run.summary() | details[name] for name, run in runs.items()},
    }


def machine_info() -> dict[str, Any]:
    chromium = shutil.which("chromium")
    version = "not installed"
    if chromium:
        done = subprocess.run(
            [chromium, "--version"], capture_output=True, text=True, timeout=60, check=False
        )
        version = done.stdout.strip() or "unknown"
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "chromium": version,
        "osint-archive": osint_archive_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    machine = machine_info()
    cli = find_cli()
    site = generate_site(workdir / "site", args.pages)
    server = StaticServer(workdir / "site", workdir / "server.log")
    runs: dict[str, ChildRun] = {}
    details: dict[str, dict[str, Any]] = {}
    try:
        server.phase_requests()
        for browser in (False, True):
            name = "browser" if browser else "plain"
            runs[name], details[name] = run_archive(cli, server, workdir, browser, args.timeout)
            print(
                f"{name}: {runs[name].pages} pages in {runs[name].seconds:.1f} s, "
                f"requests {details[name]['requests']}",
                flush=True,
            )
    finally:
        server.stop()
    return build_result(site, runs, details, machine)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__)
    parser.add_argument("--pages", type=int, default=30, help="article pages (default 30)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "browser.json")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child run")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)

    return run_benchmark("browser", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
