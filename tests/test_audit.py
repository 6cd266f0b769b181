"""The fixity audit as a library: totals, WARC record checks, modes, backends, memory.

Tampering with a real run's archive is in ``test_audit_tamper.py``; here the audit's own
behaviour is pinned down on that archive and on small WARCs written for one check each.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from archive.audit import audit_archive, audit_custody_event, payload_stored_at
from archive.audit_warc import looks_like_warc, scan_warc
from archive.custody import CustodyLog
from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys, read_manifest
from archive.s3_store import S3Store
from archive.store import ObjectStore, StoredObject, put_payload, put_payload_bytes
from archive.warc import RecordRef, WarcFileWriter
from tests.s3_server import S3TestServer
from tests.test_audit_tamper import flip_byte, run_demo_archive

REPO = Path(__file__).resolve().parent.parent
MOMENT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def run_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs over the demo site (responses, then revisits), left untouched."""
    return run_demo_archive(tmp_path_factory.mktemp("audit-lib"))


@pytest.fixture
def demo(run_archive: Path, tmp_path: Path) -> LocalStore:
    root = tmp_path / "archive"
    shutil.copytree(run_archive, root)
    return LocalStore(root)


def http_head() -> StatusAndHeaders:
    return StatusAndHeaders("200 OK", [("Content-Type", "text/plain")], protocol="HTTP/1.1")


def add_response(
    warc: WarcFileWriter, url: str, body: bytes, *, wrong_block: bool = False
) -> RecordRef:
    """A response record whose digests are right, or whose block digest is not."""
    head = http_head()
    block = head.to_ascii_bytes() + body
    block_sha = hashlib.sha256(block + (b"x" if wrong_block else b"")).hexdigest()
    return warc.write_response(
        url,
        head,
        io.BytesIO(body),
        len(body),
        hashlib.sha256(body).hexdigest(),
        block_sha,
        MOMENT,
        None,
        None,
    )


def add_revisit(warc: WarcFileWriter, url: str, body: bytes, refers_to: str) -> RecordRef:
    return warc.write_revisit(
        url,
        http_head(),
        hashlib.sha256(body).hexdigest(),
        url,
        "2024-05-01T12:00:00Z",
        refers_to,
        MOMENT,
        None,
    )


def write_warc(store: ObjectStore, build: Callable[[WarcFileWriter], object]) -> StoredObject:
    warc = WarcFileWriter(store, "test.warc.gz")
    warc.write_warcinfo({"software": "test"})
    build(warc)
    return warc.close()


# -- the demo archive ------------------------------------------------------------------


def test_a_clean_archive_reports_totals_and_json(demo: LocalStore) -> None:
    report = audit_archive(demo, workers=2)
    assert report.intact and report.findings == []
    assert report.mode == "full" and report.seed is None and report.store == "local"
    totals = report.totals
    assert totals.objects == totals.objects_hashed
    assert totals.bytes_hashed == sum(
        (demo.root / key).stat().st_size for key in demo.list_keys("objects/")
    )
    assert totals.manifests == len(iter_manifest_keys(demo))
    assert totals.revisits_verified == totals.revisits > 0
    data = json.loads(report.to_json())
    assert data["intact"] is True
    assert data["totals"]["warc_records"] == totals.warc_records
    assert set(data["counts"].values()) == {0}


def test_an_audit_is_recorded_in_custody_without_changing_the_verdict(demo: LocalStore) -> None:
    # A text object: one corrupt finding (a WARC's first byte would also lose its records).
    texts = [read_manifest(demo, key).text for key in iter_manifest_keys(demo)]
    flip_byte(demo.root / next(text.key for text in texts if text is not None), 0)
    report = audit_archive(demo)
    event = audit_custody_event(report)
    assert event.type == "audited" and event.details["intact"] is False
    assert event.details["totals"]["objects"] == report.totals.objects
    assert event.details["failures"] == [{"kind": "corrupt", "key": report.failures[0].key}]
    CustodyLog(demo, "audit").append([event])
    again = audit_archive(demo)
    assert again.findings == report.findings and again.totals.chains == 2


def test_one_worker_and_many_agree(demo: LocalStore) -> None:
    one, many = audit_archive(demo, workers=1), audit_archive(demo, workers=8)
    assert one.totals == many.totals
    flip_byte(demo.root / next(demo.list_keys("objects/")), 0)
    one, many = audit_archive(demo, workers=1), audit_archive(demo, workers=8)
    assert one.findings == many.findings and len(one.failures) >= 1


def test_progress_counts_every_payload(demo: LocalStore) -> None:
    calls: list[tuple[int, int]] = []
    report = audit_archive(demo, on_progress=lambda done, total: calls.append((done, total)))
    total = report.totals.objects
    assert [done for done, _ in calls] == list(range(1, total + 1))
    assert {t for _, t in calls} == {total}


