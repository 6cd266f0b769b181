"""`osint-archive run` over video sources on a loopback media site: a page with an HTML5
video, a direct MP4, an HLS stream, and the bad cases (not media, no media, over the caps,
truncated), each with its recorded reason while the others are archived."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_runs import run_cli, stored_manifests, warcio_check
from tests.media_fixtures import SpeechSample
from tests.media_site import MediaSite, lay_out_media_site


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory,
    speech_mp4_en: SpeechSample,
    silent_video_no_audio_mp4: Path,
    html_disguised_as_mp4: Path,
    hls_rendition: Path,
    truncated_mp4: Path,
) -> Iterator[MediaSite]:
    root = lay_out_media_site(
        Path(tmp_path_factory.mktemp("video-site")),
        clip=speech_mp4_en.path,
        silent=silent_video_no_audio_mp4,
        not_media=html_disguised_as_mp4,
        hls_playlist=hls_rendition,
    )
    shutil.copyfile(truncated_mp4, root / "truncated.mp4")
    with MediaSite(root) as media_site:
        yield media_site


def write_sources(path: Path, site: MediaSite, entries: dict[str, str], extra: str = "") -> Path:
    text = "sources:\n" + "".join(
        f"  - id: {source_id}\n    kind: video\n    url: {site.url(target)}\n"
        f"    schedule: '@weekly'\n{extra}"
        for source_id, target in entries.items()
    )
    path.write_text(text, encoding="utf-8")
    return path


def only_manifest(archive: Path, source_id: str) -> dict:
    manifests = stored_manifests(archive, source_id)
    assert len(manifests) == 1, manifests
    return manifests[0]


def test_video_page_direct_file_and_stream_are_archived_with_provenance(
    tmp_path: Path, site: MediaSite, speech_mp4_en: SpeechSample
) -> None:
    sources = {"page": "video.html", "direct": "clip.mp4", "stream": "hls/index.m3u8"}
    config = write_sources(tmp_path / "sources.yaml", site, sources)
    home = tmp_path / "home"
    archive = home / "archive"

    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    clip_sha = hashlib.sha256(speech_mp4_en.path.read_bytes()).hexdigest()

    page = only_manifest(archive, "page")
    assert page["kind"] == "video"
    assert page["warc"]["record_type"] == "response"  # the page itself, as served
    (media,) = page["media"]
    assert media["sha256"] == clip_sha
    assert media["url"] == site.url("clip.mp4")
    assert media["downloader"] == "osint-archive-http"
    assert media["has_audio"] is True and media["width"] == 320
    assert abs(media["duration_seconds"] - speech_mp4_en.duration_seconds) < 0.5
    info = json.loads((archive / media["info_json"]["key"]).read_bytes())
    assert info["url"] == site.url("clip.mp4") or info.get("webpage_url")
    assert page["tools"]["yt-dlp"]

    direct = only_manifest(archive, "direct")
    assert direct["warc"]["record_type"] == "metadata"  # the bytes are the object, once
    assert direct["media"][0]["sha256"] == clip_sha
    assert direct["payload_sha256"] == clip_sha
    # Found by two sources, stored once.
    assert (archive / media["key"]).read_bytes() == speech_mp4_en.path.read_bytes()

    stream = only_manifest(archive, "stream")
    (hls,) = stream["media"]
    assert hls["downloader"].startswith("yt-dlp/")
    assert hls["has_audio"] is True
    assert abs(hls["duration_seconds"] - speech_mp4_en.duration_seconds) < 1.0

    for manifest in (page, direct, stream):
        assert warcio_check(archive, manifest["warc"]["key"]).returncode == 0
    audit = run_cli(home, "audit")
    assert audit.returncode == 0, audit.stdout

    # A second run stores no second copy of the media.
    before = sorted(p.name for p in (archive / "objects").rglob("*") if p.is_file())
    again = run_cli(home, "run", "--config", str(config))
    assert again.returncode == 0, again.stderr
    after = sorted(p.name for p in (archive / "objects").rglob("*") if p.is_file())
    assert clip_sha in before and after.count(clip_sha) == 1


def test_bad_video_sources_fail_with_their_reason_and_the_others_go_on(
    tmp_path: Path, site: MediaSite
) -> None:
    sources = {
        "good": "clip.mp4",
        "not-media": "notmedia.mp4",
        "no-media": "article.html",
        "truncated": "truncated.mp4",
        "missing": "nothing-here.mp4",
    }
    config = write_sources(tmp_path / "sources.yaml", site, sources)
    home = tmp_path / "home"

    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 1
    report = done.stderr
    assert len(stored_manifests(home / "archive", "good")) == 1
    for source_id in ("not-media", "no-media", "truncated", "missing"):
        assert f"{source_id}: the source URL was not captured" in report, report
        assert not stored_manifests(home / "archive", source_id)
    assert "no media" in report.lower()
    assert "not playable media" in report or "text/html" in report


def test_a_video_over_the_caps_is_refused_with_the_cap_named(
    tmp_path: Path, site: MediaSite
) -> None:
    config = write_sources(
        tmp_path / "sources.yaml",
        site,
        {"long": "video.html", "big": "clip.mp4"},
        extra="    max_media_seconds: 1\n    max_media_bytes: 10000\n",
    )
    home = tmp_path / "home"
    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 1
    assert "max_media_bytes" in done.stderr or "cap" in done.stderr
    assert not stored_manifests(home / "archive", "big")


def test_html5_video_on_a_crawled_web_page_is_kept_as_a_media_object(
    tmp_path: Path, site: MediaSite, speech_mp4_en: SpeechSample
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        f"  - id: news\n    kind: web\n    url: {site.url('video.html')}\n    schedule: null\n"
        "    max_depth: 0\n    delay_seconds: 0\n    robots: ignore\n"
        f"  - id: two\n    kind: web\n    url: {site.url('two-videos.html')}\n    schedule: null\n"
        "    max_depth: 0\n    delay_seconds: 0\n    robots: ignore\n    media: false\n",
        encoding="utf-8",
    )
    home = tmp_path / "home"
    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    (page,) = stored_manifests(home / "archive", "news")
    (media,) = page["media"]
    assert media["sha256"] == hashlib.sha256(speech_mp4_en.path.read_bytes()).hexdigest()
    assert media["has_audio"] is True
    # `media: false` keeps the page and leaves its videos alone.
    (other,) = stored_manifests(home / "archive", "two")
    assert "media" not in other


def test_a_gallery_page_is_kept_with_each_of_its_videos(
    tmp_path: Path, site: MediaSite, speech_mp4_en: SpeechSample
) -> None:
    config = write_sources(tmp_path / "sources.yaml", site, {"gallery": "two-videos.html"})
    home = tmp_path / "home"
    done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    manifests = {m["requested_url"]: m for m in stored_manifests(home / "archive", "gallery")}
    page = manifests.pop(site.url("two-videos.html"))
    assert page["depth"] == 0 and "media" not in page
    assert sorted(manifests) == sorted([site.url("clip.mp4"), site.url("silent.mp4")])
    silent = manifests[site.url("silent.mp4")]["media"][0]
    assert (silent["has_audio"], silent["problem"]) == (False, "no audio track")
    assert all(m["depth"] == 1 for m in manifests.values())
