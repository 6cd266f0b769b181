"""yt-dlp as a library, fenced in: understand a video page, pick a format, download streams.

yt-dlp is used to read a page and choose a format without downloading (``extract_media``). The
chosen format's bytes are normally fetched by the project's own guarded fetcher
(``collectors.http_fetch``) when its protocol is http(s); for segmented protocols (HLS, DASH)
``download_with_ytdlp`` lets yt-dlp's native, pure-Python downloaders write one file into a
private directory. Either way yt-dlp never runs a program: no exec or other post-processors, no
external downloader, no ffmpeg (it is hidden from yt-dlp), no JavaScript runtime, no plugins,
no configuration files, no cookies from browsers, no cache directory, nothing written outside
the directory it is given. Files are probed with ffprobe by ``collectors.media_probe``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yt_dlp
import yt_dlp.globals
import yt_dlp.version
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import DownloadError, UnsupportedError, YoutubeDLError

from collectors.media_probe import int_or_none, str_or_none

__all__ = [
    "MIN_YTDLP_VERSION",
    "MediaExtractionError",
    "MediaFormat",
    "MediaInfo",
    "MediaOptions",
    "MediaRefused",
    "MultipleMediaError",
    "NoMediaFoundError",
    "SubtitleTrack",
    "YtDlpTooOldError",
    "check_ytdlp_version",
    "download_with_ytdlp",
    "extract_media",
    "safe_ydl_params",
    "ytdlp_version",
]

# The newest 2026 release that fixed a security advisory; older ones are refused.
#   2026.02.21  CVE-2026-26331 (GHSA-g3gw-q23r-pgqm): command injection through netrc_cmd.
#   2026.06.09  GHSA-69qj-pvh9-c5wg (--exec injection), CVE-2026-50574 (aria2c file write),
#               CVE-2026-50019 (curl cookie leak), CVE-2026-50023 / GHSA-c6mh-fpjc-4pr3
#               (output file-name sanitisation bypass: arbitrary file write).
#   2026.07.04  CVE-2026-55404 (GHSA-6v4j-43gg-vj32): shortcut files from remote metadata.
# We use none of those options, but the file-name bypass touches the one thing we do let
# yt-dlp do (write a file), and a floor below a known fix only invites the next slip.
MIN_YTDLP_VERSION = "2026.07.04"

DEFAULT_MAX_HEIGHT = 720
DEFAULT_MAX_BYTES = 4_000_000_000
DEFAULT_MAX_DURATION_SECONDS = 4 * 3600.0
DEFAULT_SOCKET_TIMEOUT_SECONDS = 30.0
# Protocols whose yt-dlp downloaders are pure Python (HttpFD, HlsFD, DashSegmentsFD).
# rtmp, rtsp, mms and live streams would hand the transfer to an external program.
NATIVE_PROTOCOLS = frozenset({"http", "https", "m3u8", "m3u8_native", "http_dash_segments"})
HTTP_PROTOCOLS = frozenset({"http", "https"})
# A path that cannot exist (its parent is a device), so yt-dlp finds no ffmpeg to run.
NO_FFMPEG = os.path.join(os.devnull, "ffmpeg-disabled")
# The downloaded file's name inside the private directory: no remote metadata in it.
OUTPUT_TEMPLATE = "media.%(ext)s"
# An estimated size must pass the cap by this factor before it alone refuses the media.
APPROX_SIZE_MARGIN = 1.1
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
SUBTITLE_EXT_PREFERENCE = ("vtt", "srt", "ttml", "srv3", "json3")
RECENT_LOG_LINES = 20
MAX_LISTED_ENTRIES = 100
MPEG_TS_PACKET = 188
MPEG_TS_SYNC = 0x47


class YtDlpTooOldError(RuntimeError):
    """The installed yt-dlp predates ``MIN_YTDLP_VERSION``."""


class MediaExtractionError(Exception):
    """yt-dlp could not read the page; ``retryable`` says whether trying later may help."""

    def __init__(self, message: str, *, url: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.url = url
        self.retryable = retryable


class NoMediaFoundError(MediaExtractionError):
    """The URL answered, but holds no video or audio yt-dlp can find (e.g. a plain article)."""


class MultipleMediaError(MediaExtractionError):
    """The page holds several media; ``entry_urls`` lists them for one ``extract_media`` each."""

    def __init__(self, message: str, *, url: str, entry_urls: tuple[str, ...]) -> None:
        super().__init__(message, url=url)
        self.entry_urls = entry_urls


class MediaRefused(Exception):
    """The media exceeds a cap (duration, size) or needs something refused (live, ffmpeg)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaOptions:
    """What to accept and how to choose; recorded with every result."""

    max_height: int = DEFAULT_MAX_HEIGHT
    max_bytes: int = DEFAULT_MAX_BYTES
    max_duration_seconds: float = DEFAULT_MAX_DURATION_SECONDS
    # A yt-dlp format selector; None builds one from max_height (see ``format_selector``).
    format: str | None = None
    # List subtitle tracks (uploaded ones, and automatic captions in the original language).
    subtitles: bool = True
    socket_timeout: float = DEFAULT_SOCKET_TIMEOUT_SECONDS

    def format_selector(self) -> str:
        """The selector used: one file over plain http(s) first, as our fetcher can get it;
        then one file over any protocol; then separate video and audio streams (many sites
        offer nothing else), fetched one by one since nothing here merges them. Height
        unknown (``<=?``) counts as fitting; above the cap only when nothing fits."""
        if self.format is not None:
            return self.format
        height = f"[height<=?{self.max_height}]"
        return f"best{height}[protocol~='^https?$']/best{height}/bv*{height}+ba/best/bv*+ba"


