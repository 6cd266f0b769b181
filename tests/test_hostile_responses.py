"""Responses that once cost evidence: each is now archived, and failures stop cleanly.

A loopback site serves a raw UTF-8 header, a gzipped robots.txt and a page declaring a
non-text "charset"; a store that fails once mid-commit stands in for a storage outage.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys, read_manifest
from collectors.netguard import NetworkPolicy
from osint_archive.pipeline import RunJournal, SourceRunner
from osint_archive.settings import Settings
from osint_archive.sources import Source

PAGES = {
    "/": b'<html><head><title>Index</title></head><body><a href="/cyrillic">c</a>'
    b'<a href="/base64">b</a><a href="/private/secret">p</a>'
    + b"".join(b'<a href="/page%d">p%d</a>' % (i, i) for i in range(6))
    + b"</body></html>",
    "/cyrillic": "<html><title>Мінск</title><body><p>Мінск</p></body></html>".encode(),
    "/base64": b'<html><head><meta charset="base64"><title>odd</title></head>'
    b"<body><p>declared base64</p></body></html>",
    "/private/secret": b"<html><title>secret</title><body>secret</body></html>",
    **{
        f"/page{i}": b"<html><title>page %d</title><body>text %d</body></html>" % (i, i)
        for i in range(6)
    },
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/busy":
            body = b"come back tomorrow"
            self.send_response(503)
            self.send_header("Retry-After", "86400")
        elif self.path == "/robots.txt":
            body = gzip.compress(b"User-agent: *\nDisallow: /private/\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Encoding", "gzip")
        elif self.path in PAGES:
            body = PAGES[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            if self.path == "/cyrillic":
                # Raw UTF-8 in a header, as some servers send file names.
                self._headers_buffer.append(  # type: ignore[attr-defined]
                    'Content-Disposition: inline; filename="Мінск.html"\r\n'.encode()
                )
        else:
            body = b"not found"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def source_for(url: str) -> Source:
    return Source(
        id="hostile",
        kind="web",
        url=url,
        schedule=None,
        delay_seconds=0,
        concurrency=2,
        max_depth=2,
    )


def run_once(home: Path, source: Source, store: LocalStore, segment_pages: int = 100) -> object:
    settings = Settings.from_env({"OSINT_ARCHIVE_HOME": str(home)})
    settings = Settings(
        home=home,
        config_path=settings.config_path,
        network=NetworkPolicy(allow_private_networks=True),
        store_backend="local",
        user_agent="test",
        environ={},
    )
    index = settings.open_index()
    runner = SourceRunner(settings, store, index, operator="test", segment_pages=segment_pages)
    try:
        return asyncio.run(runner.run(source))
    finally:
        index.close()


def manifests_by_path(store: LocalStore) -> dict[str, object]:
    found = {}
    for key in iter_manifest_keys(store):
        manifest = read_manifest(store, key)
        found["/" + manifest.requested_url.split("/", 3)[3]] = manifest
    return found


def test_hostile_responses_are_all_archived_and_warcs_check(tmp_path: Path, site: str) -> None:
    store = LocalStore(tmp_path / "archive")
    outcome = run_once(tmp_path, source_for(site), store)
    assert outcome.ok, outcome  # type: ignore[attr-defined]
    found = manifests_by_path(store)
    # The gzipped robots.txt was read: /private/ is not captured.
    assert "/private/secret" not in found
    assert "/robots.txt" in found
    # A page declaring a non-text codec is archived; its text comes out all the same.
    odd = found["/base64"]
    assert odd.text is not None and odd.text.charset == "utf-8"  # type: ignore[attr-defined]
    assert "/cyrillic" in found
    for key in {m.warc.key for m in found.values()}:  # type: ignore[attr-defined]
        check = subprocess.run(
            [str(Path(sys.executable).parent / "warcio"), "check", "-v", str(store.root / key)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr


class FailingOnceStore(LocalStore):
    """A store whose third manifest write fails once, like a storage outage mid-commit."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.manifest_writes = 0
        self.failed = False

    def put_record(self, key: str, data: bytes) -> bool:
        if key.startswith("captures/") and not self.failed:
            self.manifest_writes += 1
            if self.manifest_writes == 3:
                self.failed = True
                raise OSError("simulated storage outage")
        return super().put_record(key, data)


