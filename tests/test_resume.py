"""A run killed with SIGKILL mid-crawl is resumed by the next pass: nothing lost, nothing twice.

Real parts only: the generated benchmark site served by its own aiohttp process with a small
per-response delay, the installed ``osint-archive`` command as a subprocess, ``warcio check``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path

import pytest

from archive.custody import CustodyLog
from archive.local_store import LocalStore
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from bench.site import generate_site
from index.sqlite_fts import SqliteFtsBackend
from index.sqlite_generations import live_index_path
from osint_archive.demo_site import DemoSite
from tests.cli_runs import cli_env, run_cli

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
SITE_PAGES = 150
SEGMENT_PAGES = 100  # CaptureWriter's default segment size: the first commit comes after it
SOURCE = "bench-site"


def write_config(path: Path, source_id: str, url: str, max_depth: int, max_pages: int) -> Path:
    path.write_text(
        f"""operator: "resume tests"
sources:
  - id: {source_id}
    kind: web
    url: {url}
    schedule: null
    max_depth: {max_depth}
    max_pages: {max_pages}
    delay_seconds: 0
    concurrency: 2
""",
        encoding="utf-8",
    )
    return path


def manifests(store: LocalStore) -> list[CaptureManifest]:
    return [read_manifest(store, key) for key in iter_manifest_keys(store)]


def journal(store: LocalStore, source_id: str) -> dict[str, object]:
    return json.loads(store.read_bytes(f"state/runs/{source_id}.json"))


@dataclass(frozen=True)
class SlowSite:
    """The benchmark site behind its own server process, which counts the requests it serves."""

    base_url: str
    urls: set[str]  # every URL a complete crawl archives: the pages and robots.txt
    server: subprocess.Popen[str]
    stats_file: Path

    def requests_served(self) -> int:
        """Requests since the previous call (the server writes its count and starts afresh)."""
        self.stats_file.unlink(missing_ok=True)
        self.server.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.stats_file.exists():
            assert time.monotonic() < deadline, "the site server wrote no statistics"
            time.sleep(0.01)
        return int(json.loads(self.stats_file.read_text())["requests"])


@pytest.fixture(scope="module")
def slow_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlowSite]:
    """The benchmark site (150 pages) behind a server that waits 30 ms per response."""
    tmp = tmp_path_factory.mktemp("bench-site")
    root = tmp / "site"
    generate_site(root, pages=SITE_PAGES)
    stats_file = tmp / "stats.json"
    serve = ["serve", "--root", str(root), "--latency-ms", "60", "--stats-file", str(stats_file)]
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.site", *serve],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        base = f"http://127.0.0.1:{port}/"
        pages = {
            base + ("" if p.name == "index.html" else p.relative_to(root).as_posix())
            for p in root.rglob("*.html")
        }
        assert len(pages) == SITE_PAGES
        yield SlowSite(base, pages | {base + "robots.txt"}, server, stats_file)
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_for_manifests(store_root: Path, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        count = sum(1 for _ in store_root.glob("captures/*/*/*/*/*.json"))
        if count >= at_least or proc.poll() is not None:
            return count
        time.sleep(0.01)
    raise AssertionError(f"fewer than {at_least} manifests after 60 s")


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


# Run the command, but SIGKILL it from inside right after the commit wrote its Nth manifest:
# the moment a poll from outside can only hope to hit.
KILL_INSIDE_COMMIT = """
import os, signal, sys
import archive.capture_writer as capture_writer
from osint_archive.cli import main

limit, written = int(sys.argv[1]), 0
write_manifest = capture_writer.write_manifest

def write_then_die(store, manifest):
    global written
    created = write_manifest(store, manifest)
    written += 1
    if written == limit:
        os.kill(os.getpid(), signal.SIGKILL)
    return created