@dataclass(frozen=True)
class MediaFormat:
    """One chosen format (a file, or one stream of several): where its bytes are and how to
    ask for them."""

    format_id: str
    url: str
    protocol: str
    ext: str
    width: int | None
    height: int | None
    filesize: int | None  # exact when the site states it; see ``filesize_approx``
    http_headers: dict[str, str]
    vcodec: str | None
    acodec: str | None
    filesize_approx: int | None = None


@dataclass(frozen=True)
class SubtitleTrack:
    """One subtitle track, in the best text format offered."""

    language: str
    url: str
    ext: str
    name: str | None
    automatic: bool


@dataclass(frozen=True)
class MediaInfo:
    """What yt-dlp understood about a URL, with the tool version and options that produced it."""

    webpage_url: str
    extractor: str
    media_id: str
    title: str | None
    duration: float | None
    uploader: str | None
    upload_date: date | None
    chosen: MediaFormat
    subtitles: tuple[SubtitleTrack, ...]
    thumbnails: tuple[str, ...]  # best first
    info: dict[str, Any]  # yt-dlp's sanitize_info output, JSON-serialisable
    ytdlp_version: str
    options: dict[str, Any]
    warnings: tuple[str, ...] = ()
    # Streams chosen alongside ``chosen`` when the site serves video and audio apart (the
    # audio for a video-only format): fetch each; yt-dlp would have merged them with ffmpeg.
    companions: tuple[MediaFormat, ...] = ()

    @property
    def streams(self) -> tuple[MediaFormat, ...]:
        """``chosen`` and its companions: everything to fetch."""
        return (self.chosen, *self.companions)

    @property
    def fetch_over_http(self) -> bool:
        """True when every stream is one plain http(s) file for the guarded fetcher."""
        return all(stream.protocol in HTTP_PROTOCOLS for stream in self.streams)


def ytdlp_version() -> str:
    """The installed yt-dlp's version, e.g. ``2026.10.26``."""
    return str(yt_dlp.version.__version__)


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def check_ytdlp_version() -> None:
    """Raise ``YtDlpTooOldError`` when the installed yt-dlp predates ``MIN_YTDLP_VERSION``."""
    installed = ytdlp_version()
    if _version_tuple(installed) < _version_tuple(MIN_YTDLP_VERSION):
        raise YtDlpTooOldError(
            f"yt-dlp {installed} is older than {MIN_YTDLP_VERSION}, the release that fixed the "
            "latest known security advisory; upgrade: pip install -U yt-dlp"
        )


