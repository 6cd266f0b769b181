"""End to end: ``osint-archive run`` over the demo site on loopback, then what the archive holds.

Each test runs the installed command as a subprocess against a fresh ``OSINT_ARCHIVE_HOME``,
so the whole chain is real: crawler, fetcher, WARC writer, manifests, custody log, index.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from warcio.archiveiterator import ArchiveIterator

from archive.local_store import LocalStore
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectExistsError
from index.sqlite_fts import SqliteFtsBackend
from index.sqlite_generations import live_index_path
from osint_archive.demo_site import DEFAULT_ROOT, DemoSite
from tests.cli_runs import run_cli, search_json, unused_port

BIN = Path(sys.executable).parent
DEMO_NEWS = [
    "news/ru-minsk-arrests.html",
    "news/ru-trial-brest.html",
    "news/ru-video-hearing.html",
    "news/be-minsk-detentions.html",
    "news/be-hrodna-court.html",
    "news/en-gomel-searches.html",
    "news/en-prison-letters.html",
    "news/live.html",
]
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# The contract's fields, plus the title and publication date added with the search issue.
SEARCH_FIELDS = {"id", "kind", "source", "url", "capture_id", "lang", "captured_at", "snippet"}
SEARCH_FIELDS_ADDED = {"title", "published_at"}


def web_source(source_id: str, url: str, **options: Any) -> dict[str, Any]:
    return {
        "id": source_id,
        "kind": "web",
        "url": url,
        "schedule": "@daily",
        "max_depth": 2,
        "max_pages": 50,
        "delay_seconds": 0,
        "concurrency": 2,
        **options,
    }


def write_config(path: Path, *sources: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump({"operator": "pipeline tests", "sources": list(sources)}),
        encoding="utf-8",
    )
    return path


def load_manifests(home: Path, source_id: str | None = None) -> list[CaptureManifest]:
    store = LocalStore(home / "archive")
    return [read_manifest(store, key) for key in iter_manifest_keys(store, source_id)]


def by_run(manifests: list[CaptureManifest]) -> list[list[CaptureManifest]]:
    """Manifests grouped per run, oldest run first.

    Run ids sort by their start second only, and two quick runs can share it.
    """
    runs: dict[str, list[CaptureManifest]] = {}
    for manifest in manifests:
        runs.setdefault(manifest.run_id, []).append(manifest)
    return sorted(runs.values(), key=lambda run: min(m.captured_at for m in run))


def evidence_files(home: Path) -> dict[str, int]:
    """Size of every evidence file (payloads, manifests, custody), by path."""
    root = home / "archive"
    return {
        p.relative_to(root).as_posix(): p.stat().st_size
        for prefix in ("objects", "captures", "custody")
        for p in (root / prefix).rglob("*")
        if p.is_file()
    }


def summary_row(output: str, source_id: str) -> dict[str, str]:
    """One source's row of the run summary table: status, pages, new bytes, revisits, …"""
    columns = (
        "source",
        "kind",
        "status",
        "pages",
        "posts",
        "media",
        "transcripts",
        "new bytes",
        "revisits",
        "changed",
        "failures",
    )
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if cells[0] == source_id and len(cells) == len(columns):
            return dict(zip(columns, cells, strict=True))
    raise AssertionError(f"no summary row for {source_id} in:\n{output}")


@pytest.fixture
def demo_site() -> Iterator[DemoSite]:
    with DemoSite() as site:
        yield site


@pytest.fixture
def padded_site(tmp_path: Path) -> Iterator[DemoSite]:
    """The demo site with ~64 KB of incompressible comment in every page.

    The real demo pages are so small that manifests would outweigh them; padded, the saving
    that revisits bring shows as it does on real news pages.
    """
    root = tmp_path / "padded-site"
    shutil.copytree(DEFAULT_ROOT, root)
    for page in root.rglob("*.html"):
        with page.open("a", encoding="utf-8") as out:
            out.write(f"\n<!-- {secrets.token_hex(32 * 1024)} -->\n")
    with DemoSite(root=root) as site:
        yield site


