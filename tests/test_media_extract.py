"""yt-dlp fenced in, against a real media site on loopback; ffprobe on real files."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yt_dlp.version

from collectors import media_extract
from collectors.media_extract import (
    MIN_YTDLP_VERSION,
    NO_FFMPEG,
    OUTPUT_TEMPLATE,
    MediaExtractionError,
    MediaInfo,
    MediaOptions,
    MediaRefused,
    MultipleMediaError,
    NoMediaFoundError,
    YtDlpTooOldError,
    check_ytdlp_version,
    download_with_ytdlp,
    extract_media,
    safe_ydl_params,
    ytdlp_version,
)
from collectors.media_probe import CorruptMediaError, probe_media
from tests.media_fixtures import SpeechSample
from tests.media_site import MediaSite, json_ld_page, lay_out_media_site

pytest_plugins = ["tests.media_fixtures"]

OPTIONS = MediaOptions(max_bytes=50_000_000, max_duration_seconds=600)
DURATION_TOLERANCE = 0.2


@pytest.fixture(scope="module")
def media_site(
    tmp_path_factory: pytest.TempPathFactory,
    speech_mp4_en: SpeechSample,
    silent_video_no_audio_mp4: Path,
    html_disguised_as_mp4: Path,
    hls_rendition: Path,
    hls_split_rendition: Path,
) -> Iterator[MediaSite]:
    root = lay_out_media_site(
        Path(tmp_path_factory.mktemp("media-site")),
        clip=speech_mp4_en.path,
        silent=silent_video_no_audio_mp4,
        not_media=html_disguised_as_mp4,
        hls_playlist=hls_rendition,
        hls_split_master=hls_split_rendition,
    )
    with MediaSite(root) as site:
        page = json_ld_page(site.url("clip.mp4"), speech_mp4_en.duration_seconds)
        (root / "ld.html").write_text(page, encoding="utf-8")
        yield site


class ProgramLog:
    """Every program started in this process (yt-dlp starts them through subprocess.Popen)."""

    def __init__(self) -> None:
        self.commands: list[Any] = []


@pytest.fixture
def program_log(monkeypatch: pytest.MonkeyPatch) -> ProgramLog:
    log = ProgramLog()
    original = subprocess.Popen.__init__

    def recording_init(self: subprocess.Popen[Any], args: Any, *rest: Any, **kw: Any) -> None:
        log.commands.append(args)
        original(self, args, *rest, **kw)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return log


def test_installed_version_is_at_least_the_minimum() -> None:
    check_ytdlp_version()
    assert ytdlp_version() == yt_dlp.version.__version__


def test_older_version_is_refused_with_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yt_dlp.version, "__version__", "2026.06.09")
    with pytest.raises(YtDlpTooOldError, match=MIN_YTDLP_VERSION.replace(".", r"\.")):
        check_ytdlp_version()
    monkeypatch.setattr(yt_dlp.version, "__version__", "2026.07.04.101010")  # a nightly
    check_ytdlp_version()


def test_video_page_yields_the_clip_over_http(media_site: MediaSite) -> None:
    media = extract_media(media_site.url("video.html"), OPTIONS)
    assert media.chosen.url == media_site.url("clip.mp4")
    assert media.chosen.protocol == "http"
    assert media.fetch_over_http
    assert media.chosen.ext == "mp4"
    # The fetcher must send what yt-dlp would: the page as Referer.
    assert media.chosen.http_headers["Referer"] == media_site.url("video.html")
    assert media.webpage_url == media_site.url("video.html")
    assert media.title and "Footage from the bridge" in media.title
    assert media.ytdlp_version == ytdlp_version()
    assert media.options["format"] == OPTIONS.format_selector()
    assert media.options["max_bytes"] == OPTIONS.max_bytes
    assert media.info["formats"], "the record keeps every format offered"


def test_direct_mp4_url(media_site: MediaSite) -> None:
    media = extract_media(media_site.url("clip.mp4"), OPTIONS)
    assert media.chosen.url == media_site.url("clip.mp4")
    assert media.chosen.protocol == "http"
    assert media.extractor == "Generic"
    assert media.media_id == "clip"


def test_json_ld_page_gives_duration_and_date(
    media_site: MediaSite, speech_mp4_en: SpeechSample
) -> None:
    media = extract_media(media_site.url("ld.html"), OPTIONS)
    assert media.chosen.url == media_site.url("clip.mp4")
    assert media.duration == pytest.approx(speech_mp4_en.duration_seconds, abs=1)
    assert media.upload_date is not None and media.upload_date.isoformat() == "2026-03-02"


def test_hls_playlist_downloads_a_playable_file(
    media_site: MediaSite, speech_mp4_en: SpeechSample, tmp_path: Path, program_log: ProgramLog
) -> None:
    media = extract_media(media_site.url("hls/index.m3u8"), OPTIONS)
    assert media.chosen.protocol == "m3u8_native"
    assert not media.fetch_over_http

    path = download_with_ytdlp(media, OPTIONS, tmp_path)
    assert program_log.commands == [], "yt-dlp started a program"

    assert path.is_relative_to(tmp_path.resolve())
    assert path.name == "media.ts", "HLS is kept as the MPEG-TS it is, named for what it is"
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == [path], "no side files"
    probe = probe_media(path)
    assert probe.format_name == "mpegts"
    assert probe.has_video and probe.has_audio
    assert probe.duration == pytest.approx(speech_mp4_en.duration_seconds, abs=0.3)
    segments = [r for r in media_site.requests_seen if r.startswith("/hls/segment_")]
    assert len(segments) >= 5


def test_download_from_url_resolves_first(media_site: MediaSite, tmp_path: Path) -> None:
    path = download_with_ytdlp(media_site.url("hls/index.m3u8"), OPTIONS, tmp_path)
    assert probe_media(path).has_audio


def test_hls_download_stops_at_the_size_cap(media_site: MediaSite, tmp_path: Path) -> None:
    media = extract_media(media_site.url("hls/index.m3u8"), OPTIONS)
    small = MediaOptions(max_bytes=50_000, max_duration_seconds=600)
    with pytest.raises(MediaRefused, match="50000 bytes"):
        download_with_ytdlp(media, small, tmp_path)
    segments = [r for r in media_site.requests_seen if r.startswith("/hls/segment_")]
    assert segments, "the refusal came from the running download"


def test_plain_http_download_respects_the_cap(media_site: MediaSite, tmp_path: Path) -> None:
    small = MediaOptions(max_bytes=10_000)
    with pytest.raises(MediaRefused, match="max-filesize"):
        download_with_ytdlp(media_site.url("clip.mp4"), small, tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_html_served_as_mp4_is_caught_by_the_probe(media_site: MediaSite, tmp_path: Path) -> None:
    # yt-dlp trusts the name and the Content-Type; only looking at the bytes tells.
    media = extract_media(media_site.url("notmedia.mp4"), OPTIONS)
    assert media.chosen.protocol == "http"
    path = download_with_ytdlp(media, OPTIONS, tmp_path)
    with pytest.raises(CorruptMediaError):
        probe_media(path)


@pytest.mark.parametrize("page", ["hls/index.m3u8", "ld.html"])
def test_duration_over_the_cap_is_refused_before_download(media_site: MediaSite, page: str) -> None:
    short = MediaOptions(max_bytes=50_000_000, max_duration_seconds=5)
    before = len(media_site.requests_seen)
    with pytest.raises(MediaRefused, match="exceeds the cap of 5 s") as caught:
        extract_media(media_site.url(page), short)
    assert caught.value.reason.startswith("duration")
    fetched = media_site.requests_seen[before:]
    assert not any(r.startswith("/hls/segment_") for r in fetched)


def test_page_without_media_is_a_clear_error(media_site: MediaSite) -> None:
    url = media_site.url("article.html")
    with pytest.raises(NoMediaFoundError, match="no media found at") as caught:
        extract_media(url, OPTIONS)
    assert caught.value.url == url
    assert not caught.value.retryable
    assert "\x1b" not in str(caught.value)


def test_missing_page_is_an_extraction_error(media_site: MediaSite) -> None:
    with pytest.raises(MediaExtractionError, match="404") as caught:
        extract_media(media_site.url("gone.mp4"), OPTIONS)
    assert not isinstance(caught.value, NoMediaFoundError)
    assert not caught.value.retryable


def test_page_with_several_videos_lists_them(media_site: MediaSite) -> None:
    with pytest.raises(MultipleMediaError) as caught:
        extract_media(media_site.url("two-videos.html"), OPTIONS)
    assert set(caught.value.entry_urls) == {
        media_site.url("clip.mp4"),
        media_site.url("silent.mp4"),
    }


def test_separate_video_and_audio_are_both_chosen_and_fetched_apart(
    media_site: MediaSite, tmp_path: Path, program_log: ProgramLog
) -> None:
    media = extract_media(media_site.url("split/master.m3u8"), OPTIONS)
    assert media.chosen.url.endswith("/split/video/index.m3u8")
    assert media.chosen.acodec is None, "video only"
    assert [c.url.rsplit("/", 2)[-2] for c in media.companions] == ["audio"]
    assert media.streams == (media.chosen, *media.companions)

    video = probe_media(download_with_ytdlp(media, OPTIONS, tmp_path / "v"))
    audio_path = download_with_ytdlp(media, OPTIONS, tmp_path / "a", stream=media.companions[0])
    audio = probe_media(audio_path)
    assert (video.has_video, video.has_audio) == (True, False)
    assert (audio.has_video, audio.has_audio) == (False, True)
    assert [c for c in program_log.commands if "ffprobe" not in str(c[0])] == []


def test_download_refuses_a_stream_that_was_not_chosen(
    media_site: MediaSite, tmp_path: Path
) -> None:
    media = extract_media(media_site.url("hls/index.m3u8"), OPTIONS)
    other = dataclasses.replace(media.chosen, format_id="something-else")
    with pytest.raises(ValueError, match="not one of the streams"):
        download_with_ytdlp(media, OPTIONS, tmp_path, stream=other)


def test_url_guard_sees_every_request(media_site: MediaSite, tmp_path: Path) -> None:
    seen: list[str] = []

    class Blocked(Exception):
        pass

    def guard(url: str) -> None:
        seen.append(url)
        if "/hls/segment_002" in url:
            raise Blocked(url)

    media = extract_media(media_site.url("hls/index.m3u8"), OPTIONS, url_guard=guard)
    assert media_site.url("hls/index.m3u8") in seen
    before = len(media_site.requests_seen)
    with pytest.raises(Blocked):
        download_with_ytdlp(media, OPTIONS, tmp_path, url_guard=guard)
    assert media_site.url("hls/segment_001.ts") in seen
    fetched = media_site.requests_seen[before:]
    assert "/hls/segment_001.ts" in fetched
    assert "/hls/segment_002.ts" not in fetched, "the guard stops a request before it is sent"


def test_safe_params_run_nothing_and_write_only_to_tmpdir(tmp_path: Path) -> None:
    params = safe_ydl_params(OPTIONS, tmp_path)
    assert params["postprocessors"] == []
    assert params["postprocessor_hooks"] == []
    for key in ("exec_cmd", "post_hooks", "progress_hooks", "netrc_cmd", "cookiesfrombrowser"):
        assert not params.get(key), key
    assert params["external_downloader"] == {"default": "native"}
    assert params["hls_prefer_native"] is True
    assert params["ffmpeg_location"] == NO_FFMPEG and not Path(NO_FFMPEG).exists()
    assert params["js_runtimes"] == {} and params["remote_components"] == []
    assert params["usenetrc"] is False and params["cookiefile"] is None
    assert params["enable_file_urls"] is False
    assert params["cachedir"] is False
    assert params["noplaylist"] is True
    assert params["overwrites"] is False
    assert params["max_filesize"] == OPTIONS.max_bytes
    assert params["paths"] == {"home": str(tmp_path.resolve()), "temp": str(tmp_path.resolve())}
    assert params["outtmpl"] == {"default": OUTPUT_TEMPLATE}
    assert "/" not in OUTPUT_TEMPLATE and "%(" not in OUTPUT_TEMPLATE.split(".")[0]
    for key in ("writeinfojson", "writethumbnail", "writesubtitles", "writedesktoplink"):
        assert params[key] is False, key
    assert params["match_filter"]({"duration": 601}) is not None
    assert params["match_filter"]({"duration": 600}) is None
    # The same parameters work for yt-dlp's own output-path logic.
    with yt_dlp.YoutubeDL(params) as ydl:
        name = ydl.prepare_filename({"id": "../../etc/passwd", "ext": "mp4", "title": "x"})
    assert Path(name).resolve().parent == tmp_path.resolve()


def test_extraction_starts_no_program_and_loads_no_plugins(
    media_site: MediaSite, program_log: ProgramLog
) -> None:
    extract_media(media_site.url("video.html"), OPTIONS)
    extract_media(media_site.url("hls/index.m3u8"), OPTIONS)
    assert program_log.commands == []
    assert yt_dlp.globals.plugin_dirs.value == []


def test_default_format_prefers_single_http_files() -> None:
    assert MediaOptions(max_height=480).format_selector() == (
        "best[height<=?480][protocol~='^https?$']/best[height<=?480]/bv*[height<=?480]+ba"
        "/best/bv*+ba"
    )
    assert MediaOptions(format="worst").format_selector() == "worst"


def test_probe_good_mp4(speech_mp4_en: SpeechSample) -> None:
    probe = probe_media(speech_mp4_en.path)
    assert probe.has_audio and probe.has_video
    assert (probe.width, probe.height) == (320, 240)
    assert (probe.video_codec, probe.audio_codec) == ("h264", "aac")
    assert "mp4" in probe.format_name
    assert probe.duration == pytest.approx(speech_mp4_en.duration_seconds, abs=DURATION_TOLERANCE)
    assert probe.ffprobe["streams"]


def test_probe_silent_video(silent_video_no_audio_mp4: Path) -> None:
    probe = probe_media(silent_video_no_audio_mp4)
    assert probe.has_video
    assert not probe.has_audio
    assert probe.audio_codec is None


def test_probe_truncated_file(truncated_mp4: Path) -> None:
    with pytest.raises(CorruptMediaError) as caught:
        probe_media(truncated_mp4)
    assert caught.value.stderr, "ffprobe's own words are kept"
    assert caught.value.path == truncated_mp4


def test_probe_html_disguised_as_mp4(html_disguised_as_mp4: Path) -> None:
    with pytest.raises(CorruptMediaError):
        probe_media(html_disguised_as_mp4)


def test_extracted_record_is_json_serialisable(media_site: MediaSite) -> None:
    media = extract_media(media_site.url("hls/index.m3u8"), OPTIONS)
    assert isinstance(media, MediaInfo)
    json.dumps(media.info)
    json.dumps(media.options)
    assert media.duration is not None
    assert media_extract.MIN_YTDLP_VERSION == MIN_YTDLP_VERSION


def test_benchmark_and_russian_generators(
    big_video: Callable[[float], Path], russian_speech_wav: Callable[..., SpeechSample]
) -> None:
    big = big_video(3)
    assert big.stat().st_size == pytest.approx(3_000_000, rel=0.15)
    probe = probe_media(big)
    assert probe.has_video and probe.has_audio
    assert big_video(3) == big, "made once per size"
    speech = russian_speech_wav(["Свидетели насчитали двенадцать машин."])
    assert speech.language == "ru"
    assert probe_media(speech.path).has_audio
    assert 1.0 < speech.duration_seconds < 10.0