class _CollectingLogger:
    """yt-dlp's logger interface: keep warnings and errors for the record, print nothing.

    The last few progress lines are kept too: some refusals (a file over ``max_filesize``)
    are reported only there.
    """

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.recent: deque[str] = deque(maxlen=RECENT_LOG_LINES)

    def debug(self, message: str) -> None:
        self.recent.append(clean_message(message))

    def info(self, message: str) -> None:
        self.recent.append(clean_message(message))

    def warning(self, message: str) -> None:
        self.warnings.append(clean_message(message))

    def error(self, message: str) -> None:
        self.errors.append(clean_message(message))


class _DurationFilter:
    """yt-dlp's ``match_filter``: refuse media longer than the cap and live streams.

    Runs before format selection. A refusal is remembered here and turned into
    ``MediaRefused`` by the caller: yt-dlp itself only skips the entry quietly.
    """

    def __init__(self, max_duration_seconds: float) -> None:
        self.max_duration_seconds = max_duration_seconds
        self.refusal: str | None = None

    def __call__(self, info: Mapping[str, Any], *, incomplete: bool = False) -> str | None:
        duration = info.get("duration")
        reason = None
        if isinstance(duration, int | float) and duration > self.max_duration_seconds:
            reason = f"duration {duration:g} s exceeds the cap of {self.max_duration_seconds:g} s"
        elif info.get("is_live") or info.get("live_status") in ("is_live", "is_upcoming"):
            reason = "live or upcoming stream: it has no end to archive yet"
        if reason is not None and self.refusal is None:
            self.refusal = reason
        return reason


def safe_ydl_params(options: MediaOptions, tmpdir: Path) -> dict[str, Any]:
    """The complete, fixed yt-dlp parameters; nothing from config files, plugins or the user.

    ``tmpdir`` is the only place yt-dlp may write (downloads and fragments). There is no
    ``ignoreconfig``: that is a command-line option, and the library never reads config files.
    """
    tmp = str(Path(tmpdir).resolve())
    return {
        # Output: silent, our logger collects warnings and errors; no colour codes.
        "quiet": True,
        "noprogress": True,
        "no_warnings": False,
        "color": "no_color",
        "logger": _CollectingLogger(),
        # What to choose: one entry, the format selector, no test downloads of formats.
        "format": options.format_selector(),
        "noplaylist": True,
        "check_formats": False,
        "allow_unplayable_formats": False,
        "match_filter": _DurationFilter(options.max_duration_seconds),
        "max_filesize": options.max_bytes,
        "socket_timeout": options.socket_timeout,
        # Where to write: a fixed name in tmpdir (home and temp), never overwriting.
        "paths": {"home": tmp, "temp": tmp},
        "outtmpl": {"default": OUTPUT_TEMPLATE},
        "restrictfilenames": True,
        "overwrites": False,
        "updatetime": False,  # do not copy the server's Last-Modified onto the file
        "cachedir": False,  # no ~/.cache/yt-dlp
        # No side files: metadata comes back in MediaInfo; subtitles and thumbnails are URLs
        # for the guarded fetcher.
        "writeinfojson": False,
        "writedescription": False,
        "writethumbnail": False,
        "writesubtitles": False,
        "writeautomaticsub": False,
        "allow_playlist_files": False,
        "writelink": False,
        "writeurllink": False,
        "writewebloclink": False,
        "writedesktoplink": False,
        "getcomments": False,
        # Never run a program: no post-processors, native downloaders only, ffmpeg hidden
        # (so no fix-ups, merges or ffmpeg fallback for HLS), no JavaScript runtime.
        "postprocessors": [],
        "postprocessor_hooks": [],
        "external_downloader": {"default": "native"},
        "hls_prefer_native": True,
        "hls_use_mpegts": True,  # HLS is kept as the MPEG-TS served, not remuxed
        "fixup": "never",
        "ffmpeg_location": NO_FFMPEG,
        "js_runtimes": {},
        "remote_components": [],
        # No credentials or cookies from anywhere; no local files; no faked headers.
        "usenetrc": False,
        "netrc_cmd": None,
        "cookiefile": None,
        "cookiesfrombrowser": None,
        "enable_file_urls": False,
        "geo_bypass": False,  # no spoofed X-Forwarded-For: record what we are really served
        "live_from_start": False,
        "wait_for_video": None,
    }