def test_first_run_captures_the_demo_site(tmp_path: Path, demo_site: DemoSite) -> None:
    base = demo_site.base_url
    config = write_config(tmp_path / "s.yaml", web_source("demo-news", base))
    done = run_cli(tmp_path, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    row = summary_row(done.stderr, "demo-news")
    assert (row["status"], row["pages"], row["revisits"], row["failures"]) == (
        "ok",
        "10",
        "0",
        "0",
    )  # 9 pages + robots.txt

    manifests = load_manifests(tmp_path)
    urls = {m.requested_url for m in manifests}
    assert urls == {base, base + "robots.txt", *(base + page for page in DEMO_NEWS)}
    assert len(manifests) == 10
    # The off-host partner link is out of scope; /private/ is refused by robots.txt.
    assert not any("example.org" in url for url in urls)
    assert base + "private/secret.html" not in urls
    assert all(m.status == 200 and m.robots_policy == "obey" for m in manifests)
    assert all(m.warc.record_type == "response" for m in manifests)
    assert all(m.text_status == "new" for m in manifests if m.text is not None)

    robots = next(m for m in manifests if m.requested_url == base + "robots.txt")
    assert robots.content_type is not None and robots.content_type.startswith("text/plain")
    assert robots.text is None
    robots_txt = (DEFAULT_ROOT / "robots.txt").read_bytes()
    store = LocalStore(tmp_path / "archive")
    with store.open(robots.warc.key) as stream:
        stream.seek(robots.warc.offset)
        record = next(iter(ArchiveIterator(stream)))
        assert record.content_stream().read() == robots_txt


def test_robots_ignore_captures_the_private_area(tmp_path: Path, demo_site: DemoSite) -> None:
    base = demo_site.base_url
    config = write_config(tmp_path / "s.yaml", web_source("demo-all", base, robots="ignore"))
    done = run_cli(tmp_path, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr

    manifests = load_manifests(tmp_path)
    urls = {m.requested_url for m in manifests}
    assert base + "private/secret.html" in urls
    assert {base, *(base + page for page in DEMO_NEWS)} <= urls
    assert {m.robots_policy for m in manifests} == {"ignore"}
    private = next(m for m in manifests if m.requested_url.endswith("/private/secret.html"))
    assert private.status == 200
    store = LocalStore(tmp_path / "archive")
    options_bytes = store.read_bytes(private.source_options.key)
    assert json.loads(options_bytes)["robots"] == "ignore"
    assert hashlib.sha256(options_bytes).hexdigest() == private.source_options.sha256


def test_second_run_on_an_unchanged_site_writes_revisits(
    tmp_path: Path, padded_site: DemoSite
) -> None:
    config = write_config(tmp_path / "s.yaml", web_source("demo-news", padded_site.base_url))
    first = run_cli(tmp_path, "run", "--config", str(config))
    assert first.returncode == 0, first.stderr
    after_first = evidence_files(tmp_path)
    second = run_cli(tmp_path, "run", "--config", str(config))
    assert second.returncode == 0, second.stderr
    after_second = evidence_files(tmp_path)

    run1, run2 = by_run(load_manifests(tmp_path))
    assert len(run1) == len(run2) == 10
    firsts = {m.requested_url: m for m in run1}
    for manifest in run2:
        original = firsts[manifest.requested_url]
        assert manifest.warc.record_type == "revisit"
        assert manifest.payload_sha256 == original.payload_sha256
        assert manifest.changed is False
        assert manifest.text_status == ("none" if manifest.text is None else "unchanged")
        assert manifest.previous_capture is not None
        assert manifest.previous_capture.capture_id == original.capture_id

    # Each revisit names the response it stands for, under the WARC 1.1 revisit profile.
    store = LocalStore(tmp_path / "archive")
    (warc_key,) = {m.warc.key for m in run2}
    with store.open(warc_key) as stream:
        records = {
            r.rec_headers.get_header("WARC-Record-ID"): r.rec_headers
            for r in ArchiveIterator(stream)
        }
    originals = {}
    for key in {m.warc.key for m in run1}:
        with store.open(key) as stream:
            for r in ArchiveIterator(stream):
                originals[r.rec_headers.get_header("WARC-Record-ID")] = r.rec_headers
    for manifest in run2:
        revisit = records[manifest.warc.response_record_id]
        original = originals[firsts[manifest.requested_url].warc.response_record_id]
        assert revisit.get_header("WARC-Type") == "revisit"
        assert revisit.get_header("WARC-Profile") == REVISIT_PROFILE
        assert revisit.get_header("WARC-Refers-To") == original.get_header("WARC-Record-ID")
        assert revisit.get_header("WARC-Refers-To-Target-URI") == original.get_header(
            "WARC-Target-URI"
        )
        assert revisit.get_header("WARC-Refers-To-Date") == original.get_header("WARC-Date")
        assert revisit.get_header("WARC-Payload-Digest") == original.get_header(
            "WARC-Payload-Digest"
        )
        # The manifest alone locates the original payload, byte range included.
        first = firsts[manifest.requested_url]
        refers_to = manifest.warc.refers_to
        assert refers_to is not None
        assert (refers_to.warc_key, refers_to.record_id) == (
            first.warc.key,
            first.warc.response_record_id,
        )
        assert (refers_to.offset, refers_to.length) == (first.warc.offset, first.warc.length)
    check = subprocess.run(
        [str(BIN / "warcio"), "check", "-v", str(store.root / warc_key)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr

    # The second run stores one small WARC of revisits plus manifests and custody events.
    new_files = {k: v for k, v in after_second.items() if k not in after_first}
    assert [k for k in new_files if k.startswith("objects/")] == [warc_key]
    first_bytes = sum(after_first.values())
    second_bytes = sum(new_files.values())
    assert second_bytes < first_bytes * 0.2, (first_bytes, second_bytes)
    row = summary_row(second.stderr, "demo-news")
    assert (row["status"], row["revisits"], row["changed"]) == ("ok", "10", "0")


def test_changed_page_is_flagged_against_the_previous_capture(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    config = write_config(tmp_path / "s.yaml", web_source("demo-news", demo_site.base_url))
    assert run_cli(tmp_path, "run", "--config", str(config)).returncode == 0
    demo_site.edition += 1
    assert run_cli(tmp_path, "run", "--config", str(config)).returncode == 0

    run1, run2 = by_run(load_manifests(tmp_path))
    live_url = demo_site.base_url + "news/live.html"
    live1 = next(m for m in run1 if m.requested_url == live_url)
    live2 = next(m for m in run2 if m.requested_url == live_url)
    assert live2.changed is True
    assert live2.text_status == "changed"
    assert live2.warc.record_type == "response"
    assert live2.payload_sha256 != live1.payload_sha256
    assert live2.previous_capture is not None
    assert live2.previous_capture.capture_id == live1.capture_id
    assert live2.previous_capture.manifest_key == live1.key
    others = [m for m in run2 if m.requested_url != live_url]
    assert len(others) == 9
    assert not any(m.changed for m in others)
    assert {m.warc.record_type for m in others} == {"revisit"}
    # The new edition is searchable, and so is the first one: evidence is kept, not replaced.
    hits = {h["capture_id"] for h in search_json(tmp_path, "edition 2")}
    assert live2.capture_id in hits
    assert live1.capture_id not in hits


def test_manifests_are_immutable_and_filed_by_source_and_day(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    config = write_config(tmp_path / "s.yaml", web_source("demo-news", demo_site.base_url))
    assert run_cli(tmp_path, "run", "--config", str(config)).returncode == 0
    store = LocalStore(tmp_path / "archive")
    keys = iter_manifest_keys(store)
    assert len(keys) == 10
    for key in keys:
        manifest = read_manifest(store, key)
        day = f"{manifest.run_id[0:4]}/{manifest.run_id[4:6]}/{manifest.run_id[6:8]}"
        assert key == f"captures/demo-news/{day}/{manifest.capture_id}.json"
        assert re.fullmatch(r"captures/demo-news/\d{4}/\d{2}/\d{2}/[0-9a-f-]{36}\.json", key)
        mode = (store.root / key).stat().st_mode
        assert mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) == 0, oct(mode)
        # The store refuses to replace a manifest with different bytes.
        with pytest.raises(ObjectExistsError):
            store.put_record(key, store.read_bytes(key) + b" ")
        assert store.put_record(key, store.read_bytes(key)) is False


def index_rows(home: Path) -> list[tuple[Any, ...]]:
    """Every indexed document with its full text, in id order."""
    index = SqliteFtsBackend(live_index_path(home / "index"))
    try:
        return index.stored_documents()
    finally:
        index.close()


def test_search_finds_pages_and_reindex_rebuilds_the_same_index(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    source = web_source("demo-news", demo_site.base_url, tags=["demo", "news"])
    config = write_config(tmp_path / "s.yaml", source)
    assert run_cli(tmp_path, "run", "--config", str(config)).returncode == 0
    indexed = index_rows(tmp_path)
    # Nine pages, and the segments of the demo video's transcript (as many as Whisper made).
    kinds = [row[1] for row in indexed]
    assert kinds.count("page") == 9
    assert kinds.count("transcript") >= 1
    assert len(kinds) == kinds.count("page") + kinds.count("transcript")
    assert {row[8] for row in indexed} == {"demo news"}

    hits = search_json(tmp_path, "задержали")
    assert hits
    for hit in hits:
        assert set(hit) == SEARCH_FIELDS | SEARCH_FIELDS_ADDED
        assert hit["kind"] == "page"
        assert hit["source"] == "demo-news"
        assert hit["id"] == f"page:{hit['capture_id']}"
        assert "задержали" in hit["snippet"].lower()
    assert demo_site.base_url + "news/ru-minsk-arrests.html" in {h["url"] for h in hits}
    manifests = {m.capture_id: m for m in load_manifests(tmp_path)}
    for hit in hits:
        assert manifests[hit["capture_id"]].final_url == hit["url"]

    shutil.rmtree(tmp_path / "index")
    assert search_json(tmp_path, "задержали") == []
    done = run_cli(tmp_path, "reindex")
    assert done.returncode == 0, done.stderr
    assert f"indexed {len(indexed)} documents" in done.stdout
    rebuilt = search_json(tmp_path, "задержали")
    assert sorted(rebuilt, key=lambda h: h["id"]) == sorted(hits, key=lambda h: h["id"])
    assert index_rows(tmp_path) == indexed


@pytest.mark.parametrize("failure", ["connection-refused", "blocked-target"])
def test_a_failing_source_does_not_stop_the_others(
    tmp_path: Path, demo_site: DemoSite, failure: str
) -> None:
    if failure == "connection-refused":
        bad_url, env = f"http://127.0.0.1:{unused_port()}/", {}
    else:
        # Only the demo site's address is allowed; a private address elsewhere is refused.
        bad_url = "http://10.255.255.1/"
        env = {
            "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "0",
            "OSINT_ARCHIVE_ALLOW_NETWORKS": "127.0.0.1/32",
        }
    config = write_config(
        tmp_path / "s.yaml",
        web_source("broken", bad_url),
        web_source("demo-news", demo_site.base_url),
    )
    done = run_cli(tmp_path, "run", "--config", str(config), env=env)
    assert done.returncode == 1, done.stderr
    assert summary_row(done.stderr, "broken")["status"] == "failed"
    assert summary_row(done.stderr, "demo-news")["status"] == "ok"
    assert "broken: the source URL was not captured" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(load_manifests(tmp_path, "demo-news")) == 10
    assert load_manifests(tmp_path, "broken") == []


def test_an_unreachable_telegram_source_fails_clearly_while_web_sources_run(
    tmp_path: Path, demo_site: DemoSite
) -> None:
    # Port 9 on loopback: nothing listens, the connection is refused.
    channel = {"id": "some-channel", "kind": "telegram", "url": "http://127.0.0.1:9/s/x"}
    config = write_config(
        tmp_path / "s.yaml",
        {**channel, "schedule": None, "timeout_seconds": 2},
        web_source("demo-news", demo_site.base_url),
    )
    done = run_cli(tmp_path, "run", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "some-channel: the source URL was not captured" in done.stderr
    assert "cannot connect" in done.stderr
    assert "Traceback" not in done.stderr
    assert len(load_manifests(tmp_path, "demo-news")) == 10
    assert load_manifests(tmp_path, "some-channel") == []
