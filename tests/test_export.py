"""WACZ export of a real archive: selection, package contents, validation, custody, escaping.

The archive comes from three ``osint-archive run`` passes over a copy of the demo site with one
extra page whose title is hostile markup; the later passes store revisits. Every package is
checked with the ``wacz`` package's own validator (``wacz validate``) and by reading the ZIP.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.custody import ChainCheck, CustodyLog
from archive.export import (
    ExportError,
    ExportResult,
    UnknownCaptureError,
    export_wacz,
    select_captures,
)
from archive.export_summary import SummaryHeader, SummaryItem, SummaryWarc, render_summary
from archive.keys import sha256_of_payload_key
from archive.local_store import LocalStore
from archive.manifest import CaptureManifest
from archive.store import ObjectStore, put_payload
from index.backend import SearchRequest
from index.sqlite_fts import SqliteFtsBackend
from index.sqlite_generations import live_index_path
from osint_archive.demo_site import DEFAULT_ROOT, DemoSite

BIN = Path(sys.executable).parent
SOURCE = "demo-news"
HOSTILE_TITLE = "<script>alert('owned')</script> Hostile & \"quoted\" <b>title</b>"
HOSTILE_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{escaped}</title>
<meta property="og:title" content="{escaped}">
</head><body><main><h1>{escaped}</h1>
<p>A page whose title is markup, to check that the export summary escapes it. It has enough
words in it for the text extractor to keep the paragraph as the main text of the page.</p>
</main></body></html>
"""


@dataclass(frozen=True)
class Archive:
    home: Path
    store: LocalStore
    first_run: list[CaptureManifest]
    second_run: list[CaptureManifest]
    third_run: list[CaptureManifest]