def _disable_plugins() -> None:
    """yt-dlp imports plugin code from user and site directories when a YoutubeDL is built;
    an empty plugin path list (process-wide) stops that before the first one is."""
    yt_dlp.globals.plugin_dirs.value = []


class _GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """YoutubeDL that asks ``url_guard`` before every request (pages, manifests, segments) and
    checks where redirects ended. Redirects followed inside yt-dlp's HTTP handler are seen
    only after the fact, so this narrows but does not replace the caller's network guard."""

    def __init__(self, params: dict[str, Any], url_guard: Callable[[str], None] | None) -> None:
        super().__init__(params)
        self._url_guard = url_guard
        self.guard_error: Exception | None = None

    def urlopen(self, req: Any) -> Any:
        if self._url_guard is None:
            return super().urlopen(req)
        self._check(req if isinstance(req, str) else req.url)
        response = super().urlopen(req)
        try:
            self._check(response.url)
        except Exception:
            response.close()
            raise
        return response

    def _check(self, url: str) -> None:
        assert self._url_guard is not None
        try:
            self._url_guard(url)
        except Exception as err:
            self.guard_error = err
            raise


def clean_message(message: str) -> str:
    """yt-dlp's message without colour codes or its ``ERROR:``/``WARNING:`` prefix."""
    text = ANSI_ESCAPE.sub("", str(message)).strip()
    return re.sub(r"^(ERROR|WARNING):\s*", "", text)


def _original_error(err: BaseException) -> BaseException:
    """The exception yt-dlp's DownloadError wraps, or ``err`` itself."""
    found = err
    if isinstance(err, DownloadError) and err.exc_info and err.exc_info[1] is not None:
        found = err.exc_info[1]
    return found


def _is_retryable(err: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, HTTPError):
            return current.status in RETRYABLE_STATUSES
        if isinstance(current, TransportError | TimeoutError | ConnectionError):
            return True
        current = getattr(current, "cause", None) or current.__cause__
    return False


def _extraction_error(err: YoutubeDLError, url: str) -> MediaExtractionError:
    message = clean_message(str(err))
    original = _original_error(err)
    if isinstance(original, UnsupportedError) or "No video formats found" in message:
        return NoMediaFoundError(f"no media found at {url}: {message}", url=url)
    return MediaExtractionError(
        f"yt-dlp could not extract {url}: {message}", url=url, retryable=_is_retryable(original)
    )


def _parse_upload_date(value: Any) -> date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{8}", value):
        return None
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def _media_format(fmt: Mapping[str, Any]) -> MediaFormat:
    headers = fmt.get("http_headers") or {}
    return MediaFormat(
        format_id=str(fmt["format_id"]),
        url=str(fmt["url"]),
        protocol=str(fmt.get("protocol") or "https"),
        ext=str(fmt.get("ext") or "bin"),
        width=int_or_none(fmt.get("width")),
        height=int_or_none(fmt.get("height")),
        filesize=int_or_none(fmt.get("filesize")),
        http_headers={str(k): str(v) for k, v in headers.items()},
        vcodec=str_or_none(fmt.get("vcodec")),
        acodec=str_or_none(fmt.get("acodec")),
        filesize_approx=int_or_none(fmt.get("filesize_approx")),
    )


