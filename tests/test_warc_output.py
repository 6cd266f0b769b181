"""The WARC files a real run writes: valid for ``warcio check``, complete, and findable.

One run of the installed ``osint-archive`` command over the demo site served on loopback;
the tests read what it stored with warcio, as a court expert or a replay tool would.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.local_store import LocalStore
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from osint_archive.demo_site import DemoSite

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class WarcRecord:
    type: str
    headers: dict[str, str]
    offset: int
    payload_sha256: str | None  # of the HTTP payload as transmitted (response records)
    payload: bytes
    http_head: str  # status or request line and headers, for records that hold HTTP


@dataclass(frozen=True)
class Archive:
    store: LocalStore
    manifests: list[CaptureManifest]

    def warc_path(self, key: str) -> Path:
        return self.store.root / key

    @property
    def warc_keys(self) -> list[str]:
        return sorted({m.warc.key for m in self.manifests})


def read_records(path: Path) -> list[WarcRecord]:
    records = []
    with path.open("rb") as stream:
        iterator = ArchiveIterator(stream)
        for record in iterator:
            body = record.raw_stream.read()
            records.append(
                WarcRecord(
                    type=record.rec_type,
                    headers=dict(record.rec_headers.headers),
                    offset=iterator.get_record_offset(),
                    payload_sha256=hashlib.sha256(body).hexdigest()
                    if record.rec_type == "response"
                    else None,
                    payload=body,
                    http_head=record.http_headers.to_str() if record.http_headers else "",
                )
            )
    return records


def hex_of_warc_digest(value: str) -> str:
    label, _, encoded = value.partition(":")
    assert label == "sha256"
    return base64.b32decode(encoded).hex()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """The archive after one run over the demo site."""
    tmp = tmp_path_factory.mktemp("warc-output")
    home = tmp / "home"
    with DemoSite() as site:
        config = tmp / "sources.yaml"
        config.write_text(
            f"""operator: "WARC test desk"
sources:
  - id: demo-news
    kind: web
    url: {site.base_url}
    schedule: "@daily"
    max_depth: 2
    max_pages: 50
    delay_seconds: 0
    concurrency: 2
""",
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
        env.update(OSINT_ARCHIVE_HOME=str(home), OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS="1")
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
    manifests = [read_manifest(store, key) for key in iter_manifest_keys(store)]
    assert len(manifests) == 10  # nine pages (one with a video) and robots.txt
    return Archive(store, manifests)


def each_warc(archive: Archive) -> Iterator[tuple[str, list[WarcRecord]]]:
    for key in archive.warc_keys:
        yield key, read_records(archive.warc_path(key))


def test_every_warc_passes_warcio_check(archive: Archive) -> None:
    for key in archive.warc_keys:
        check = subprocess.run(
            [str(BIN / "warcio"), "check", "-v", str(archive.warc_path(key))],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest pass" in check.stdout
        assert "digest failed" not in check.stdout


def test_warcinfo_comes_first_and_names_software_operator_and_source(archive: Archive) -> None:
    for key, records in each_warc(archive):
        first = records[0]
        assert first.type == "warcinfo", key
        assert sum(r.type == "warcinfo" for r in records) == 1
        fields = dict(
            line.split(": ", 1) for line in first.payload.decode("utf-8").splitlines() if line
        )
        assert fields["software"].startswith("osint-archive/")
        assert fields["operator"] == "WARC test desk"
        assert fields["isPartOf"] == "demo-news"
        assert first.headers["WARC-Filename"].endswith(".warc.gz")


def test_responses_carry_sha256_digests(archive: Archive) -> None:
    responses = [r for _, records in each_warc(archive) for r in records if r.type == "response"]
    assert len(responses) == 10
    for record in responses:
        assert record.headers["WARC-Block-Digest"].startswith("sha256:")
        assert record.headers["WARC-Payload-Digest"].startswith("sha256:")
        payload_digest = hex_of_warc_digest(record.headers["WARC-Payload-Digest"])
        assert payload_digest == record.payload_sha256


def test_responses_record_the_server_address(archive: Archive) -> None:
    responses = [r for _, records in each_warc(archive) for r in records if r.type == "response"]
    assert [r.headers.get("WARC-IP-Address") for r in responses] == ["127.0.0.1"] * 10
    assert {m.ip_address for m in archive.manifests} == {"127.0.0.1"}


def test_each_response_has_its_request_and_metadata_records(archive: Archive) -> None:
    for key, records in each_warc(archive):
        concurrent: dict[str, list[WarcRecord]] = {}
        for record in records:
            if "WARC-Concurrent-To" in record.headers:
                concurrent.setdefault(record.headers["WARC-Concurrent-To"], []).append(record)
        for response in (r for r in records if r.type == "response"):
            linked = concurrent.get(response.headers["WARC-Record-ID"], [])
            assert sorted(r.type for r in linked) == ["metadata", "request"], key
            for record in linked:
                assert record.headers["WARC-Target-URI"] == response.headers["WARC-Target-URI"]


def test_manifest_points_at_its_response_record(archive: Archive) -> None:
    for manifest in archive.manifests:
        location = manifest.warc
        assert location.record_type == "response"
        path = archive.warc_path(location.key)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == location.sha256
        # The (offset, length) pair alone must be enough to pull the record out of the file.
        with path.open("rb") as stream:
            stream.seek(location.offset)
            chunk = stream.read(location.length)
        records = list(ArchiveIterator(io.BytesIO(chunk)))
        assert len(records) == 1
        record = records[0]
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Record-ID") == location.response_record_id
        assert record.rec_headers.get_header("WARC-Target-URI") == manifest.final_url
        assert record.http_headers.get_statuscode() == str(manifest.status)


def test_warc_payload_digest_matches_the_manifest(archive: Archive) -> None:
    by_id = {
        r.headers["WARC-Record-ID"]: r
        for _, records in each_warc(archive)
        for r in records
        if r.type == "response"
    }
    for manifest in archive.manifests:
        record = by_id[manifest.warc.response_record_id]
        assert hex_of_warc_digest(record.headers["WARC-Payload-Digest"]) == (
            manifest.payload_sha256
        )
        assert record.payload_sha256 == manifest.payload_sha256
        assert len(record.payload) == manifest.payload_size


def test_metadata_record_describes_the_capture(archive: Archive) -> None:
    by_id = {r.headers["WARC-Record-ID"]: r for _, records in each_warc(archive) for r in records}
    for manifest in archive.manifests:
        metadata = by_id[manifest.warc.metadata_record_id]
        assert metadata.type == "metadata"
        fields = json.loads(metadata.payload)
        assert fields["requested_url"] == manifest.requested_url
        # Source and run are stated once per file, in the warcinfo record.
        assert "run_id" not in fields and "source_id" not in fields
        request = by_id[manifest.warc.request_record_id]
        assert request.type == "request"
        assert "\r\nUser-Agent: osint-archive/" in request.http_head


def test_request_record_holds_the_request_line_as_sent(archive: Archive) -> None:
    by_id = {r.headers["WARC-Record-ID"]: r for _, records in each_warc(archive) for r in records}
    for manifest in archive.manifests:
        request = by_id[manifest.warc.request_record_id]
        path = "/" + manifest.requested_url.split("/", 3)[3]
        assert request.http_head.startswith(f"GET {path} HTTP/1.1\r\n")
