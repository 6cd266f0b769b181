"""Download one media file (a video, an audio track, a photo) into the archive as an object.

The bytes come through the guarded ``HttpFetcher`` (network policy, size and time caps, SHA-256
while streaming) into a temporary file, are stored content-addressed (the same file found on
three pages is stored once) and probed with ffprobe for duration, streams and size, so a file
that is not media, truncated or corrupt is caught here with a clear reason.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from archive.capture_extras import MediaDownload
from archive.manifest import MediaArtefact
from archive.store import ObjectStore, put_payload
from collectors.http_fetch import FetchError, HttpFetcher
from collectors.media_probe import CorruptMediaError, MediaProbe, probe_media
from collectors.netguard import BlockedTargetError

HTTP_DOWNLOADER = "osint-archive-http"
OCTETS = "application/octet-stream"
# Content types that are never media, whatever the URL says (an error page, a login wall).
NOT_MEDIA_TYPES = ("text/html", "application/xhtml+xml", "application/json", "text/plain")


class MediaDownloadError(Exception):
    """A media URL yielded no media to keep; ``stage`` says where it failed."""

    def __init__(self, url: str, stage: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.stage = stage
        self.reason = reason


@dataclass(frozen=True)
class MediaHints:
    """What the page or yt-dlp already said about the file."""

    title: str | None = None
    extractor: str | None = None
    kind: str = "video"  # "video", "audio" or "photo"; photos are not probed
    # Often unknown before the download (a plain <video> link states none): checked on the file.
    max_duration_seconds: float | None = None


async def download_media(
    fetcher: HttpFetcher,
    store: ObjectStore,
    url: str,
    headers: dict[str, str] | None = None,
    hints: MediaHints | None = None,
) -> MediaDownload:
    """Fetch, check, store and describe one media file; raises ``MediaDownloadError``.

    ``fetcher`` must keep bodies on disk (``bodies_on_disk=True``) so ffprobe can read them.
    """
    hints = hints or MediaHints()
    try:
        result = await fetcher.fetch(url, headers=headers)
    except BlockedTargetError as err:
        raise MediaDownloadError(url, "policy", str(err)) from err
    except FetchError as err:
        raise MediaDownloadError(url, "fetch", str(err)) from err
    final = result.final
    try:
        content_type = final.header("Content-Type")
        if not 200 <= final.status < 300:
            raise MediaDownloadError(url, "fetch", f"HTTP {final.status} instead of media")
        if final.truncated:
            cap = (
                f"max_media_bytes ({fetcher.limits.max_bytes} bytes)"
                if final.truncated == "length"
                else f"the time cap ({fetcher.limits.max_seconds:g} s)"
            )
            raise MediaDownloadError(url, "caps", f"larger than {cap}; not kept")
        if content_type and content_type.split(";")[0].strip().lower() in NOT_MEDIA_TYPES:
            raise MediaDownloadError(url, "media", f"the media URL returned {content_type}")
        final.body.flush()
        path = Path(final.body.name)
        # The file reaches the disk while ffprobe reads it (the store's own fsync is then quick).
        durable = asyncio.create_task(asyncio.to_thread(os.fsync, final.body.fileno()))
        try:
            probe = None
            if hints.kind != "photo":
                probe = await _probe(url, path, hints.max_duration_seconds)
        finally:
            await durable
        # The digest was taken as the bytes streamed in: the file is adopted, not copied.
        stored = await asyncio.to_thread(
            store.adopt_payload,
            path,
            final.payload_sha256,
            final.body_size,
            content_type or "application/octet-stream",
        )
        artefact = MediaArtefact(
            key=stored.key,
            sha256=stored.sha256,
            size=stored.size,
            url=final.url,
            content_type=content_type,
            title=hints.title,
            extractor=hints.extractor or "direct",
            downloader=HTTP_DOWNLOADER,
        )
        if probe is not None:
            artefact = artefact.model_copy(update=_probe_fields(probe))
        return MediaDownload(artefact, final)
    except BaseException:
        result.close()
        raise


async def _probe(url: str, path: Path, max_duration: float | None) -> MediaProbe:
    try:
        probe = await asyncio.to_thread(probe_media, path)
    except CorruptMediaError as err:
        raise MediaDownloadError(url, "media", f"not playable media: {err}") from err
    if max_duration is not None and probe.duration is not None and probe.duration > max_duration:
        raise MediaDownloadError(
            url,
            "caps",
            f"duration {probe.duration:g} s exceeds max_media_seconds ({max_duration:g} s)",
        )
    return probe


def _probe_fields(probe: MediaProbe) -> dict[str, object]:
    """The manifest's description of a probed file; a file without sound says so."""
    return {
        "duration_seconds": probe.duration,
        "has_audio": probe.has_audio,
        "has_video": probe.has_video,
        "width": probe.width,
        "height": probe.height,
        "container": probe.format_name,
        "problem": None if probe.has_audio else "no audio track",
    }


def media_artefact_from_file(
    store: ObjectStore, path: str, url: str, downloader: str, hints: MediaHints, probe: MediaProbe
) -> MediaArtefact:
    """Store a file another program downloaded (yt-dlp's HLS downloader) and describe it."""
    with open(path, "rb") as stream:
        stored = put_payload(store, stream, "video/mp4" if path.endswith(".mp4") else "video/mp2t")
    artefact = MediaArtefact(
        key=stored.key,
        sha256=stored.sha256,
        size=stored.size,
        url=url,
        title=hints.title,
        extractor=hints.extractor,
        downloader=downloader,
    )
    return artefact.model_copy(update=_probe_fields(probe))