capture_writer.write_manifest = write_then_die
main(sys.argv[2:])
"""


def run_and_kill(home: Path, config: Path, how: str, log: Path) -> int:
    """Start a run, SIGKILL it mid-crawl as ``how`` says; the manifests it left."""
    command = [str(BIN / "osint-archive"), "run", "--config", str(config)]
    kill_at = {"after-a-segment": SEGMENT_PAGES, "while-committing": 1}.get(how)
    if kill_at is None:  # "inside-commit-N": killed by itself after the Nth manifest
        command = [sys.executable, "-c", KILL_INSIDE_COMMIT, how.rsplit("-", 1)[1], *command[1:]]
    # A session of its own, so SIGKILL takes the run and its text-extraction workers at once,
    # as a crash or the OOM killer would.
    with log.open("w") as output:
        proc = subprocess.Popen(
            command,
            cwd=REPO,
            env=cli_env(home),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        if kill_at is not None:
            wait_for_manifests(home / "archive", kill_at, proc)
            # The run may just have finished on a loaded machine; the journal check says so.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind by a self-kill
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, log.read_text()
    return sum(1 for _ in (home / "archive").glob("captures/*/*/*/*/*.json"))


@pytest.mark.parametrize(
    "how", ["while-committing", "after-a-segment", "inside-commit-5"], ids=lambda how: how
)
def test_run_killed_mid_crawl_is_resumed_without_loss_or_duplicates(
    tmp_path: Path, slow_site: SlowSite, how: str
) -> None:
    base, expected_urls = slow_site.base_url, slow_site.urls
    home = tmp_path / "home"
    config = write_config(tmp_path / "sources.yaml", SOURCE, base, max_depth=2, max_pages=500)
    store = LocalStore(home / "archive")

    at_kill = run_and_kill(home, config, how, tmp_path / "killed-run.log")
    killed = journal(store, SOURCE)
    assert killed["status"] == "running", "the run finished before it could be killed"
    assert 1 <= at_kill < len(expected_urls)

    kept = len(manifests(store))
    slow_site.requests_served()  # start counting for the resumed run
    second = run_cli(home, "run", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert "resumed" in second.stderr
    # It fetches what is missing, plus robots.txt and the seed it must read again: pages
    # kept from before the kill are not downloaded twice.
    assert slow_site.requests_served() <= len(expected_urls) - kept + 2
    resumed = journal(store, SOURCE)
    assert resumed["run_id"] == killed["run_id"]
    assert resumed["status"] == "complete"

    # Every page exactly once, all under the one run id.
    found = manifests(store)
    assert {m.run_id for m in found} == {killed["run_id"]}
    per_url = Counter(m.requested_url for m in found)
    assert set(per_url) == expected_urls
    assert [url for url, n in per_url.items() if n > 1] == []
    # Depths are those of an uninterrupted crawl: a section page is one link from the front.
    sections = [m for m in found if "/section/" in m.requested_url]
    assert len(sections) == 8
    assert {m.depth for m in sections} == {1}
    assert len({m.capture_id for m in found}) == len(found)

    # Every WARC the manifests point at is well formed, digests included.
    warc_keys = {m.warc.key for m in found}
    assert len(warc_keys) >= 2  # the segment committed before the kill, and the rest
    for key in warc_keys:
        check = warcio_check(store.root / key)
        assert check.returncode == 0, check.stdout + check.stderr

    # One intact custody chain listing every manifest exactly once.
    custody = CustodyLog(store, SOURCE)
    verdict = custody.verify()
    assert verdict.intact, verdict.reason
    events = list(custody.events())
    listed = [
        (capture_id, manifest_sha256, event["subject"])
        for event in events
        if event["type"] == "captured"
        for capture_id, manifest_sha256 in event["details"]["captures"]
    ]
    assert Counter(c for c, _, _ in listed) == Counter(m.capture_id for m in found)
    by_id = {m.capture_id: m for m in found}
    for capture_id, manifest_sha256, warc_key in listed:  # recovered events too bind the bytes
        assert manifest_sha256 == sha256(store.read_bytes(by_id[capture_id].key)).hexdigest()
        assert warc_key == by_id[capture_id].warc.key
    stored = Counter(e["subject"] for e in events if e["type"] == "stored")
    assert warc_keys <= set(stored)
    assert max(stored.values()) == 1

    # The index holds each page once: no duplicate ids, no orphaned full-text rows.
    index = SqliteFtsBackend(live_index_path(home / "index"))
    try:
        ids = [row[0] for row in index.stored_documents()]  # rows joined to their full text
        assert index.count() == len(ids)
    finally:
        index.close()
    assert len(ids) == len(set(ids))
    assert set(ids) == {f"page:{m.capture_id}" for m in found if m.text_status == "new"}


def test_a_completed_run_is_not_resumed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = LocalStore(home / "archive")
    with DemoSite() as site:
        config = write_config(tmp_path / "s.yaml", "demo", site.base_url, 2, 50)
        first = run_cli(home, "run", "--config", str(config))
        assert first.returncode == 0, first.stderr
        first_run = journal(store, "demo")
        second = run_cli(home, "run", "--config", str(config))
        assert second.returncode == 0, second.stderr
    second_run = journal(store, "demo")
    assert first_run["status"] == second_run["status"] == "complete"
    assert second_run["run_id"] != first_run["run_id"]
    assert "resumed" not in second.stderr
    runs = Counter(m.run_id for m in manifests(store))
    assert runs == {first_run["run_id"]: 10, second_run["run_id"]: 10}