def hostile_site(root: Path) -> Path:
    """The demo site plus ``/news/hostile.html``, linked from the front page."""
    shutil.copytree(DEFAULT_ROOT, root)
    escaped = (
        HOSTILE_TITLE.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )
    (root / "news" / "hostile.html").write_text(
        HOSTILE_PAGE.format(escaped=escaped), encoding="utf-8"
    )
    index = root / "index.html"
    text = index.read_text(encoding="utf-8")
    link = '<li><a href="/news/hostile.html">Hostile title</a></li>\n      <li><a href="/news/live'
    index.write_text(text.replace('<li><a href="/news/live', link, 1), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    tmp = tmp_path_factory.mktemp("export-run")
    home = tmp / "home"
    with DemoSite(hostile_site(tmp / "site")) as site:
        config = tmp / "sources.yaml"
        config.write_text(
            f"""sources:
  - id: {SOURCE}
    kind: web
    url: {site.base_url}
    schedule: null
    max_depth: 2
    delay_seconds: 0
""",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
        env.update(OSINT_ARCHIVE_HOME=str(home), OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS="1")
        runs: list[list[CaptureManifest]] = []
        for _ in range(3):
            done = subprocess.run(
                [str(BIN / "osint-archive"), "run", "--config", str(config)],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            store = LocalStore(home / "archive")
            seen = {m.capture_id for run in runs for m in run}
            runs.append([m for m in select_captures(store) if m.capture_id not in seen])
    first, second, third = runs
    assert {m.warc.record_type for m in first} == {"response"}
    assert "revisit" in {m.warc.record_type for m in second}
    return Archive(home, LocalStore(home / "archive"), first, second, third)


def export(archive: Archive, manifests: list[CaptureManifest], out: Path) -> ExportResult:
    return export_wacz(archive.store, manifests, out, title="Test export", actor="tester@test")


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wacz"), "validate", "--file", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_package(
    path: Path, store: LocalStore, selected: list[CaptureManifest]
) -> zipfile.ZipFile:
    """Every property a court package must have; returns the open ZIP for further checks."""
    done = wacz_validate(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation succeeded" in done.stdout
    package = zipfile.ZipFile(path)
    names = package.namelist()
    assert len(names) == len(set(names))
    datapackage = json.loads(package.read("datapackage.json"))
    assert datapackage["wacz_version"] == "1.1.1"
    assert datapackage["profile"] == "data-package"
    # Every entry but the two datapackage files is listed, with its SHA-256 and size.
    resources = {r["path"]: r for r in datapackage["resources"]}
    assert set(resources) == set(names) - {"datapackage.json", "datapackage-digest.json"}
    for name, resource in resources.items():
        data = package.read(name)
        assert resource["hash"] == f"sha256:{sha256_hex(data)}", name
        assert resource["bytes"] == len(data), name
    digest = json.loads(package.read("datapackage-digest.json"))
    assert digest == {
        "path": "datapackage.json",
        "hash": f"sha256:{sha256_hex(package.read('datapackage.json'))}",
    }
    # WARCs: stored uncompressed, byte-identical to the archive objects, their hash their key.
    warcs = [n for n in names if n.startswith("archive/")]
    assert warcs and all(n.endswith(".warc.gz") for n in warcs)
    expected_warcs = {m.warc.sha256 for m in selected}
    package_warcs = set()
    for name in warcs:
        assert package.getinfo(name).compress_type == zipfile.ZIP_STORED, name
        data = package.read(name)
        sha = sha256_hex(data)
        package_warcs.add(sha)
        key = f"objects/sha256/{sha[:2]}/{sha[2:4]}/{sha}"
        assert sha256_of_payload_key(key) == sha
        assert data == store.read_bytes(key), name
    assert expected_warcs <= package_warcs
    # pages.jsonl: a header, then exactly the selected captures.
    lines = [json.loads(line) for line in package.read("pages/pages.jsonl").splitlines()]
    assert lines[0]["format"] == "json-pages-1.0"
    pages = lines[1:]
    assert sorted(p["id"] for p in pages) == sorted(m.capture_id for m in selected)
    by_id = {m.capture_id: m for m in selected}
    for page in pages:
        assert page["url"] == by_id[page["id"]].final_url
        assert page["ts"].startswith(by_id[page["id"]].captured_at.strftime("%Y-%m-%dT%H:%M:%S"))
    # Evidence: stored manifest bytes verbatim; the summary lists every item with its hashes.
    summary = package.read("evidence/summary.html").decode("utf-8")
    for m in selected:
        stored = store.read_bytes(m.key)
        assert package.read(f"evidence/manifest-{m.capture_id}.json") == stored
        for value in (m.capture_id, m.payload_sha256, m.warc.sha256, sha256_hex(stored)):
            assert value in summary, value
        if m.text is not None:
            text = package.read(f"evidence/text-{m.text.sha256}.txt")
            assert sha256_hex(text) == m.text.sha256
    assert "<script" not in summary
    check_cdxj(package)
    return package


def check_cdxj(package: zipfile.ZipFile) -> None:
    """The index is sorted, and each line's offset and length land on the record it names."""
    lines = package.read("indexes/index.cdxj").decode("utf-8").splitlines()
    assert lines == sorted(lines)
    for line in lines:
        _key, _ts, fields = line.split(" ", 2)
        entry = json.loads(fields)
        warc = package.read(f"archive/{entry['filename']}")
        offset, length = int(entry["offset"]), int(entry["length"])
        record = next(iter(ArchiveIterator(io.BytesIO(warc[offset : offset + length]))))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert record.rec_type in ("response", "revisit", "resource")
        assert (record.rec_type == "revisit") == (entry["mime"] == "warc/revisit")


def test_export_of_every_capture_validates_and_carries_the_evidence(
    archive: Archive, tmp_path: Path
) -> None:
    selected = select_captures(archive.store)
    runs = (archive.first_run, archive.second_run, archive.third_run)
    assert len(selected) == sum(len(run) for run in runs)
    result = export(archive, selected, tmp_path / "all.wacz")
    assert result.path.exists()
    assert result.sha256 == sha256_hex(result.path.read_bytes())
    assert result.size == result.path.stat().st_size
    assert result.captures == tuple(m.capture_id for m in selected)
    assert result.warnings == ()
    assert not list(tmp_path.glob(".*partial"))
    package = check_package(result.path, archive.store, selected)
    assert [f.path for f in result.files] == package.namelist()
    assert sha256_hex(package.read("datapackage.json")) == result.datapackage_sha256


def test_export_of_one_capture_holds_only_its_warc(archive: Archive, tmp_path: Path) -> None:
    capture = next(m for m in archive.first_run if m.text is not None)
    selected = select_captures(archive.store, capture_ids=[capture.capture_id])
    assert [m.capture_id for m in selected] == [capture.capture_id]
    result = export(archive, selected, tmp_path / "one.wacz")
    package = check_package(result.path, archive.store, selected)
    warcs = [n for n in package.namelist() if n.startswith("archive/")]
    assert warcs == [f"archive/{capture.warc.filename}"]
    manifests = [n for n in package.namelist() if n.startswith("evidence/manifest-")]
    assert manifests == [f"evidence/manifest-{capture.capture_id}.json"]


def test_a_revisit_brings_the_warc_of_its_original_response(
    archive: Archive, tmp_path: Path
) -> None:
    revisit = next(m for m in archive.second_run if m.warc.record_type == "revisit")
    original = next(m for m in archive.first_run if m.final_url == revisit.final_url)
    assert revisit.warc.key != original.warc.key
    selected = select_captures(archive.store, capture_ids=[revisit.capture_id])
    result = export(archive, selected, tmp_path / "revisit.wacz")
    package = check_package(result.path, archive.store, selected)
    warcs = {n for n in package.namelist() if n.startswith("archive/")}
    assert warcs == {f"archive/{revisit.warc.filename}", f"archive/{original.warc.filename}"}
    # The original's manifest comes along as evidence; pages list only the revisit.
    assert f"evidence/manifest-{original.capture_id}.json" in package.namelist()
    # The index holds both the revisit and the response it refers to, in different WARCs.
    entries = [
        json.loads(line.split(" ", 2)[2])
        for line in package.read("indexes/index.cdxj").decode().splitlines()
    ]
    for_url = [e for e in entries if e["url"] == revisit.final_url]
    assert {(e["mime"] == "warc/revisit", e["filename"]) for e in for_url} >= {
        (True, revisit.warc.filename),
        (False, original.warc.filename),
    }
    summary = package.read("evidence/summary.html").decode()
    assert f"original response in archive/{original.warc.filename}" in summary


def test_revisits_of_revisits_walk_back_to_the_first_response(
    archive: Archive, tmp_path: Path
) -> None:
    third = next(m for m in archive.third_run if m.warc.record_type == "revisit")
    second = next(m for m in archive.second_run if m.final_url == third.final_url)
    first = next(m for m in archive.first_run if m.final_url == third.final_url)
    assert third.previous_capture is not None
    assert third.previous_capture.capture_id == second.capture_id
    assert second.warc.record_type == "revisit"
    result = export(archive, [second, third], tmp_path / "revisits.wacz")
    package = check_package(result.path, archive.store, [second, third])
    warcs = {n for n in package.namelist() if n.startswith("archive/")}
    assert warcs == {f"archive/{m.warc.filename}" for m in (first, second, third)}


def test_selection_by_source_and_date_range(archive: Archive, tmp_path: Path) -> None:
    everything = select_captures(archive.store)
    day = everything[0].captured_at.date()
    assert select_captures(archive.store, source=SOURCE, since=day, until=day) == everything
    assert select_captures(archive.store, source=SOURCE, until=day - timedelta(days=1)) == []
    assert select_captures(archive.store, source=SOURCE, since=day + timedelta(days=1)) == []
    assert select_captures(archive.store, source="no-such-source") == []
    first = sorted(archive.first_run, key=lambda m: m.captured_at)
    # Naive datetimes are UTC, like the manifests.
    since = first[0].captured_at.replace(tzinfo=None)
    until = first[-1].captured_at
    chosen = select_captures(archive.store, source=SOURCE, since=since, until=until)
    assert {m.capture_id for m in chosen} == {m.capture_id for m in first}
    result = export(archive, chosen, tmp_path / "range.wacz")
    check_package(result.path, archive.store, chosen)


def test_selection_by_search_query(archive: Archive, tmp_path: Path) -> None:
    index = SqliteFtsBackend(live_index_path(archive.home / "index"))
    try:
        hits = index.search(SearchRequest.of("задержали", limit=100))
        chosen = select_captures(archive.store, query="задержали", index=index)
    finally:
        index.close()
    assert chosen
    assert {m.capture_id for m in chosen} == {hit.capture_id for hit in hits}
    for manifest in chosen:
        assert manifest.text is not None
        assert "задержали" in archive.store.read_bytes(manifest.text.key).decode("utf-8")
    result = export(archive, chosen, tmp_path / "query.wacz")
    check_package(result.path, archive.store, chosen)


def test_unknown_capture_ids_are_named(archive: Archive) -> None:
    known = archive.first_run[0].capture_id
    missing = ["00000000-0000-0000-0000-000000000000", "not-a-capture"]
    with pytest.raises(UnknownCaptureError) as raised:
        select_captures(archive.store, capture_ids=[known, *missing])
    assert raised.value.capture_ids == tuple(missing)
    for capture_id in missing:
        assert capture_id in str(raised.value)
    assert known not in str(raised.value)


def test_contradictory_or_empty_selections_are_refused(archive: Archive, tmp_path: Path) -> None:
    known = archive.first_run[0].capture_id
    with pytest.raises(ValueError, match="not both"):
        select_captures(archive.store, capture_ids=[known], query="x")
    with pytest.raises(ValueError, match="date range"):
        select_captures(archive.store, capture_ids=[known], since=date(2020, 1, 1))
    with pytest.raises(ValueError, match="search index"):
        select_captures(archive.store, query="x")
    with pytest.raises(ValueError, match="nothing to export"):
        export(archive, [], tmp_path / "empty.wacz")


def test_hostile_titles_are_escaped_in_the_summary(archive: Archive, tmp_path: Path) -> None:
    hostile = [m for m in archive.first_run if m.final_url.endswith("/news/hostile.html")]
    assert len(hostile) == 1 and hostile[0].text is not None
    assert "<script>" in hostile[0].text.title  # the extractor kept the markup as text
    result = export(archive, hostile, tmp_path / "hostile.wacz")
    package = check_package(result.path, archive.store, hostile)
    summary = package.read("evidence/summary.html").decode("utf-8")
    assert "<script" not in summary and "<b>" not in summary
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in summary


def test_summary_builder_escapes_every_field() -> None:
    evil = "\"><script>alert(1)</script><img src=x onerror=alert(2)>'&"
    item = SummaryItem(
        capture_id=evil,
        source_id=evil,
        url=f"javascript:{evil}",
        requested_url=evil,
        captured_at=evil,
        status=200,
        title=evil,
        record_type=evil,
        payload_sha256=evil,
        warc_path=evil,
        warc_sha256=evil,
        manifest_path=evil,
        manifest_sha256=evil,
        custody=evil,
        text_sha256=evil,
        original_warc_path=evil,
    )
    html = render_summary(
        SummaryHeader(evil, evil, evil, evil, evil),
        [item],
        [SummaryWarc(evil, evil, 1, evil, evil)],
        [ChainCheck(evil, 1, False, 1, evil)],
    ).decode("utf-8")
    for markup in ("<script", "<img", "onerror=alert(2)>", "href="):
        assert markup not in html
    assert html.count("&lt;script&gt;") >= 20


def test_custody_events_and_verification_travel_with_the_package(
    archive: Archive, tmp_path: Path
) -> None:
    capture = archive.second_run[0]
    result = export(archive, [capture], tmp_path / "custody.wacz")
    package = zipfile.ZipFile(result.path)
    custody = sorted(n for n in package.namelist() if n.startswith("evidence/custody-"))
    verification = json.loads(package.read(f"evidence/custody-{SOURCE}-verification.json"))
    assert verification["intact"] is True and verification["chain"] == SOURCE
    events = [n for n in custody if not n.endswith("-verification.json")]
    assert events
    listed = []
    for name in events:
        seq = int(name.removesuffix(".json").rsplit("-", 1)[1])
        data = package.read(name)
        assert data == archive.store.read_bytes(f"custody/{SOURCE}/{seq:010d}.json")
        listed.append(json.loads(data))
    assert any(
        e["type"] == "captured"
        and [capture.capture_id, sha256_hex(archive.store.read_bytes(capture.key))]
        in e["details"]["captures"]
        for e in listed
    )
    assert any(e["type"] == "stored" and e["subject"] == capture.warc.key for e in listed)
    # The export itself is now in the chain, naming the package by its SHA-256.
    log = CustodyLog(archive.store, SOURCE)
    assert log.verify().intact
    ((chain, seq),) = result.custody_events
    event = json.loads(archive.store.read_bytes(f"custody/{chain}/{seq:010d}.json"))
    assert (event["type"], event["subject"]) == ("exported", f"sha256:{result.sha256}")
    assert event["actor"] == "tester@test"
    assert event["details"]["captures"][0][0] == capture.capture_id


def test_a_corrupt_warc_is_refused_and_leaves_no_package(archive: Archive, tmp_path: Path) -> None:
    root = tmp_path / "archive"
    shutil.copytree(archive.store.root, root)
    store = LocalStore(root)
    capture = archive.first_run[0]
    path = root / capture.warc.key
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the last record's gzip member: still readable as a WARC
    path.write_bytes(bytes(data))
    out = tmp_path / "corrupt.wacz"
    with pytest.raises(ExportError, match=capture.warc.key):
        export_wacz(store, [capture], out, title="corrupt")
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == []


def test_export_reads_the_s3_backend_the_same_way(
    archive: Archive, tmp_path: Path, s3_store_factory: Callable[[], ObjectStore]
) -> None:
    s3 = s3_store_factory()
    for key in archive.store.list_keys("objects/"):
        with archive.store.open(key) as stream:
            assert put_payload(s3, stream).key == key
    for prefix in ("captures/", "custody/"):
        for key in archive.store.list_keys(prefix):
            s3.put_record(key, archive.store.read_bytes(key))
    revisit = next(m for m in archive.second_run if m.warc.record_type == "revisit")
    selected = select_captures(s3, capture_ids=[revisit.capture_id])
    result = export_wacz(s3, selected, tmp_path / "s3.wacz", title="from S3", actor="tester")
    package = check_package(result.path, archive.store, selected)
    assert len([n for n in package.namelist() if n.startswith("archive/")]) == 2
    assert result.custody_events and result.warnings == ()


def test_dates_are_whole_utc_days() -> None:
    from archive.export_select import as_utc_bound

    day = date(2024, 5, 1)
    assert as_utc_bound(day, end=False) == datetime(2024, 5, 1, tzinfo=UTC)
    assert as_utc_bound(day, end=True) == datetime(2024, 5, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert as_utc_bound(datetime(2024, 5, 1, 12), end=True) == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert as_utc_bound(None, end=True) is None