def _chosen_formats(info: Mapping[str, Any], url: str) -> tuple[MediaFormat, ...]:
    """The selected format, or the streams a ``video+audio`` selection names, video first."""
    selected = info.get("requested_formats") or [info]
    if not all(fmt.get("url") and fmt.get("format_id") for fmt in selected):
        raise NoMediaFoundError(f"no media found at {url}: no downloadable format", url=url)
    return tuple(_media_format(fmt) for fmt in selected)


def _subtitle_tracks(info: Mapping[str, Any]) -> tuple[SubtitleTrack, ...]:
    tracks: list[SubtitleTrack] = []
    original_language = info.get("language")
    for key, automatic in (("subtitles", False), ("automatic_captions", True)):
        for language, offered in (info.get(key) or {}).items():
            # Automatic captions come machine-translated into every language; keep the original.
            if automatic and not (language == original_language or language.endswith("-orig")):
                continue
            usable = [item for item in offered or () if item.get("url")]
            if not usable:
                continue
            rank = {ext: i for i, ext in enumerate(SUBTITLE_EXT_PREFERENCE)}
            best = min(usable, key=lambda item: rank.get(item.get("ext"), len(rank)))
            tracks.append(
                SubtitleTrack(
                    language=str(language),
                    url=str(best["url"]),
                    ext=str(best.get("ext") or "vtt"),
                    name=str_or_none(best.get("name")),
                    automatic=automatic,
                )
            )
    return tuple(tracks)


def _thumbnails(info: Mapping[str, Any]) -> tuple[str, ...]:
    # yt-dlp orders thumbnails worst to best.
    urls = [t.get("url") for t in reversed(info.get("thumbnails") or ()) if t.get("url")]
    if info.get("thumbnail"):
        urls.insert(0, info["thumbnail"])
    return tuple(dict.fromkeys(str(u) for u in urls))


def _entry_url(entry: Mapping[str, Any]) -> str | None:
    if entry.get("_type") in ("url", "url_transparent"):
        return str_or_none(entry.get("url"))
    formats = entry.get("formats") or ()
    return str_or_none(entry.get("url") or (formats[-1].get("url") if formats else None))


def _single_entry(info: dict[str, Any], url: str) -> dict[str, Any]:
    """A video result as is; a playlist of one unwrapped; several refused with their URLs."""
    if info.get("_type", "video") == "video":
        return info
    entries = [entry for entry in info.get("entries") or () if entry]
    if len(entries) == 1 and entries[0].get("_type", "video") == "video":
        return dict(entries[0])
    urls = tuple(filter(None, (_entry_url(entry) for entry in entries)))
    if not urls:
        raise NoMediaFoundError(f"no media found at {url}: an empty playlist", url=url)
    raise MultipleMediaError(
        f"{url} holds {len(urls)} media (listing at most {MAX_LISTED_ENTRIES}); "
        "extract each of entry_urls on its own",
        url=url,
        entry_urls=urls,
    )


def _check_known_size(streams: tuple[MediaFormat, ...], options: MediaOptions) -> None:
    """Refuse before downloading when the sizes the site states pass the cap; an estimate
    (bitrate x duration) must pass it by a margin, as it can be off either way."""
    ids = "+".join(stream.format_id for stream in streams)
    exact = [s.filesize for s in streams]
    if all(size is not None for size in exact) and sum(filter(None, exact)) > options.max_bytes:
        raise MediaRefused(
            f"format {ids}: size {sum(filter(None, exact))} bytes exceeds the cap of "
            f"{options.max_bytes} bytes"
        )
    approx = sum(s.filesize or s.filesize_approx or 0 for s in streams)
    if approx > options.max_bytes * APPROX_SIZE_MARGIN:
        raise MediaRefused(
            f"format {ids}: estimated size {approx} bytes exceeds the cap of "
            f"{options.max_bytes} bytes"
        )


