"""Media benchmark: archiving one large video (`kind: video`, direct URL) against `curl -o`.

    python -m bench.media [--megabytes 100] [--repeats 3] [--out bench/results/media.json]
                          [--profile] [--keep]

Steps, all in one run on the same machine:
1. make a noise video of ``--megabytes`` MB and a 1 MB one from the same seed
   (``tests/media_fixtures.make_big_video``) and serve both on loopback
   (``tests/media_site.MediaSite``, a thread of this process);
2. ``--repeats`` rounds, each timing in turn: ``curl -s -o FILE URL`` of the big file (the
   reference), ``osint-archive run`` of a video source naming the big file and of one naming
   the small file (fresh home each), and the same two through a small driver that calls
   ``osint_archive.pipeline.run_sources`` and times only that call, stage by stage (yt-dlp
   extraction, the guarded fetch that streams, hashes and spools the body, ffprobe, the link
   into the store, every fsync);
3. report medians: the whole run, and the download-and-store part (big run less small run,
   which cancels start-up, yt-dlp and ffprobe), in MB/s against curl's;
4. with ``--profile``, run the driver once more under cProfile (every thread) and print where
   the time goes.
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
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
from tests.media_fixtures import make_big_video
from tests.media_site import MediaSite

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000
SMALL_MB = 1.0
TARGET_RATIO = 0.8  # download and store at ≥ 0.8× curl's speed
FLAT_RSS_MIB = 32  # a big video may cost this much more peak memory than a small one
STAGES = ("extract", "fetch", "probe", "store", "fsync")

# Times `run_sources` alone (no interpreter start-up, no imports) and, by wrapping the
# functions the video collector calls, each stage of it. With BENCH_PROFILE set, every thread
# runs under its own cProfile profiler and the merged statistics are written there.
DRIVER = r"""
import asyncio, cProfile, json, os, pstats, sys, threading, time
from collections import defaultdict

import collectors.media_download as media_download
import collectors.video as video
from archive.local_store import LocalStore
from collectors.http_fetch import HttpFetcher
from osint_archive.pipeline import run_sources
from osint_archive.settings import Settings
from osint_archive.sources import load_sources

stages = defaultdict(float)
lock = threading.Lock()

def add(name, started):
    with lock:
        stages[name] += time.perf_counter() - started

def timed(name, func):
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            add(name, started)
    return wrapper

def timed_async(name, func):
    async def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await func(*args, **kwargs)
        finally:
            add(name, started)
    return wrapper

video.extract_media = timed("extract", video.extract_media)
media_download.probe_media = timed("probe", media_download.probe_media)
LocalStore.adopt_payload = timed("store", LocalStore.adopt_payload)
HttpFetcher.fetch = timed_async("fetch", HttpFetcher.fetch)
os.fsync = timed("fsync", os.fsync)

profiles = []
profile_out = os.environ.get("BENCH_PROFILE")
if profile_out:
    def profile_thread(frame, event, arg):
        profiler = cProfile.Profile()  # enable() replaces this hook in the new thread
        profiles.append(profiler)
        profiler.enable()
    threading.setprofile(profile_thread)
    main_profiler = cProfile.Profile()
    profiles.append(main_profiler)

settings = Settings.from_env()
config = load_sources(sys.argv[1])
if profile_out:
    main_profiler.enable()
started = time.perf_counter()
outcomes = asyncio.run(run_sources(settings, config, config.sources))
seconds = time.perf_counter() - started
if profile_out:
    main_profiler.disable()
    threading.setprofile(None)
    merged = pstats.Stats(profiles[0])
    for profiler in profiles[1:]:
        merged.add(profiler)
    merged.dump_stats(profile_out)
print(json.dumps({"seconds": seconds, "ok": all(o.ok for o in outcomes),
                  "errors": [o.error for o in outcomes if o.error],
                  "stages": dict(stages)}))