def test_a_manifest_filed_under_another_key_is_corrupt(demo: LocalStore) -> None:
    key = iter_manifest_keys(demo)[0]
    manifest = read_manifest(demo, key)
    moved = f"captures/{manifest.source_id}/1999/01/01/{manifest.capture_id}.json"
    demo.put_record(moved, (demo.root / key).read_bytes())
    (demo.root / key).unlink()
    report = audit_archive(demo)
    [finding] = report.failures
    assert (finding.kind, finding.key, finding.expected) == ("corrupt", moved, key)


# -- WARC records ----------------------------------------------------------------------


def test_a_wrong_record_digest_is_invalid_even_under_the_right_hash(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    bad: list[RecordRef] = []
    warc = write_warc(
        store,
        lambda w: bad.append(add_response(w, "http://example.org/", b"body", wrong_block=True)),
    )
    report = audit_archive(store)
    assert not report.intact
    assert [(f.kind, f.key) for f in report.failures] == [("invalid_warc", warc.key)]
    detail = report.failures[0].detail
    assert bad[0].record_id in detail and "block digest failed" in detail
    assert f"offset {bad[0].offset}" in detail


def test_revisits_are_matched_with_the_records_they_refer_to(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    refs: dict[str, RecordRef] = {}

    def first(w: WarcFileWriter) -> None:
        refs["original"] = add_response(w, "http://example.org/a", b"original body")

    def second(w: WarcFileWriter) -> None:
        refs["good"] = add_revisit(
            w, "http://example.org/a", b"original body", refs["original"].record_id
        )
        refs["lying"] = add_revisit(
            w, "http://example.org/a", b"other body", refs["original"].record_id
        )
        refs["dangling"] = add_revisit(w, "http://example.org/b", b"x", "<urn:uuid:nowhere>")

    write_warc(store, first)
    revisits = write_warc(store, second)
    report = audit_archive(store)
    assert report.totals.revisits == 3 and report.totals.revisits_verified == 1
    by_kind = {f.kind: f for f in report.failures}
    assert set(by_kind) == {"invalid_warc", "missing"}
    lying, dangling = by_kind["invalid_warc"], by_kind["missing"]
    assert lying.key == dangling.key == revisits.key
    assert refs["lying"].record_id in lying.detail and lying.expected != lying.actual
    assert refs["dangling"].record_id in dangling.detail and "<urn:uuid:nowhere>" in dangling.detail
    # A sample may leave the original unread: an unmatched revisit is then unchecked, not missing.
    sampled = audit_archive(store, sample=1.0, seed=1)
    assert [f.kind for f in sampled.failures] == ["invalid_warc"]


def test_unreferenced_payloads_are_reported_but_do_not_fail(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    crashed = write_warc(store, lambda w: add_response(w, "http://example.org/", b"page"))
    loose = put_payload_bytes(store, b"left over")
    report = audit_archive(store)
    assert report.intact
    assert {(f.kind, f.key) for f in report.findings} == {
        ("unreferenced", crashed.key),
        ("unreferenced", loose.key),
    }
    assert report.totals.warcs == 1  # recognised as a WARC by its first bytes, and checked
    assert report.totals.digests_verified == report.totals.warc_records == 2


def test_every_cut_of_a_warc_is_reported_or_lands_between_records(demo: LocalStore) -> None:
    key = read_manifest(demo, iter_manifest_keys(demo)[0]).warc.key
    data = (demo.root / key).read_bytes()
    whole = scan_warc(io.BytesIO(data))
    assert whole.problems == [] and whole.records > 4
    iterator = ArchiveIterator(io.BytesIO(data))
    starts = {len(data)} | {iterator.get_record_offset() for _ in iterator}
    assert len(starts) == whole.records + 1
    for cut in range(1, len(data), 61):
        scan = scan_warc(io.BytesIO(data[:cut]))  # never raises
        assert scan.problems or cut in starts, cut
    assert looks_like_warc(data[:100]) and not looks_like_warc(b"\x1f\x8b" + os.urandom(50))


def test_garbage_where_a_warc_is_expected_is_invalid_not_a_crash(tmp_path: Path) -> None:
    for garbage in (b"WARC/1.1\r\nnonsense", b"\x1f\x8b\x08\x00" + os.urandom(3000)):
        scan = scan_warc(io.BytesIO(garbage))
        assert scan.problems, garbage[:20]


# -- modes -----------------------------------------------------------------------------


def age_every_payload(store: LocalStore, when: datetime) -> None:
    stamp = when.timestamp()
    for key in store.list_keys("objects/"):
        os.utime(store.root / key, (stamp, stamp))


def test_since_rehashes_only_newer_payloads_but_all_records(demo: LocalStore) -> None:
    last_week = datetime.now(UTC) - timedelta(days=7)
    age_every_payload(demo, last_week)
    texts = (read_manifest(demo, k).text for k in iter_manifest_keys(demo))
    text = next(t for t in texts if t is not None)
    flip_byte(demo.root / text.key, 0)
    os.utime(demo.root / text.key, (last_week.timestamp(),) * 2)
    fresh = put_payload_bytes(demo, b"stored just now")
    report = audit_archive(demo, since=datetime.now(UTC) - timedelta(days=1))
    assert report.mode == "since"
    assert report.totals.objects_hashed == 1  # only the fresh object
    assert report.totals.manifests == len(iter_manifest_keys(demo))
    # captured and stored for each of the two passes, transcribed for the demo video
    assert report.totals.chains == 1 and report.totals.events == 5
    assert [f.key for f in report.findings] == [fresh.key]  # unreferenced, not failing
    older = audit_archive(demo, since=(last_week - timedelta(days=1)).replace(tzinfo=None))
    assert [(f.kind, f.key) for f in older.failures] == [("corrupt", text.key)]


def test_a_sample_is_seeded_and_reproducible(demo: LocalStore) -> None:
    first = audit_archive(demo, sample=0.5, seed=42)
    again = audit_archive(demo, sample=0.5, seed=42)
    assert first.mode == "sample" and first.seed == 42 and first.sample == 0.5
    assert first.totals == again.totals
    assert 0 < first.totals.objects_hashed < first.totals.objects
    assert first.intact
    chosen = audit_archive(demo, sample=0.3)
    assert chosen.seed is not None and json.loads(chosen.to_json())["seed"] == chosen.seed
    assert audit_archive(demo, sample=1.0).totals.objects_hashed == first.totals.objects


@pytest.mark.parametrize(
    "options",
    [{"sample": 0.0}, {"sample": 1.5}, {"workers": 0}],
)
def test_invalid_options_are_refused(tmp_path: Path, options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        audit_archive(LocalStore(tmp_path / "archive"), **options)  # type: ignore[arg-type]


# -- S3 --------------------------------------------------------------------------------


def copy_to_s3(source: LocalStore, target: S3Store) -> None:
    """The same archive on S3: payloads streamed in, records created at the same keys."""
    for key in source.list_keys("objects/"):
        with source.open(key) as stream:
            assert put_payload(target, stream).key == key
    for prefix in ("captures/", "custody/", "transcripts/", "anchors/"):
        for key in source.list_keys(prefix):
            target.put_record(key, source.read_bytes(key))


def test_the_audit_runs_the_same_on_s3(
    demo: LocalStore, s3_store_factory: Callable[..., S3Store], s3_server: S3TestServer
) -> None:
    s3 = s3_store_factory()
    copy_to_s3(demo, s3)
    local, remote = audit_archive(demo), audit_archive(s3)
    assert remote.intact, remote.findings
    assert remote.store == "s3" and remote.totals == local.totals
    key = next(s3.list_keys("objects/"))
    assert payload_stored_at(s3, key) is None
    assert payload_stored_at(demo, key) is not None
    since = audit_archive(s3, since=datetime.now(UTC) + timedelta(days=1))
    assert since.totals.objects_hashed == since.totals.objects  # S3 cannot tell: hash all
    # Object lock keeps old versions, but a new current version can still be put over a key:
    # the audit reads what the store serves now, and names the key.
    text = next(k for k in s3.list_keys("objects/") if demo.size(k) < 5000)
    s3_server.client().put_object(s3.bucket, text, io.BytesIO(b"forged"), 6)
    report = audit_archive(s3)
    corrupt = [f for f in report.failures if f.kind == "corrupt"]
    assert [f.key for f in corrupt] == [text]
    assert corrupt[0].actual == hashlib.sha256(b"forged").hexdigest()


# -- memory ----------------------------------------------------------------------------

AUDIT_IN_CHILD = r"""
import json, sys
from pathlib import Path
from archive.audit import audit_archive
from archive.local_store import LocalStore
report = audit_archive(LocalStore(Path(sys.argv[1])), workers=4)
status = open("/proc/self/status").read().splitlines()
hwm_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
print(json.dumps({"intact": report.intact, "bytes": report.totals.bytes_hashed,
                  "peak_rss_mib": hwm_kib / 1024}))
"""


def test_memory_stays_flat_for_large_objects(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    size = 0
    for _ in range(2):
        source = tmp_path / "big.bin"
        with source.open("wb") as handle:
            for _ in range(192):  # 192 MiB each, never held whole
                handle.write(os.urandom(1024 * 1024))
        with source.open("rb") as stream:
            size += put_payload(store, stream).size
        source.unlink()
    # One 64 MiB response record in a WARC: read record by record in the same flat memory.
    write_warc(store, lambda w: add_response(w, "http://example.org/big", os.urandom(64 << 20)))
    out = subprocess.run(
        [sys.executable, "-c", AUDIT_IN_CHILD, str(store.root)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    result = json.loads(out.stdout)
    assert result["intact"] and result["bytes"] > size
    # Slurping would peak above 192 MiB; four workers streaming 1 MiB chunks stay far below.
    assert result["peak_rss_mib"] < 150, result