def _run_ydl(
    params: dict[str, Any],
    url_guard: Callable[[str], None] | None,
    action: Callable[[yt_dlp.YoutubeDL], Any],
    url: str,
) -> Any:
    check_ytdlp_version()
    _disable_plugins()
    # The HLS downloader asks whether ffmpeg exists (running it) to decide whether to hand
    # streams over to it, and that check reads this context variable, not the params.
    hidden = FFmpegPostProcessor._ffmpeg_location.set(NO_FFMPEG)
    try:
        with _GuardedYoutubeDL(params, url_guard) as ydl:
            try:
                return action(ydl)
            except YoutubeDLError as err:
                if ydl.guard_error is not None:
                    raise ydl.guard_error from err
                raise _extraction_error(err, url) from err
    finally:
        FFmpegPostProcessor._ffmpeg_location.reset(hidden)


def extract_media(
    url: str, options: MediaOptions, *, url_guard: Callable[[str], None] | None = None
) -> MediaInfo:
    """Ask yt-dlp what media ``url`` holds and which format to take; downloads nothing.

    Blocking (run it in a thread). ``url_guard`` is called with every URL yt-dlp requests and
    raises to stop it; pass one that also resolves the host and checks its addresses
    (``NetworkPolicy.check_url`` alone judges only addresses written in the URL).

    Raises ``MediaRefused`` when the duration or a stated size exceeds the caps,
    ``NoMediaFoundError`` for a page without media, ``MultipleMediaError`` for a page with
    several, ``MediaExtractionError`` for anything else yt-dlp cannot handle. A page that only
    embeds one player elsewhere is followed to it.
    """
    try:
        return _extract_media(url, options, url_guard)
    except MultipleMediaError as err:
        if len(err.entry_urls) != 1:
            raise
        return _extract_media(err.entry_urls[0], options, url_guard)


def _extract_media(
    url: str, options: MediaOptions, url_guard: Callable[[str], None] | None
) -> MediaInfo:
    with tempfile.TemporaryDirectory(prefix="ytdlp-extract-") as scratch:
        params = safe_ydl_params(options, Path(scratch))
        # List a page's entries cheaply rather than resolving each, and only so many of them
        # (a channel URL lists thousands).
        params["extract_flat"] = "in_playlist"
        params["playlist_items"] = f"1:{MAX_LISTED_ENTRIES}"
        raw = _run_ydl(params, url_guard, lambda ydl: ydl.extract_info(url, download=False), url)
    refusal = params["match_filter"].refusal
    if raw is None:
        raise (
            MediaRefused(refusal)
            if refusal
            else MediaExtractionError(f"yt-dlp returned nothing for {url}", url=url)
        )
    try:
        # Several entries are reported first: a refused one among them is only left out.
        info = _single_entry(raw, url)
    except NoMediaFoundError:
        if refusal is not None:
            raise MediaRefused(refusal) from None
        raise
    if refusal is not None:
        raise MediaRefused(refusal)
    streams = _chosen_formats(info, url)
    _check_known_size(streams, options)
    duration = info.get("duration")
    if isinstance(duration, int | float) and duration > options.max_duration_seconds:
        raise MediaRefused(
            f"duration {duration:g} s exceeds the cap of {options.max_duration_seconds:g} s"
        )
    logger: _CollectingLogger = params["logger"]
    return MediaInfo(
        webpage_url=str(info.get("webpage_url") or url),
        extractor=str(info.get("extractor_key") or info.get("extractor") or "unknown"),
        media_id=str(info.get("id") or ""),
        title=str_or_none(info.get("title")),
        duration=float(duration) if isinstance(duration, int | float) else None,
        uploader=str_or_none(info.get("uploader")),
        upload_date=_parse_upload_date(info.get("upload_date")),
        chosen=streams[0],
        subtitles=_subtitle_tracks(info) if options.subtitles else (),
        thumbnails=_thumbnails(info),
        info=json.loads(json.dumps(yt_dlp.YoutubeDL.sanitize_info(info, True), default=str)),
        ytdlp_version=ytdlp_version(),
        options={**asdict(options), "format": options.format_selector()},
        warnings=tuple(logger.warnings),
        companions=streams[1:],
    )


class _SizeCapExceeded(Exception):
    pass


