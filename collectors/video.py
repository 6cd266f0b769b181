"""The video collector (``kind: video``): a page yt-dlp understands, or a direct media URL.

yt-dlp reads the page and chooses a format under the source's caps (height, size, duration);
it downloads nothing itself when the format is plain HTTP(S): the guarded fetcher does, so the
bytes are hashed while they stream and every request passes the network policy. Streamed
formats (HLS, DASH) are left to yt-dlp's native downloader in a private temporary directory.
The media file, yt-dlp's metadata (``info.json``), subtitles and thumbnail are stored as
content-addressed objects; the page itself goes into the WARC like any page.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from archive.capture_extras import MediaDownload
from archive.capture_writer import PageCapture
from archive.manifest import ObjectRef
from archive.store import put_payload_bytes
from collectors.base import CollectContext, CollectReport, polite_fetch
from collectors.http_fetch import FetchError, FetchResult
from collectors.media_download import (
    MediaDownloadError,
    MediaHints,
    download_media,
    media_artefact_from_file,
)
from collectors.media_extract import (
    HTTP_PROTOCOLS,
    MediaExtractionError,
    MediaInfo,
    MediaOptions,
    MediaRefused,
    MultipleMediaError,
    download_with_ytdlp,
    extract_media,
)
from collectors.media_probe import CorruptMediaError, probe_media
from collectors.netguard import BlockedTargetError
from collectors.web import extract_for_index


def media_options(ctx: CollectContext) -> MediaOptions:
    """The source's media caps as yt-dlp options."""
    source = ctx.source
    return MediaOptions(
        max_height=source.max_video_height,
        max_bytes=source.max_media_bytes,
        max_duration_seconds=source.max_media_seconds,
        format=source.video_format,
        subtitles=source.subtitles,
        socket_timeout=source.timeout_seconds,
    )


