"""Tampering with a real archive is detected by the audit, and named precisely.

The archive comes from two ``osint-archive run`` passes over the demo site (the second one
writes revisits). Each test tampers with a private copy the way an intruder with file access
would: make a read-only evidence file writable, then flip, cut, edit, delete or swap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from archive.audit import AuditReport, Finding, audit_archive
from archive.custody import CustodyLog
from archive.local_store import LocalStore
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from tests.cli_runs import archive_of_demo_runs

SOURCE = "demo-news"


def run_demo_archive(tmp: Path, runs: int = 2) -> Path:
    """Run ``osint-archive run`` over the demo site ``runs`` times; the archive's root."""
    return archive_of_demo_runs(tmp, runs, SOURCE)


@pytest.fixture(scope="module")
def run_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive after two runs (responses, then revisits), left untouched."""
    return run_demo_archive(tmp_path_factory.mktemp("audit-run"))


@pytest.fixture
def store(run_archive: Path, tmp_path: Path) -> LocalStore:
    """A private copy of the run's archive, free to tamper with."""
    root = tmp_path / "archive"
    shutil.copytree(run_archive, root)
    return LocalStore(root)


def writable(path: Path) -> Path:
    """Evidence files are read-only (0444): tampering needs write access first."""
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    return path


def flip_byte(path: Path, offset: int) -> None:
    with writable(path).open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x01]))


def failures(report: AuditReport) -> list[Finding]:
    return [finding for finding in report.findings if finding.failing]


def kinds_by_key(report: AuditReport) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for finding in report.failures:
        found.setdefault(finding.key, set()).add(finding.kind)
    return found


def manifests(store: LocalStore) -> list[tuple[str, CaptureManifest]]:
    return [(key, read_manifest(store, key)) for key in iter_manifest_keys(store)]


def first_response_warc(store: LocalStore) -> tuple[str, list[str]]:
    """The WARC of the first run (full responses) and the capture ids filed in it."""
    found: dict[str, list[str]] = {}
    for key in iter_manifest_keys(store):
        manifest = read_manifest(store, key)
        if manifest.warc.record_type == "response":
            found.setdefault(manifest.warc.key, []).append(manifest.capture_id)
    warc_key = max(found, key=lambda k: len(found[k]))
    return warc_key, found[warc_key]


def test_an_intact_archive_audits_clean(store: LocalStore) -> None:
    report = audit_archive(store)
    assert report.intact
    assert report.findings == []
    totals = report.totals
    assert totals.manifests == len(iter_manifest_keys(store)) > 0
    assert totals.objects == totals.objects_hashed > 0
    assert totals.warcs == 2  # one segment per run
    assert totals.revisits > 0
    assert totals.revisits_verified == totals.revisits
    assert totals.digests_verified + totals.digests_unchecked == totals.warc_records
    # stored + captured per run, and the demo video transcribed once (first run)
    assert totals.chains == 1 and totals.events == 5


def test_a_flipped_byte_in_a_text_object_is_named(store: LocalStore) -> None:
    text = next(m.text for _, m in manifests(store) if m.text is not None)
    flip_byte(store.root / text.key, 10)
    report = audit_archive(store)
    assert not report.intact
    [finding] = failures(report)
    assert (finding.kind, finding.key) == ("corrupt", text.key)
    assert finding.expected == text.sha256
    assert finding.actual == hashlib.sha256((store.root / text.key).read_bytes()).hexdigest()
    assert finding.actual != finding.expected


