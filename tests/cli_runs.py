"""Running the installed ``osint-archive`` command in tests, as an operator would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent


def cli_env(home: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI run: ``home`` as the data directory, loopback targets
    allowed, the caller's own OSINT_ARCHIVE_* settings left out."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
    environ.update(
        OSINT_ARCHIVE_HOME=str(home),
        OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS="1",
        COLUMNS="200",  # keep rich's summary table on one line per source
    )
    environ.update(env or {})
    return environ


def run_cli(
    home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``osint-archive ARGS`` run as an operator would, in the environment ``cli_env`` makes."""
    return subprocess.run(
        [str(BIN / "osint-archive"), *args],
        cwd=REPO,
        env=cli_env(home, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_web_source(
    path: Path, url: str, source_id: str = "demo-news", **settings: object
) -> Path:
    """A sources file with one web source crawling ``url`` two links deep, without pauses,
    unless ``settings`` (more keys of the entry: ``max_depth=0``, ``browser=True``) say so."""
    import yaml

    entry: dict[str, object] = {"id": source_id, "kind": "web", "url": url, "schedule": None}
    entry |= {"max_depth": 2, "delay_seconds": 0, **settings}
    path.write_text(yaml.safe_dump({"sources": [entry]}, sort_keys=False), encoding="utf-8")
    return path


def archive_of_demo_runs(tmp: Path, runs: int, source_id: str = "demo-news") -> Path:
    """Run ``osint-archive run`` over the bundled demo site ``runs`` times (home ``tmp/home``);
    the archive's root."""
    from osint_archive.demo_site import DemoSite

    with DemoSite() as site:
        config = write_web_source(tmp / "sources.yaml", site.base_url, source_id)
        for _ in range(runs):
            done = run_cli(tmp / "home", "run", "--config", str(config))
            assert done.returncode == 0, done.stderr
    return tmp / "home" / "archive"


def stored_manifests(archive: Path, source_id: str) -> list[dict[str, object]]:
    """Every capture manifest of a source, as JSON."""
    import json

    return [
        json.loads(path.read_bytes())
        for path in sorted((archive / "captures" / source_id).rglob("*.json"))
    ]


def warcio_check(archive: Path, key: str) -> subprocess.CompletedProcess[str]:
    """``warcio check -v`` on one stored WARC (digests of every record)."""
    return subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(archive / key)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    """py-wacz's ``wacz validate`` on a package."""
    return subprocess.run(
        [str(BIN / "wacz"), "validate", "--file", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def custody_events(archive: Path, chain: str) -> list[dict[str, object]]:
    import json

    paths = sorted((archive / "custody" / chain).glob("*.json"))
    return [json.loads(path.read_bytes()) for path in paths]


def search_json(home: Path, *args: str) -> list[dict[str, object]]:
    """``osint-archive search ARGS --json``, which must succeed, as a list of hits."""
    done = run_cli(home, "search", *args, "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def unused_port() -> int:
    """A loopback port nothing listens on (free at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