class VideoCollector:
    """Archives the video at the source URL: page, media file, metadata, subtitles."""

    def __init__(self, ctx: CollectContext) -> None:
        self.ctx = ctx
        self.source = ctx.source
        self.report = CollectReport()
        self.options = media_options(ctx)

    async def collect(self) -> CollectReport:
        await self._collect_one(self.source.url, 0)
        return self.report

    async def _collect_one(self, url: str, depth: int) -> None:
        """One video: its page (or the file itself), media, metadata; a gallery page (several
        videos) is kept as a page and each of its videos, up to ``max_pages``, after it."""
        try:
            info = await asyncio.to_thread(
                extract_media,
                url,
                self.options,
                url_guard=self.ctx.fetcher.policy.check_url_resolving,
            )
        except MultipleMediaError as err:
            if depth == 0:
                await self._gallery(url, err.entry_urls)
            else:
                self.report.fail(url, "extract", str(err))
            return
        except MediaRefused as err:
            self.report.fail(url, "caps", str(err))
            return
        except (MediaExtractionError, BlockedTargetError) as err:
            self.report.fail(url, "extract", str(err))
            return
        download = await self._download(info)
        if download is None:
            return
        artefact = download.artefact.model_copy(update=await self._metadata(info))
        download = MediaDownload(artefact, download.exchange)
        page = None
        if download.exchange is None or info.chosen.url != url:
            page = await polite_fetch(self.ctx, self.report, url)
        if page is None:
            # The source URL is the media file (or its page failed): the download is the capture.
            if download.exchange is not None:
                result = FetchResult(requested_url=url, hops=[download.exchange])
                self._sink(PageCapture(result=result, depth=depth, payload_object=download))
            return
        capture = await self._page_capture(page, depth)
        capture.media = [download, *await self._companions(info)]
        self._sink(capture)

    async def _gallery(self, url: str, entries: tuple[str, ...]) -> None:
        page = await polite_fetch(self.ctx, self.report, url)
        if page is not None:
            self._sink(await self._page_capture(page, 0))
        chosen = entries[: self.source.max_pages]
        if len(entries) > len(chosen):
            self.report.notes.append(
                f"{len(entries)} videos on {url}; the first {len(chosen)} kept (max_pages)"
            )
        for entry in chosen:
            await self._collect_one(entry, 1)

    async def _companions(self, info: MediaInfo) -> list[MediaDownload]:
        """The other streams of a split format (separate audio): each kept as it is served,
        never merged (merging would run ffmpeg and make a file no server sent)."""
        found = []
        for stream in info.companions:
            if stream.protocol not in HTTP_PROTOCOLS or self.ctx.media_fetcher is None:
                self.report.notes.append(
                    f"companion stream {stream.format_id} not kept: protocol {stream.protocol}"
                )
                continue
            hints = MediaHints(title=info.title, extractor=info.extractor)
            try:
                found.append(
                    await download_media(
                        self.ctx.media_fetcher,
                        self.ctx.store,
                        stream.url,
                        stream.http_headers,
                        hints,
                    )
                )
            except MediaDownloadError as err:
                self.report.fail(err.url, err.stage, err.reason)
        return found

    def _sink(self, capture: PageCapture) -> None:
        self.ctx.sink(capture)
        self.report.pages += 1
        self.report.count("media", len(capture.media) + (capture.payload_object is not None))
        if capture.depth == 0:
            self.report.seed_captured = True
            self.report.seed_status = capture.result.final.status
        if self.ctx.on_progress:
            self.ctx.on_progress(self.report.pages)

    async def _download(self, info: MediaInfo) -> MediaDownload | None:
        chosen = info.chosen
        hints = MediaHints(
            title=info.title,
            extractor=info.extractor,
            max_duration_seconds=self.source.max_media_seconds,
        )
        try:
            if chosen.protocol in HTTP_PROTOCOLS and self.ctx.media_fetcher is not None:
                return await download_media(
                    self.ctx.media_fetcher, self.ctx.store, chosen.url, chosen.http_headers, hints
                )
            return await asyncio.to_thread(self._download_with_ytdlp, info, hints)
        except MediaDownloadError as err:
            self.report.fail(err.url, err.stage, err.reason)
        except MediaRefused as err:
            self.report.fail(chosen.url, "caps", str(err))
        except (MediaExtractionError, CorruptMediaError, BlockedTargetError) as err:
            self.report.fail(chosen.url, "media", str(err))
        return None

    def _download_with_ytdlp(self, info: MediaInfo, hints: MediaHints) -> MediaDownload:
        """Streamed formats: yt-dlp's native downloader, then probe and store the file."""
        guard = self.ctx.fetcher.policy.check_url_resolving
        with tempfile.TemporaryDirectory(prefix="osint-archive-media-") as scratch:
            path = download_with_ytdlp(info, self.options, Path(scratch), url_guard=guard)
            probe = probe_media(path)
            downloader = f"yt-dlp/{info.ytdlp_version} ({info.chosen.protocol})"
            artefact = media_artefact_from_file(
                self.ctx.store, str(path), info.chosen.url, downloader, hints, probe
            )
        return MediaDownload(artefact)

    async def _metadata(self, info: MediaInfo) -> dict[str, object]:
        """yt-dlp's metadata, subtitles and thumbnail as objects; a failure is only a note."""
        data = json.dumps(info.info, ensure_ascii=False, sort_keys=True).encode("utf-8")
        stored = put_payload_bytes(self.ctx.store, data, "application/json")
        fields: dict[str, object] = {
            "info_json": ObjectRef(key=stored.key, sha256=stored.sha256),
            "title": info.title,
            "extractor": info.extractor,
        }
        subtitles = {}
        for track in info.subtitles:
            ref = await self._small_object(track.url, f"subtitles ({track.language})")
            if ref is not None:
                subtitles[track.language] = ref
        fields["subtitles"] = subtitles
        if info.thumbnails:
            fields["thumbnail"] = await self._small_object(info.thumbnails[0], "thumbnail")
        return fields

    async def _small_object(self, url: str, what: str) -> ObjectRef | None:
        try:
            result = await self.ctx.fetcher.fetch(url)
        except (FetchError, BlockedTargetError) as err:
            self.report.notes.append(f"{what} not kept: {url}: {err}")
            return None
        try:
            final = result.final
            if final.status != 200 or final.truncated:
                self.report.notes.append(f"{what} not kept: {url}: HTTP {final.status}")
                return None
            final.body.seek(0)
            content_type = final.header("Content-Type") or "application/octet-stream"
            stored = put_payload_bytes(self.ctx.store, final.body.read(), content_type)
            return ObjectRef(key=stored.key, sha256=stored.sha256)
        finally:
            result.close()

    async def _page_capture(self, result: FetchResult, depth: int) -> PageCapture:
        """The page with its text for the index."""
        final = result.final
        content_type = final.header("Content-Type")
        capture = PageCapture(result=result, depth=depth)
        if content_type and "html" in content_type and 200 <= final.status < 300:
            final.body.seek(0)
            body = final.body.read()
            final.body.seek(0)
            extracted = extract_for_index(
                body, content_type, final.header("Content-Encoding"), final.url, len(body) + 1
            )
            capture.page_text, capture.text_problem = extracted.page_text, extracted.problem
        return capture