def test_a_flipped_byte_in_a_warc_is_named(store: LocalStore) -> None:
    warc_key, _ = first_response_warc(store)
    path = store.root / warc_key
    flip_byte(path, path.stat().st_size // 2)  # inside some record's compressed block
    report = audit_archive(store)
    assert not report.intact
    found = kinds_by_key(report)
    assert {"corrupt", "invalid_warc"} <= found[warc_key]
    corrupt = next(f for f in report.failures if f.kind == "corrupt")
    assert corrupt.key == warc_key and corrupt.expected == warc_key.rsplit("/", 1)[-1]
    invalid = next(f for f in report.failures if f.kind == "invalid_warc")
    assert "offset" in invalid.detail


def test_a_truncated_warc_is_corrupt_and_invalid(store: LocalStore) -> None:
    warc_key, capture_ids = first_response_warc(store)
    path = store.root / warc_key
    size = path.stat().st_size
    os.truncate(writable(path), size * 2 // 3)  # cut inside a record
    report = audit_archive(store)
    assert not report.intact
    found = kinds_by_key(report)
    assert {"corrupt", "invalid_warc"} <= found[warc_key]
    invalid = [f for f in report.failures if f.kind == "invalid_warc"]
    assert any("cut short" in f.detail for f in invalid), invalid
    # The captures whose records were past the cut are named: their evidence is gone; and
    # so are the second run's revisits of them, in the other WARC.
    missing = [f for f in report.failures if f.kind == "missing"]
    lost = {f.capture_id for f in missing if f.key == warc_key}
    assert lost and lost <= set(capture_ids)
    revisits = [f for f in missing if f.key != warc_key]
    assert all("revisit" in f.detail and f.capture_id for f in revisits)
    assert set(found) - {warc_key} <= {f.key for f in revisits}


def test_a_deleted_manifest_is_missing_with_its_capture_id(store: LocalStore) -> None:
    key, manifest = manifests(store)[3]
    writable(store.root / key).unlink()
    report = audit_archive(store)
    [finding] = failures(report)
    assert finding.kind == "missing"
    assert finding.key == key  # the key it was filed under, derived from custody alone
    assert finding.capture_id == manifest.capture_id
    assert finding.chain == SOURCE and finding.position is not None


def test_an_edited_manifest_is_corrupt(store: LocalStore) -> None:
    key, _ = manifests(store)[0]
    path = store.root / key
    original = path.read_bytes()
    data = json.loads(original)
    data["final_url"] = "http://example.org/somewhere-else"
    writable(path).write_bytes(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
    report = audit_archive(store)
    [finding] = failures(report)
    assert (finding.kind, finding.key) == ("corrupt", key)
    assert finding.expected == hashlib.sha256(original).hexdigest()
    assert finding.actual == hashlib.sha256(path.read_bytes()).hexdigest()
    assert finding.capture_id == data["capture_id"]


def test_an_edited_custody_event_breaks_the_chain_where_edited(store: LocalStore) -> None:
    path = store.root / f"custody/{SOURCE}/0000000003.json"
    event = json.loads(path.read_bytes())
    event["actor"] = "someone-else@elsewhere"
    writable(path).write_bytes(json.dumps(event, sort_keys=True).encode())
    report = audit_archive(store)
    [finding] = failures(report)
    assert finding.kind == "custody_broken"
    assert (finding.key, finding.chain, finding.position) == (
        f"custody/{SOURCE}/0000000003.json",
        SOURCE,
        3,
    )
    assert "altered" in finding.detail


def test_reordered_custody_events_are_detected(store: LocalStore) -> None:
    second = store.root / f"custody/{SOURCE}/0000000002.json"
    third = store.root / f"custody/{SOURCE}/0000000003.json"
    a, b = second.read_bytes(), third.read_bytes()
    writable(second).write_bytes(b)
    writable(third).write_bytes(a)
    report = audit_archive(store)
    broken = [f for f in report.failures if f.kind == "custody_broken"]
    assert [(f.chain, f.position) for f in broken] == [(SOURCE, 2)]
    assert CustodyLog(store, SOURCE).verify().broken_at == 2


def test_a_deleted_warc_is_missing_with_its_referrers(store: LocalStore) -> None:
    warc_key, capture_ids = first_response_warc(store)
    writable(store.root / warc_key).unlink()
    report = audit_archive(store)
    missing = [f for f in report.failures if f.kind == "missing"]
    [gone] = [f for f in missing if "not stored" in f.detail]
    assert gone.key == warc_key
    assert f"custody/{SOURCE}/0000000001.json" in gone.detail  # the event that stored it
    assert f"and {len(capture_ids) + 1} other record(s)" in gone.detail  # manifests, `captured`
    # Every other failure is a revisit of the second run that pointed into the deleted WARC.
    others = [f for f in report.failures if f is not gone]
    assert others and all(f.kind == "missing" and "revisit" in f.detail for f in others)
    assert {f.capture_id for f in others} <= {m.capture_id for _, m in manifests(store)}


def test_a_manifest_outside_custody_is_orphaned(store: LocalStore) -> None:
    key, _ = manifests(store)[0]
    data = json.loads((store.root / key).read_bytes())
    data["capture_id"] = "00000000-0000-5000-8000-000000000000"
    orphan_key = key.rsplit("/", 1)[0] + f"/{data['capture_id']}.json"
    store.put_record(orphan_key, json.dumps(data, sort_keys=True).encode())
    report = audit_archive(store)
    [finding] = failures(report)
    assert (finding.kind, finding.key) == ("orphaned", orphan_key)
    assert finding.capture_id == data["capture_id"]