@pytest.mark.parametrize("segment_pages", [3, 100], ids=["mid-crawl-commit", "final-commit"])
def test_a_failed_commit_stops_the_run_and_the_next_pass_completes_it(
    tmp_path: Path, site: str, segment_pages: int
) -> None:
    flaky = FailingOnceStore(tmp_path / "archive")
    first = run_once(tmp_path, source_for(site), flaky, segment_pages)
    assert not first.ok  # type: ignore[attr-defined]
    assert "simulated storage outage" in first.error  # type: ignore[attr-defined]
    journal = json.loads(flaky.read_bytes(RunJournal.key("hostile")))
    assert journal["status"] == "running"  # left open for the next pass

    store = LocalStore(tmp_path / "archive")
    second = run_once(tmp_path, source_for(site), store)
    assert second.ok and second.resumed  # type: ignore[attr-defined]
    assert second.run_id == journal["run_id"]  # type: ignore[attr-defined]
    found = manifests_by_path(store)
    expected = {"/", "/robots.txt", "/cyrillic", "/base64", *(f"/page{i}" for i in range(6))}
    assert set(found) == expected
    # Every URL's state points at its capture, those committed before the outage included,
    # so the next crawl links each page to this capture and writes revisits against it.
    from archive.url_state import load_url_state

    for manifest in found.values():
        state = load_url_state(store, "hostile", manifest.final_url)  # type: ignore[attr-defined]
        assert state is not None
        assert state.last_capture_id == manifest.capture_id  # type: ignore[attr-defined]
    from archive.custody import CustodyLog

    check = CustodyLog(store, "hostile").verify()
    assert check.intact, check.reason
    listed = [
        capture_id
        for event in CustodyLog(store, "hostile").events()
        if event["type"] == "captured"
        for capture_id, _ in event["details"]["captures"]
    ]
    assert sorted(listed) == sorted(m.capture_id for m in found.values())  # type: ignore[attr-defined]


def test_a_source_whose_url_answers_503_fails_but_its_answer_is_kept(
    tmp_path: Path, site: str
) -> None:
    store = LocalStore(tmp_path / "archive")
    outcome = run_once(tmp_path, source_for(site + "busy"), store)
    assert not outcome.ok  # type: ignore[attr-defined]
    assert "HTTP 503" in outcome.error  # type: ignore[attr-defined]
    busy = manifests_by_path(store)["/busy"]
    assert busy.status == 503  # type: ignore[attr-defined]


def test_retry_after_longer_than_allowed_is_not_waited_for(site: str) -> None:
    from collectors.http_fetch import FetchLimits, HttpFetcher

    async def fetch() -> tuple[int, int]:
        fetcher = HttpFetcher(
            NetworkPolicy(allow_private_networks=True),
            FetchLimits(retries=3, max_retry_after_seconds=60),
            user_agent="test",
        )
        try:
            result = await fetcher.fetch(site + "busy")
            status, attempts = result.final.status, result.attempts
            result.close()
            return status, attempts
        finally:
            await fetcher.close()

    assert asyncio.run(fetch()) == (503, 1)


def test_resumed_run_numbers_its_warc_files_after_the_committed_ones(
    tmp_path: Path, site: str
) -> None:
    flaky = FailingOnceStore(tmp_path / "archive")
    run_once(tmp_path, source_for(site), flaky, segment_pages=3)
    store = LocalStore(tmp_path / "archive")
    run_once(tmp_path, source_for(site), store, segment_pages=3)
    names = [m.warc.filename for m in manifests_by_path(store).values()]  # type: ignore[attr-defined]
    by_key: dict[str, set[str]] = {}
    for manifest in manifests_by_path(store).values():
        by_key.setdefault(manifest.warc.filename, set()).add(manifest.warc.key)  # type: ignore[attr-defined]
    assert all(len(keys) == 1 for keys in by_key.values()), by_key  # one file name, one WARC
    assert len(set(names)) >= 2
