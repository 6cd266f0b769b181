"""`osint-archive audit`: exit codes, JSON report, incremental mode, its custody event."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from archive.custody import CustodyLog
from archive.local_store import LocalStore
from osint_archive.demo_site import DemoSite
from tests.cli_runs import run_cli as cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with DemoSite() as site:
        config = tmp_path / "s.yaml"
        config.write_text(
            f"sources:\n  - id: demo-news\n    kind: web\n    url: {site.base_url}\n"
            "    schedule: null\n    delay_seconds: 0\n    max_depth: 2\n"
        )
        assert cli(tmp_path, "run", "--config", str(config)).returncode == 0
    return tmp_path


def test_intact_archive_exits_0_and_records_an_audited_event(home: Path) -> None:
    done = cli(home, "audit", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["intact"] is True
    assert report["totals"]["manifests"] == 10
    events = list(CustodyLog(LocalStore(home / "archive"), "_audit").events())
    assert [e["type"] for e in events] == ["audited"]
    assert events[0]["details"]["intact"] is True


def test_a_flipped_byte_fails_the_audit_naming_the_object(home: Path) -> None:
    store = LocalStore(home / "archive")
    key = next(k for k in store.list_keys("objects/"))
    path = store.root / key
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    done = cli(home, "audit")
    assert done.returncode == 1
    assert f"corrupt: {key}" in done.stdout


def test_since_last_rehashes_only_new_objects(home: Path) -> None:
    first = json.loads(cli(home, "audit", "--json").stdout)
    assert first["totals"]["objects_hashed"] == first["totals"]["objects"] > 0
    again = json.loads(cli(home, "audit", "--json", "--since-last").stdout)
    assert again["mode"] == "since"
    assert again["totals"]["objects_hashed"] == 0
    assert again["intact"] is True


def test_sampling_is_reported(home: Path) -> None:
    report = json.loads(cli(home, "audit", "--json", "--sample", "0.5").stdout)
    assert report["mode"] == "sample" and report["sample"] == 0.5
    assert report["seed"] is not None


def test_a_missing_archive_is_an_error_not_an_intact_audit(tmp_path: Path) -> None:
    done = cli(tmp_path / "unmounted", "audit")
    assert done.returncode == 2
    assert "no archive" in done.stderr
    assert not (tmp_path / "unmounted").exists()


def test_a_sample_does_not_move_the_since_last_mark(home: Path) -> None:
    assert cli(home, "audit").returncode == 0
    mark = (home / "archive" / "state" / "audit" / "last.json").read_bytes()
    assert cli(home, "audit", "--sample", "0.5").returncode == 0
    assert (home / "archive" / "state" / "audit" / "last.json").read_bytes() == mark
