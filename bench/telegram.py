"""Telegram benchmark: `osint-archive run` over a 2,000-post channel against the parser alone.

    python -m bench.telegram [--posts 2000] [--photos 10] [--out bench/results/telegram.json]
                             [--keep]

Steps, all in one run on the same machine:
1. serve an imitation of t.me's public preview (``tests/telegram_site.TelegramImitation``, a
   thread of this process) with one channel of ``--posts`` text posts in Russian, Belarusian
   and English, ``--photos`` of them with a photo;
2. the reference: every preview page fetched with urllib (newest first, back through the
   "more" links), then ``collectors.telegram_parse.parse_preview_page`` over those bodies,
   timed alone (best of three): the posts/s of parsing with no archiving at all;
3. ``osint-archive run`` in a fresh home (``max_pages`` high enough to page back through the
   whole channel, ``delay_seconds: 0``), timed, with the child's peak RSS and CPU time
   (``wait4``: the machine's busy time would count this process, which serves the channel,
   and anything else the machine runs);
4. a second ``osint-archive run`` on the unchanged channel: only the newest page should be
   fetched; its time and the requests it made.
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.crawl import (
    ChildRun,
    cpu_model,
    find_cli,
    osint_archive_version,
    run_measured,
)
from bench.harness import BenchError, run_benchmark
from bench.site import paragraph, sentence
from collectors.telegram_parse import PreviewPage, parse_preview_page, preview_url
from tests.telegram_site import PAGE_SIZE, TelegramImitation

REPO = Path(__file__).resolve().parent.parent
CHANNEL = "bench_channel"
PARSE_REPEATS = 3


def fill_channel(imitation: TelegramImitation, posts: int, photos: int, seed: int) -> None:
    """One channel: ``posts`` posts of one to three sentences or a paragraph, every
    ``posts // photos``-th with a photo."""
    rng = random.Random(seed)
    imitation.add_channel(CHANNEL, "Bench Channel", description="Synthetic benchmark channel")
    every = max(posts // photos, 1) if photos else 0
    for number in range(1, posts + 1):
        lang = ("ru", "be", "en")[rng.randrange(3)]
        if rng.random() < 0.3:
            text = paragraph(rng, lang)
        else:
            text = " ".join(sentence(rng, lang) for _ in range(rng.randint(1, 3)))
        photo = bool(every) and number % every == 0
        imitation.add_post(CHANNEL, text, photo=photo, views=rng.randint(100, 500_000))


def fetch_preview_pages(channel_url: str) -> list[tuple[str, bytes]]:
    """Every preview page, newest first, as (URL, body), following the older-posts links."""
    pages: list[tuple[str, bytes]] = []
    url: str | None = preview_url(channel_url)
    while url is not None:
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read()
        pages.append((url, body))
        page = parse_preview_page(body.decode("utf-8"), url)
        url = page.more_url if page.posts else None
    return pages


def parse_all(pages: list[tuple[str, bytes]]) -> list[PreviewPage]:
    return [parse_preview_page(body.decode("utf-8"), url) for url, body in pages]


def measure_parser(channel_url: str) -> dict[str, Any]:
    """urllib fetch + parse once (timed), then parsing alone, best of ``PARSE_REPEATS``."""
    started = time.perf_counter()
    pages = fetch_preview_pages(channel_url)
    fetch_and_parse = time.perf_counter() - started
    parse_seconds = []
    for _ in range(PARSE_REPEATS):
        started = time.perf_counter()
        parsed = parse_all(pages)
        parse_seconds.append(time.perf_counter() - started)
    posts = sum(len(page.posts) for page in parsed)
    return {
        "pages": len(pages),
        "posts": posts,
        "bytes": sum(len(body) for _, body in pages),
        "fetch_and_parse_seconds": round(fetch_and_parse, 3),
        "parse_seconds": round(min(parse_seconds), 3),
        "parse_seconds_all": [round(s, 3) for s in parse_seconds],
    }


def write_config(path: Path, url: str, max_pages: int) -> Path:
    source = {
        "id": "bench-telegram",
        "kind": "telegram",
        "url": url,
        "schedule": None,
        "max_pages": max_pages,
        "delay_seconds": 0,
    }
    path.write_text(yaml.safe_dump({"sources": [source]}, sort_keys=False), encoding="utf-8")
    return path


def archived_counts(home: Path) -> dict[str, int]:
    """Capture manifests under the home: all, posts, and media objects the posts name."""
    counts = {"captures": 0, "posts": 0, "media": 0}
    for path in (home / "archive" / "captures").rglob("*.json"):
        manifest = json.loads(path.read_bytes())
        counts["captures"] += 1
        if manifest.get("post"):
            counts["posts"] += 1
            counts["media"] += len(manifest.get("media") or [])
    return counts


def run_archive(
    cli: Path, config: Path, home: Path, log: Path, timeout: float
) -> tuple[ChildRun, dict[str, int]]:
    """One `osint-archive run`; the counts are what this run added."""
    before = archived_counts(home) if home.exists() else {"captures": 0, "posts": 0, "media": 0}
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
    env |= {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_CONFIG": str(config),
        "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
    }
    command = [str(cli), "run", "--config", str(config)]
    # CPU from wait4 (the run and the children it reaped): on a shared machine the busy-time
    # figure would count other work too, and this process also serves the channel.
    run = run_measured(command, log, env, config.parent, timeout)
    after = archived_counts(home)
    added = {key: after[key] - before[key] for key in after}
    run.pages = added["captures"] - added["posts"]  # the preview pages themselves
    if run.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise BenchError(
            f"`osint-archive run` exited {run.returncode}; see {log}:\n  " + "\n  ".join(tail)
        )
    return run, added


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def build_result(
    config: dict[str, Any],
    parser: dict[str, Any],
    first: ChildRun,
    first_counts: dict[str, int],
    second: ChildRun,
    second_counts: dict[str, int],
    second_requests: list[str],
    machine: dict[str, Any],
) -> dict[str, Any]:
    """The JSON document: report rows, targets, machine info and every raw figure."""
    posts = config["posts"]
    archived = first_counts["posts"]
    run_rate = per_second(archived, first.seconds)
    parse_rate = per_second(parser["posts"], parser["parse_seconds"])
    fetch_parse_rate = per_second(parser["posts"], parser["fetch_and_parse_seconds"])
    preview_requests = [r for r in second_requests if r.startswith(f"/s/{CHANNEL}")]
    overhead_ms = 1000 * (first.seconds / max(archived, 1) - parser["parse_seconds"] / posts)
    rows = [
        {
            "metric": "posts archived, first run (one capture each)",
            "value": archived,
            "reference": f"parser: {parser['posts']} posts on {parser['pages']} pages",
            "target": f"all {posts}",
            "met": archived == posts,
        },
        {
            "metric": "first run: posts/s (whole `osint-archive run`)",
            "value": f"{run_rate:.0f}",
            "reference": (
                f"parser alone: {parse_rate:.0f}; urllib fetch + parser: {fetch_parse_rate:.0f}"
            ),
            "target": None,
        },
        {
            "metric": "first run: time (s)",
            "value": f"{first.seconds:.1f}",
            "reference": (
                f"parser alone: {parser['parse_seconds']:.2f}; urllib fetch + parser: "
                f"{parser['fetch_and_parse_seconds']:.2f}"
            ),
            "target": None,
        },
        {
            "metric": "archiving cost per post beyond parsing (ms)",
            "value": f"{overhead_ms:.1f}",
            "reference": f"parsing: {1000 * parser['parse_seconds'] / posts:.2f} ms/post",
            "target": None,
        },
        {
            "metric": "first run: preview pages / photos archived",
            "value": f"{first.pages} / {first_counts['media']}",
            "reference": f"{parser['pages']} pages of ≤ {PAGE_SIZE} posts / {config['photos']}",
            "target": None,
        },
        {
            "metric": "first run: CPU time (s); peak RSS (MiB)",
            "value": f"{first.cpu_seconds:.1f}; {first.peak_rss_mib:.0f}",
            "reference": (
                f"{per_second(archived, first.cpu_seconds):.0f} posts per CPU-second; "
                f"CPU busy {100 * first.cpu_seconds / first.seconds:.0f} % of the wall time"
            ),
            "target": None,
        },
        {
            "metric": "second run, channel unchanged: time (s)",
            "value": f"{second.seconds:.2f}",
            "reference": (
                f"{len(preview_requests)} preview page(s) fetched, "
                f"{second_counts['posts']} new posts"
            ),
            "target": "only the newest page fetched",
            "met": len(preview_requests) == 1 and second_counts["posts"] == 0,
        },
    ]
    return {
        "title": "Telegram: `osint-archive run` of a channel vs the preview parser alone",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "notes": (
            f"A {posts}-post public channel ({config['photos']} with a photo) in an imitation "
            f"of t.me's preview pages ({PAGE_SIZE} posts a page) served on loopback; the first "
            "run pages back through the whole channel (`delay_seconds: 0`): each preview page "
            "into the WARC, each post a capture with its JSON record, text indexed, photos "
            "stored as objects. The parser alone parses the same pages, already fetched, "
            f"best of {PARSE_REPEATS}. Whole `osint-archive run` timed (start-up included)."
        ),
        "rows": rows,
        "posts_per_second": {
            "run": round(run_rate, 1),
            "parser": round(parse_rate, 1),
            "fetch_and_parser": round(fetch_parse_rate, 1),
        },
        "config": config,
        "parser": parser,
        "runs": {
            "first": first.summary() | {"counts": first_counts},
            "second": second.summary() | {"counts": second_counts, "requests": second_requests},
        },
    }


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "osint-archive": osint_archive_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    machine = machine_info()
    cli = find_cli()
    with TelegramImitation() as imitation:
        fill_channel(imitation, args.posts, args.photos, args.seed)
        channel_url = imitation.channel_url(CHANNEL)
        parser = measure_parser(channel_url)
        if parser["posts"] != args.posts:
            raise BenchError(f"the parser found {parser['posts']} posts of {args.posts}")
        print(
            f"parser: {parser['posts']} posts on {parser['pages']} pages in "
            f"{parser['parse_seconds']:.2f} s "
            f"(fetch + parse {parser['fetch_and_parse_seconds']:.2f} s)",
            flush=True,
        )
        max_pages = math.ceil(args.posts / PAGE_SIZE) + 10
        config = write_config(workdir / "sources.yaml", channel_url, max_pages)
        home = workdir / "home"
        home.mkdir()
        imitation.reset_counts()
        first, first_counts = run_archive(cli, config, home, workdir / "first.log", args.timeout)
        print(f"first run: {first_counts['posts']} posts in {first.seconds:.1f} s", flush=True)
        imitation.reset_counts()
        second, second_counts = run_archive(cli, config, home, workdir / "second.log", args.timeout)
        second_requests = list(imitation.requests)
        print(f"second run: {second.seconds:.2f} s, requests {second_requests}", flush=True)
    settings = {"posts": args.posts, "photos": args.photos, "max_pages": max_pages}
    return build_result(
        settings, parser, first, first_counts, second, second_counts, second_requests, machine
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.telegram", description=__doc__)
    parser.add_argument("--posts", type=int, default=2000, help="posts in the channel")
    parser.add_argument("--photos", type=int, default=10, help="posts with a photo")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "telegram.json")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per child run")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)

    return run_benchmark("telegram", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
