"""`osint-archive export`: selections, a package that validates, clear errors."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from archive.local_store import LocalStore
from archive.manifest import read_manifest
from osint_archive.demo_site import DemoSite
from tests.cli_runs import run_cli as cli
from tests.cli_runs import wacz_validate


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("export-cli")
    with DemoSite() as site:
        config = tmp / "s.yaml"
        config.write_text(
            f"sources:\n  - id: demo-news\n    kind: web\n    url: {site.base_url}\n"
            "    schedule: null\n    delay_seconds: 0\n    max_depth: 2\n"
        )
        assert cli(tmp, "run", "--config", str(config)).returncode == 0
    return tmp


def test_export_by_query_validates_and_holds_the_page(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "query.wacz"
    done = cli(home, "export", "--query", "задержали", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "sha256:" in done.stdout
    check = wacz_validate(out)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(out) as package:
        pages = package.read("pages/pages.jsonl").decode()
        assert "ru-minsk-arrests.html" in pages
        assert "evidence/summary.html" in package.namelist()


def test_export_of_a_source_lists_every_capture(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.wacz"
    done = cli(home, "export", "--source", "demo-news", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "10 captures" in done.stdout
    assert wacz_validate(out).returncode == 0


def test_unknown_capture_and_empty_selection_are_clear_errors(home: Path, tmp_path: Path) -> None:
    done = cli(home, "export", "--capture", "no-such-capture", "--out", str(tmp_path / "x.wacz"))
    assert done.returncode == 2
    assert "no-such-capture" in done.stderr
    assert "Traceback" not in done.stderr
    done = cli(home, "export", "--source", "nobody", "--out", str(tmp_path / "y.wacz"))
    assert done.returncode == 2
    assert not (tmp_path / "y.wacz").exists()


def test_damaged_evidence_is_not_packaged(home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "home"
    subprocess.run(["cp", "-a", str(home), str(copy)], check=True)
    store = LocalStore(copy / "archive")
    manifest_key = next(k for k in store.list_keys("captures/") if k.endswith(".json"))
    key = read_manifest(store, manifest_key).warc.key  # a WARC the export must include
    path = store.root / key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"tampered")
    out = tmp_path / "damaged.wacz"
    done = cli(copy, "export", "--source", "demo-news", "--out", str(out))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "audit" in done.stderr
    assert not out.exists()


def test_an_unwritable_out_path_is_a_clear_error(home: Path, tmp_path: Path) -> None:
    done = cli(home, "export", "--source", "demo-news", "--out", str(tmp_path))
    assert done.returncode == 2
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_a_manifest_that_fails_its_custody_check_is_not_packaged(
    home: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "home"
    subprocess.run(["cp", "-a", str(home), str(copy)], check=True)
    store = LocalStore(copy / "archive")
    key = next(k for k in store.list_keys("captures/") if k.endswith(".json"))
    path = store.root / key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"status":200', b'"status":201'))
    out = tmp_path / "edited.wacz"
    refused = cli(copy, "export", "--source", "demo-news", "--out", str(out))
    assert refused.returncode == 1
    assert "custody" in refused.stderr and not out.exists()
    allowed = cli(copy, "export", "--source", "demo-news", "--out", str(out), "--allow-damaged")
    assert allowed.returncode == 1
    assert out.exists() and "warning" in allowed.stderr