"""


def write_config(path: Path, url: str) -> Path:
    source = {
        "id": "bench-video",
        "kind": "video",
        "url": url,
        "schedule": None,
        "delay_seconds": 0,
        "subtitles": False,
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


def stored_media_bytes(home: Path) -> int:
    """The largest stored object: the video, once archived."""
    objects = home / "archive" / "objects"
    return max((p.stat().st_size for p in objects.rglob("*") if p.is_file()), default=0)


def run_cli(
    cli: Path, config: Path, home: Path, log: Path, expected: int, timeout: float
) -> ChildRun:
    """One `osint-archive run` in a fresh home; checks the video was stored whole."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    command = [str(cli), "run", "--config", str(config)]
    run = run_measured(command, log, archive_env(home, config), config.parent, timeout)
    run.pages = count_manifests(home)
    stored = stored_media_bytes(home)
    if run.returncode != 0 or stored != expected:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise BenchError(
            f"`osint-archive run` exited {run.returncode} and stored a {stored}-byte object "
            f"(expected {expected}); see {log}:\n  " + "\n  ".join(tail)
        )
    return run


def run_driver(
    config: Path, home: Path, log: Path, expected: int, timeout: float, profile: Path | None = None
) -> tuple[ChildRun, dict[str, Any]]:
    """The driver in a fresh home: its own timing of `run_sources`, per stage."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = archive_env(home, config)
    if profile is not None:
        env["BENCH_PROFILE"] = str(profile)
    command = [sys.executable, "-c", DRIVER, str(config)]
    run = run_measured(command, log, env, REPO, timeout)
    lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    if run.returncode != 0 or not lines or not lines[-1].startswith("{"):
        raise BenchError(f"the pipeline driver failed (exit {run.returncode}); see {log}")
    figures = dict(json.loads(lines[-1]))
    stored = stored_media_bytes(home)
    if not figures["ok"] or stored != expected:
        raise BenchError(
            f"the pipeline driver stored a {stored}-byte object (expected {expected}): "
            f"{figures['errors']}; see {log}"
        )
    return run, figures


def run_curl(url: str, dest: Path, log: Path, expected: int, timeout: float) -> ChildRun:
    command = ["curl", "-s", "-o", str(dest), url]
    run = run_measured(command, log, dict(os.environ), dest.parent, timeout)
    size = dest.stat().st_size if dest.exists() else 0
    dest.unlink(missing_ok=True)
    if run.returncode != 0 or size != expected:
        raise BenchError(f"curl exited {run.returncode} and wrote {size} of {expected} bytes")
    return run


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def mb_per_second(size: int, seconds: float) -> float:
    return size / MB / seconds if seconds > 0 else 0.0


def profile_summary(path: Path, limit: int = 15) -> list[dict[str, Any]]:
    """The functions with the most own time in a merged profile."""
    stats = pstats.Stats(str(path))
    table = stats.stats  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_cc, calls, own, cumulative, _callers) in table.items():
        where = f"{Path(filename).name}:{line}" if line else filename
        rows.append(
            {
                "function": f"{name} ({where})",
                "calls": calls,
                "own_seconds": round(own, 3),
                "cumulative_seconds": round(cumulative, 3),
            }
        )
    rows.sort(key=lambda row: row["own_seconds"], reverse=True)
    return rows[:limit]


def build_result(
    sizes: dict[str, int],
    rounds: list[dict[str, Any]],
    machine: dict[str, Any],
    profile: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """The JSON document: report rows, targets, machine info and every raw figure."""
    big, small = sizes["big"], sizes["small"]
    extra = big - small

    def med(name: str, key: str = "seconds") -> float:
        return median([r[name][key] for r in rounds])

    curl_s, cli_s, cli_small_s = med("curl"), med("cli"), med("cli_small")
    driver_s, driver_small_s = med("driver"), med("driver_small")
    curl_rate = mb_per_second(big, curl_s)
    whole_rate = mb_per_second(big, cli_s)
    cli_store_s = cli_s - cli_small_s
    cli_store_rate = mb_per_second(extra, cli_store_s)
    driver_store_s = driver_s - driver_small_s
    driver_store_rate = mb_per_second(extra, driver_store_s)
    ratio = cli_store_rate / curl_rate if curl_rate else 0.0
    driver_ratio = driver_store_rate / curl_rate if curl_rate else 0.0
    stages = {
        stage: median([r["driver_stages"].get(stage, 0.0) for r in rounds]) for stage in STAGES
    }
    other = driver_s - sum(stages[s] for s in ("extract", "fetch", "probe", "store"))
    repeats = len(rounds)
    mb = big / MB
    rows = [
        {
            "metric": f"whole `osint-archive run`, {mb:.0f} MB video (s, median of {repeats})",
            "value": f"{cli_s:.2f}",
            "reference": f"curl -o: {curl_s:.2f}",
            "target": None,
        },
        {
            "metric": "whole run throughput (MB/s; start-up, yt-dlp, ffprobe included)",
            "value": f"{whole_rate:.0f}",
            "reference": f"curl -o: {curl_rate:.0f}",
            "target": None,
        },
        {
            "metric": (
                f"download + store (MB/s): ({mb:.0f} MB run − {small / MB:.0f} MB run), CLI"
            ),
            "value": f"{cli_store_rate:.0f}",
            "reference": (
                f"curl -o: {curl_rate:.0f}; {cli_s:.2f} s − {cli_small_s:.2f} s = "
                f"{cli_store_s:.2f} s"
            ),
            # Two process start-ups (about 2 s each, varying by tenths) around a 0.1 s
            # difference: shown, but the driver's figure below is the one judged.
            "target": None,
        },
        {
            "metric": "download + store ÷ curl, CLI (noisy: two start-ups)",
            "value": f"{ratio:.2f}×",
            "reference": "1×",
            "target": None,
        },
        {
            "metric": "download + store (MB/s), `run_sources` alone (driver)",
            "value": f"{driver_store_rate:.0f}",
            "reference": (
                f"curl -o: {curl_rate:.0f}; {driver_s:.2f} s − {driver_small_s:.2f} s = "
                f"{driver_store_s:.2f} s"
            ),
            "target": f"≥ {TARGET_RATIO * curl_rate:.0f} ({TARGET_RATIO:g}× curl)",
            "met": driver_ratio >= TARGET_RATIO,
        },
        {
            "metric": "download + store ÷ curl, `run_sources` alone (driver)",
            "value": f"{driver_ratio:.2f}×",
            "reference": "1×",
            "target": f"≥ {TARGET_RATIO:g}×",
            "met": driver_ratio >= TARGET_RATIO,
        },
        {
            "metric": f"`run_sources` stages, {mb:.0f} MB video (s)",
            "value": f"{driver_s:.2f}",
            "reference": (
                f"yt-dlp extraction {stages['extract']:.2f}; fetch (stream, SHA-256, temp "
                f"file) {stages['fetch']:.2f}; ffprobe {stages['probe']:.2f} (the fsync runs "
                f"beside it); store (link into place) {stages['store']:.2f}; fsync "
                f"{stages['fsync']:.2f} in all; "
                f"rest {other:.2f}"
            ),
            "target": None,
        },
        {
            "metric": f"peak RSS of `osint-archive run`, {mb:.0f} MB video (MiB)",
            "value": f"{med('cli', 'peak_rss_mib'):.0f}",
            "reference": f"{small / MB:.0f} MB video: {med('cli_small', 'peak_rss_mib'):.0f}",
            "target": "flat (the video is streamed, never held in memory)",
            "met": med("cli", "peak_rss_mib") - med("cli_small", "peak_rss_mib") < FLAT_RSS_MIB,
        },
    ]
    return {
        "title": "Media: `osint-archive run` of a video source vs `curl -o`",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "notes": (
            f"A {mb:.0f} MB noise video (H.264/AAC MP4) served on loopback with Range support; "
            f"`kind: video` source naming the file's URL, fresh home per run; median of "
            f"{repeats} rounds, contenders in turns, page cache warm. Our run streams the body "
            "through the guarded fetcher (SHA-256 while it streams) into a temporary file, "
            "probes it with ffprobe while the file is fsynced, links it into the store under "
            "that digest (no second copy) and "
            "writes the WARC metadata/request records, manifest, custody and index; curl only "
            "writes the file (no fsync). Download + store = the big run less a "
            f"{small / MB:.0f} MB run, which cancels start-up, yt-dlp and ffprobe."
        ),
        "rows": rows,
        "ratio_download_store_to_curl": round(ratio, 3),
        "ratio_download_store_to_curl_driver": round(driver_ratio, 3),
        "throughput_mb_s": {
            "curl": round(curl_rate, 1),
            "whole_run": round(whole_rate, 1),
            "download_store_cli": round(cli_store_rate, 1),
            "download_store_driver": round(driver_store_rate, 1),
        },
        "median_seconds": {
            "curl": curl_s,
            "cli": cli_s,
            "cli_small": cli_small_s,
            "driver": driver_s,
            "driver_small": driver_small_s,
        },
        "driver_stages_seconds": {k: round(v, 3) for k, v in stages.items()} | {"rest": other},
        "sizes": sizes,
        "targets": {"ratio_download_store_to_curl": TARGET_RATIO},
        "rounds": rounds,
        "profile_top_own_time": profile,
    }


def tool_version(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.splitlines()
    return lines[0] if lines else "unknown"


def machine_info() -> dict[str, Any]:
    if shutil.which("curl") is None:
        raise BenchError("curl is not installed; it is the reference this benchmark compares to")
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "curl": " ".join(tool_version(["curl", "--version"]).split()[:2]),
        "ffprobe": " ".join(tool_version(["ffprobe", "-version"]).split()[:3]),
        "osint-archive": osint_archive_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    machine = machine_info()
    cli = find_cli()
    site_dir = workdir / "site"
    site_dir.mkdir()
    seed = workdir / "seed.mp4"
    print(f"making a {args.megabytes:g} MB video and a {SMALL_MB:g} MB one", flush=True)
    big_path = make_big_video(site_dir / "big.mp4", args.megabytes, seed=seed)
    small_path = make_big_video(site_dir / "small.mp4", SMALL_MB, seed=seed)
    seed.unlink()
    sizes = {"big": big_path.stat().st_size, "small": small_path.stat().st_size}
    timeout = args.timeout
    rounds: list[dict[str, Any]] = []
    profile = None
    with MediaSite(site_dir) as site:
        configs = {
            name: write_config(workdir / f"{name}.yaml", site.url(f"{name}.mp4"))
            for name in ("big", "small")
        }
        home = workdir / "home"
        # Warm-up (imports, page cache), not timed.
        run_curl(
            site.url("big.mp4"),
            workdir / "curl.mp4",
            workdir / "warm-curl.log",
            sizes["big"],
            timeout,
        )
        run_cli(cli, configs["small"], home, workdir / "warm-cli.log", sizes["small"], timeout)
        for number in range(1, args.repeats + 1):
            figures: dict[str, Any] = {}
            log = workdir / f"round{number}"
            curl = run_curl(
                site.url("big.mp4"),
                workdir / "curl.mp4",
                Path(f"{log}-curl.log"),
                sizes["big"],
                timeout,
            )
            figures["curl"] = curl.summary()
            for name, size_key in (("cli", "big"), ("cli_small", "small")):
                run = run_cli(
                    cli,
                    configs[size_key],
                    home,
                    Path(f"{log}-{name}.log"),
                    sizes[size_key],
                    timeout,
                )
                figures[name] = run.summary()
            for name, size_key in (("driver", "big"), ("driver_small", "small")):
                run, child = run_driver(
                    configs[size_key], home, Path(f"{log}-{name}.log"), sizes[size_key], timeout
                )
                figures[name] = run.summary() | {"seconds": round(child["seconds"], 3)}
                figures[f"{name}_stages"] = child["stages"]
            print(
                f"round {number}: curl {curl.seconds:.2f} s, run {figures['cli']['seconds']:.2f} s"
                f" (small {figures['cli_small']['seconds']:.2f} s), run_sources "
                f"{figures['driver']['seconds']:.2f} s (small "
                f"{figures['driver_small']['seconds']:.2f} s)",
                flush=True,
            )
            rounds.append(figures)
        if args.profile:
            profile_path = workdir / "driver.pstats"
            run_driver(
                configs["big"], home, workdir / "profile.log", sizes["big"], timeout, profile_path
            )
            profile = profile_summary(profile_path)
            print("driver profile, most own time first (all threads):")
            for row in profile:
                print(
                    f"  {row['own_seconds']:7.3f} s own  {row['cumulative_seconds']:7.3f} s cum "
                    f" {row['calls']:>8} calls  {row['function']}"
                )
    return build_result(sizes, rounds, machine, profile)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.media", description=__doc__)
    parser.add_argument("--megabytes", type=float, default=100, help="video size (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (median kept)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "media.json")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per child run")
    parser.add_argument("--profile", action="store_true", help="also profile the pipeline")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)

    return run_benchmark("media", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