def _size_cap_hook(max_bytes: int) -> Callable[[dict[str, Any]], None]:
    """A progress hook that stops a download once it passes ``max_bytes``; yt-dlp's own
    ``max_filesize`` is checked only by the plain-HTTP downloader, and only up front."""

    def hook(status: dict[str, Any]) -> None:
        done = status.get("downloaded_bytes") or 0
        if done > max_bytes:
            raise _SizeCapExceeded(f"download passed the cap of {max_bytes} bytes")

    return hook


def _label_container(path: Path) -> Path:
    """HLS is saved as the MPEG-TS it is, but yt-dlp names it after the format (``.mp4``);
    give the file the extension its bytes call for."""
    with path.open("rb") as reader:
        head = reader.read(MPEG_TS_PACKET + 1)
    is_ts = len(head) > MPEG_TS_PACKET and head[0] == head[MPEG_TS_PACKET] == MPEG_TS_SYNC
    if is_ts and path.suffix != ".ts":
        renamed = path.with_suffix(".ts")
        path.rename(renamed)
        return renamed
    return path


def download_with_ytdlp(
    info_or_url: MediaInfo | str,
    options: MediaOptions,
    tmpdir: Path,
    *,
    stream: MediaFormat | None = None,
    url_guard: Callable[[str], None] | None = None,
) -> Path:
    """Let yt-dlp's native downloader fetch one chosen stream (HLS, DASH) into ``tmpdir``.

    ``stream`` is ``chosen`` unless given (one of ``companions``). A URL is first resolved
    with ``extract_media``. The file lands in a new private directory under ``tmpdir`` (the
    caller owns and removes it, partial files included); its path is returned. Raises
    ``MediaRefused`` for protocols that would need an external program and when the download
    passes ``options.max_bytes``.
    """
    media = (
        info_or_url
        if isinstance(info_or_url, MediaInfo)
        else extract_media(info_or_url, options, url_guard=url_guard)
    )
    wanted = stream or media.chosen
    if wanted not in media.streams:
        raise ValueError(f"format {wanted.format_id} is not one of the streams chosen")
    if wanted.protocol not in NATIVE_PROTOCOLS:
        raise MediaRefused(f"protocol {wanted.protocol!r} would need an external downloader")
    _check_known_size((wanted,), options)
    Path(tmpdir).mkdir(parents=True, exist_ok=True)
    private = Path(tempfile.mkdtemp(prefix="ytdlp-", dir=tmpdir)).resolve()
    params = safe_ydl_params(options, private)
    params["format"] = wanted.format_id  # exactly the stream extract_media chose
    params["progress_hooks"] = [_size_cap_hook(options.max_bytes)]
    info = copy.deepcopy(media.info)
    try:
        result = _run_ydl(
            params,
            url_guard,
            lambda ydl: ydl.process_ie_result(info, download=True),
            media.webpage_url,
        )
    except _SizeCapExceeded as err:
        raise MediaRefused(str(err)) from err
    refusal = params["match_filter"].refusal
    if refusal is not None:
        raise MediaRefused(refusal)
    downloads = (result or {}).get("requested_downloads") or ()
    paths = [Path(d["filepath"]) for d in downloads if d.get("filepath")]
    if len(paths) != 1 or not paths[0].is_file():
        logger: _CollectingLogger = params["logger"]
        over_cap = [line for line in logger.recent if "larger than max-filesize" in line]
        if over_cap:
            raise MediaRefused(over_cap[-1].removeprefix("[download] "))
        errors = "; ".join(logger.errors) or "no file was written"
        raise MediaExtractionError(
            f"yt-dlp did not download {media.webpage_url}: {errors}", url=media.webpage_url
        )
    path = paths[0].resolve()
    if not path.is_relative_to(private):
        raise MediaExtractionError(
            f"yt-dlp wrote outside its directory: {path}", url=media.webpage_url
        )
    if path.stat().st_size > options.max_bytes:
        raise MediaRefused(f"file of {path.stat().st_size} bytes exceeds the cap")
    return _label_container(path)
