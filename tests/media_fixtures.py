"""pytest plugin and plain functions: test media made offline with ffmpeg, espeak-ng, festival.

Nothing is downloaded: speech is synthesised (espeak-ng for English, festival's ``msu_ru_nsh``
voice for Russian), pictures come from ffmpeg's ``testsrc`` generators. Each fixture builds its
file once per test session in a cache directory (``tmp_path_factory``), so a suite that uses
them pays for generation once. The ``make_*`` functions do the same work anywhere (benchmarks,
a demo) given a directory.

Files and what they are for:

``speech_mp4_en``
    ``ENGLISH_SENTENCES`` spoken over a 320x240 test pattern, H.264/AAC MP4 (moov at the end,
    as ffmpeg writes by default), so transcription has known words and timings.
``silent_video_no_audio_mp4``
    A video stream only: "has no audio" must be told apart from "broken".
``truncated_mp4``
    The first 40 % of ``speech_mp4_en``: the index (moov) is missing, as after a cut download.
``html_disguised_as_mp4``
    An HTML error page saved under a ``.mp4`` name, as servers answer with a 200.
``hls_rendition``
    ``speech_mp4_en`` cut into an HLS VOD playlist (``index.m3u8``) and 2-second ``.ts``
    segments.
``hls_split_rendition``
    The same clip as a master playlist with separate video-only and audio-only renditions
    (``master.m3u8``, ``video/``, ``audio/``), the way many sites serve HLS.
``big_video``
    A factory ``big_video(size_mb)``: a noise video of about that size for benchmarks, made by
    stream-copying a 10-second lossless seed in a loop (disk speed, not encoder speed).
``russian_speech_wav``
    A factory ``russian_speech_wav(sentences=RUSSIAN_SENTENCES)``: festival's Russian voice.
``placed_speech``
    A factory ``placed_speech(language, sentences)`` → ``PlacedSpeech``: each sentence spoken
    separately and laid on a 16 kHz track at a known second (silence between), muxed into an
    MP4, so recognised text and times can be checked sentence by sentence.
``silence_mp4``
    30 seconds of digital silence with a test pattern: speech recognition must find no text.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "ENGLISH_SENTENCES",
    "ENGLISH_TEST_SENTENCES",
    "HTML_DISGUISED_BODY",
    "RUSSIAN_SENTENCES",
    "RUSSIAN_TEST_SENTENCES",
    "RUSSIAN_VOICE",
    "PlacedSentence",
    "PlacedSpeech",
    "SpeechSample",
    "big_video",
    "hls_rendition",
    "hls_split_rendition",
    "html_disguised_as_mp4",
    "make_big_video",
    "make_english_speech_wav",
    "make_hls_rendition",
    "make_hls_split_rendition",
    "make_html_disguised_as_mp4",
    "make_placed_speech",
    "make_russian_speech_wav",
    "make_silence_mp4",
    "make_silent_video_mp4",
    "make_speech_mp4",
    "make_truncated_copy",
    "placed_speech",
    "russian_speech_wav",
    "silence_mp4",
    "silent_video_no_audio_mp4",
    "speech_mp4_en",
    "truncated_mp4",
    "wav_duration",
]

ENGLISH_SENTENCES = (
    "The river crossing was closed on Monday morning.",
    "Witnesses counted twelve armoured vehicles near the bridge.",
    "Volunteers recorded the names of everyone who was detained.",
)
RUSSIAN_SENTENCES = (
    "Сегодня утром в центре города прошла мирная акция.",
    "Свидетели насчитали двенадцать машин возле моста.",
)
# Longer sets for recognition accuracy: the kind of sentence an investigator searches for.
RUSSIAN_TEST_SENTENCES = (
    *RUSSIAN_SENTENCES,
    "Задержанных доставили в районный отдел милиции.",
    "Адвокату не разрешили встретиться с подзащитным.",
    "На площади собрались сотни людей с цветами.",
    "Правозащитники опубликовали список политических заключённых.",
)
ENGLISH_TEST_SENTENCES = (
    *ENGLISH_SENTENCES,
    "The court hearing was held behind closed doors.",
    "Journalists were not allowed to enter the building.",
)
# The voice Debian's festvox-ru installs (/usr/share/festival/voices/russian/msu_ru_nsh_clunits);
# it expects UTF-8 text.
RUSSIAN_VOICE = "voice_msu_ru_nsh_clunits"
HTML_DISGUISED_BODY = (
    b"<!doctype html>\n<html><head><meta charset='utf-8'><title>Video unavailable</title>"
    b"</head>\n<body><h1>This video is no longer available</h1>\n"
    b"<p>The uploader has removed this video.</p></body></html>\n"
)
VIDEO_SIZE = "320x240"
FRAME_RATE = 25
TOOL_TIMEOUT_SECONDS = 300
TRUNCATED_FRACTION = 0.4
HLS_SEGMENT_SECONDS = 2
# The big-video seed: 10 s of lossless noise (about 9 MB per second of video) plus a tone.
SEED_SECONDS = 10
SEED_FILTER = "testsrc2=s=640x360:r=25,noise=alls=60:allf=t+u"


@dataclass(frozen=True)
class SpeechSample:
    """A synthesised recording: the file, its length and the words spoken, in order."""

    path: Path
    duration_seconds: float
    sentences: tuple[str, ...]
    language: str

    @property
    def text(self) -> str:
        """The spoken sentences as one string."""
        return " ".join(self.sentences)


def _require(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise RuntimeError(f"{tool} is not installed; `make system-deps` installs it")
    return found


def _run(args: Sequence[str], *, stdin: bytes | None = None) -> None:
    """Run a generator tool; fail with its stderr, never silently."""
    command = [_require(args[0]), *args[1:]]
    done = subprocess.run(
        command, input=stdin, capture_output=True, timeout=TOOL_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"{args[0]} failed ({done.returncode}): {stderr}")


def _ffmpeg(*args: str) -> None:
    _run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args])


def wav_duration(path: Path) -> float:
    """The length of a PCM WAV file in seconds, read from its header."""
    with wave.open(str(path), "rb") as reader:
        return reader.getnframes() / reader.getframerate()


def make_english_speech_wav(dest: Path, sentences: Sequence[str] = ENGLISH_SENTENCES) -> Path:
    """espeak-ng (US English, 150 words a minute) speaking ``sentences`` into ``dest`` (WAV)."""
    _run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(dest), " ".join(sentences)])
    return dest


def make_speech_mp4(dest: Path, wav: Path) -> Path:
    """Mux ``wav`` with a test pattern of the same length: 320x240 H.264 + AAC in MP4.

    A key frame every ``HLS_SEGMENT_SECONDS`` lets ``make_hls_rendition`` cut even segments.
    """
    duration = wav_duration(wav)
    _ffmpeg(
        "-f", "lavfi", "-i", f"testsrc=size={VIDEO_SIZE}:rate={FRAME_RATE}:duration={duration}",
        "-i", str(wav),
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", str(FRAME_RATE * HLS_SEGMENT_SECONDS),
        "-c:a", "aac", "-b:a", "64k", "-ar", "44100",
        "-shortest", str(dest),
    )  # fmt: skip
    return dest


def make_silent_video_mp4(dest: Path, duration_seconds: float = 2.0) -> Path:
    """A test pattern with no audio stream at all (``-an``)."""
    _ffmpeg(
        "-f", "lavfi",
        "-i", f"testsrc=size={VIDEO_SIZE}:rate={FRAME_RATE}:duration={duration_seconds}",
        "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(dest),
    )  # fmt: skip
    return dest


def make_truncated_copy(source: Path, dest: Path, fraction: float = TRUNCATED_FRACTION) -> Path:
    """The first ``fraction`` of ``source``'s bytes, as a download cut off part-way leaves."""
    keep = int(source.stat().st_size * fraction)
    with source.open("rb") as reader, dest.open("wb") as writer:
        writer.write(reader.read(keep))
    return dest


def make_html_disguised_as_mp4(dest: Path) -> Path:
    """An HTML page under a media file name."""
    dest.write_bytes(HTML_DISGUISED_BODY)
    return dest


def make_hls_rendition(source: Path, directory: Path) -> Path:
    """Cut ``source`` into an HLS VOD rendition in ``directory``; returns ``index.m3u8``.

    Streams are copied, not re-encoded, so the segments hold the source's own frames.
    """
    directory.mkdir(parents=True, exist_ok=True)
    playlist = directory / "index.m3u8"
    _ffmpeg(
        "-i", str(source), "-c", "copy", "-f", "hls",
        "-hls_time", str(HLS_SEGMENT_SECONDS), "-hls_playlist_type", "vod",
        "-hls_segment_filename", str(directory / "segment_%03d.ts"), str(playlist),
    )  # fmt: skip
    return playlist


SPLIT_MASTER_PLAYLIST = """#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,\
URI="audio/index.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240,CODECS="avc1.64000d",AUDIO="aud"
video/index.m3u8
"""


def make_hls_split_rendition(source: Path, directory: Path) -> Path:
    """``source`` as HLS with video and audio in separate renditions; returns ``master.m3u8``.

    The master playlist is written by hand so it declares codecs, as real sites do; that is
    what tells a player (and yt-dlp) the video rendition carries no sound.
    """
    for name, keep in (("video", "-an"), ("audio", "-vn")):
        rendition = directory / name
        rendition.mkdir(parents=True, exist_ok=True)
        _ffmpeg(
            "-i", str(source), keep, "-c", "copy", "-f", "hls",
            "-hls_time", str(HLS_SEGMENT_SECONDS), "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(rendition / "segment_%03d.ts"),
            str(rendition / "index.m3u8"),
        )  # fmt: skip
    master = directory / "master.m3u8"
    master.write_text(SPLIT_MASTER_PLAYLIST, encoding="utf-8")
    return master


def make_big_video(dest: Path, size_mb: float, seed: Path | None = None) -> Path:
    """A video of about ``size_mb`` MB (10^6 bytes): noise and a tone, copied from a seed.

    Encoding noise losslessly is what makes it big; looping a 10-second seed with stream copy
    makes any size at disk speed. ``seed`` (made when missing) can be shared between calls.
    """
    if seed is None:
        seed = dest.with_name("big-video-seed.mp4")
    if not seed.exists():
        _ffmpeg(
            "-f", "lavfi", "-i", SEED_FILTER,
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
            "-t", str(SEED_SECONDS), "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", str(seed),
        )  # fmt: skip
    bytes_per_second = seed.stat().st_size / SEED_SECONDS
    seconds = max(size_mb * 1_000_000 / bytes_per_second, 0.1)
    loops = math.ceil(seconds / SEED_SECONDS)
    _ffmpeg(
        "-stream_loop", str(loops), "-i", str(seed), "-t", f"{seconds:.3f}", "-c", "copy", str(dest)
    )
    return dest


def make_russian_speech_wav(dest: Path, sentences: Sequence[str] = RUSSIAN_SENTENCES) -> Path:
    """festival's Russian voice speaking ``sentences`` into ``dest`` (16 kHz mono WAV)."""
    text = "\n".join(sentences) + "\n"
    _run(["text2wave", "-eval", f"({RUSSIAN_VOICE})", "-o", str(dest)], stdin=text.encode())
    return dest


PLACED_RATE = 16_000


@dataclass(frozen=True)
class PlacedSentence:
    """Where a sentence lies on the track, in seconds."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class PlacedSpeech:
    """An MP4 whose sentences start and end at known times."""

    path: Path
    duration_seconds: float
    sentences: tuple[PlacedSentence, ...]
    language: str

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


def _speak(sentence: str, language: str, dest: Path) -> bytes:
    """One sentence as 16 kHz mono 16-bit PCM (festival for ru, espeak-ng for en)."""
    spoken = dest.with_suffix(".voice.wav")
    if language == "ru":
        make_russian_speech_wav(spoken, (sentence,))
    else:
        make_english_speech_wav(spoken, (sentence,))
    _ffmpeg("-i", str(spoken), "-ac", "1", "-ar", str(PLACED_RATE), str(dest))
    with wave.open(str(dest), "rb") as reader:
        return reader.readframes(reader.getnframes())


def make_placed_speech(
    directory: Path,
    language: str,
    sentences: Sequence[str],
    lead_seconds: float = 2.0,
    gap_seconds: float = 1.5,
) -> PlacedSpeech:
    """Speak each sentence alone, lay them out after ``lead_seconds`` of silence with
    ``gap_seconds`` between, and mux the track with a test pattern into ``speech.mp4``."""
    directory.mkdir(parents=True, exist_ok=True)
    frame_bytes = 2
    track = bytearray(int(lead_seconds * PLACED_RATE) * frame_bytes)
    placed = []
    for number, sentence in enumerate(sentences):
        pcm = _speak(sentence, language, directory / f"sentence-{number}.wav")
        start = len(track) / frame_bytes / PLACED_RATE
        track += pcm
        placed.append(PlacedSentence(start, len(track) / frame_bytes / PLACED_RATE, sentence))
        track += bytes(int(gap_seconds * PLACED_RATE) * frame_bytes)
    wav = directory / "speech.wav"
    with wave.open(str(wav), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(frame_bytes)
        writer.setframerate(PLACED_RATE)
        writer.writeframes(bytes(track))
    mp4 = make_speech_mp4(directory / "speech.mp4", wav)
    return PlacedSpeech(mp4, wav_duration(wav), tuple(placed), language)


def make_silence_mp4(dest: Path, duration_seconds: float = 30.0) -> Path:
    """A test pattern with an AAC track of digital silence."""
    pattern = f"testsrc=size={VIDEO_SIZE}:rate={FRAME_RATE}:duration={duration_seconds}"
    _ffmpeg(
        "-f", "lavfi", "-i", pattern,
        "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={duration_seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "64k", "-shortest", str(dest),
    )  # fmt: skip
    return dest


# pytest fixtures: built once per session in one cache directory.


@pytest.fixture(scope="session")
def media_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session's generated media live."""
    return Path(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def speech_mp4_en(media_cache_dir: Path) -> SpeechSample:
    """``ENGLISH_SENTENCES`` spoken by espeak-ng, muxed with a 320x240 test pattern."""
    wav = make_english_speech_wav(media_cache_dir / "speech-en.wav")
    mp4 = make_speech_mp4(media_cache_dir / "speech-en.mp4", wav)
    return SpeechSample(mp4, wav_duration(wav), ENGLISH_SENTENCES, "en")


@pytest.fixture(scope="session")
def silent_video_no_audio_mp4(media_cache_dir: Path) -> Path:
    """Two seconds of test pattern, no audio stream."""
    return make_silent_video_mp4(media_cache_dir / "silent.mp4")


@pytest.fixture(scope="session")
def media_site_root(
    tmp_path_factory: pytest.TempPathFactory,
    speech_mp4_en: SpeechSample,
    silent_video_no_audio_mp4: Path,
    html_disguised_as_mp4: Path,
    hls_rendition: Path,
) -> Path:
    """The media site's files (``tests.media_site.lay_out_media_site``), laid out once: serve
    them with ``MediaSite(media_site_root)``; a test that adds files lays out its own."""
    from tests.media_site import lay_out_media_site

    return lay_out_media_site(
        Path(tmp_path_factory.mktemp("media-site")),
        clip=speech_mp4_en.path,
        silent=silent_video_no_audio_mp4,
        not_media=html_disguised_as_mp4,
        hls_playlist=hls_rendition,
    )


@pytest.fixture(scope="session")
def truncated_mp4(media_cache_dir: Path, speech_mp4_en: SpeechSample) -> Path:
    """The first 40 % of ``speech_mp4_en``."""
    return make_truncated_copy(speech_mp4_en.path, media_cache_dir / "truncated.mp4")


@pytest.fixture(scope="session")
def html_disguised_as_mp4(media_cache_dir: Path) -> Path:
    """An HTML page named ``notmedia.mp4``."""
    return make_html_disguised_as_mp4(media_cache_dir / "notmedia.mp4")


@pytest.fixture(scope="session")
def hls_rendition(media_cache_dir: Path, speech_mp4_en: SpeechSample) -> Path:
    """``speech_mp4_en`` as HLS: the ``index.m3u8`` path; segments lie beside it."""
    return make_hls_rendition(speech_mp4_en.path, media_cache_dir / "hls")


@pytest.fixture(scope="session")
def hls_split_rendition(media_cache_dir: Path, speech_mp4_en: SpeechSample) -> Path:
    """``speech_mp4_en`` as HLS with separate video and audio: the ``master.m3u8`` path."""
    return make_hls_split_rendition(speech_mp4_en.path, media_cache_dir / "hls-split")


@pytest.fixture(scope="session")
def big_video(media_cache_dir: Path) -> Callable[[float], Path]:
    """A factory: ``big_video(size_mb)`` → a path, made once per size per session."""
    seed = media_cache_dir / "big-video-seed.mp4"

    def make(size_mb: float) -> Path:
        dest = media_cache_dir / f"big-{size_mb:g}mb.mp4"
        if not dest.exists():
            make_big_video(dest, size_mb, seed=seed)
        return dest

    return make


@pytest.fixture(scope="session")
def russian_speech_wav(media_cache_dir: Path) -> Callable[..., SpeechSample]:
    """A factory: ``russian_speech_wav(sentences=RUSSIAN_SENTENCES)`` → a ``SpeechSample``."""
    made: dict[tuple[str, ...], SpeechSample] = {}

    def make(sentences: Sequence[str] = RUSSIAN_SENTENCES) -> SpeechSample:
        key = tuple(sentences)
        if key not in made:
            dest = media_cache_dir / f"speech-ru-{len(made)}.wav"
            make_russian_speech_wav(dest, key)
            made[key] = SpeechSample(dest, wav_duration(dest), key, "ru")
        return made[key]

    return make


@pytest.fixture(scope="session")
def placed_speech(media_cache_dir: Path) -> Callable[[str, Sequence[str]], PlacedSpeech]:
    """A factory: ``placed_speech(language, sentences)`` → a ``PlacedSpeech`` (cached)."""
    made: dict[tuple[str, tuple[str, ...]], PlacedSpeech] = {}

    def make(language: str, sentences: Sequence[str]) -> PlacedSpeech:
        key = (language, tuple(sentences))
        if key not in made:
            made[key] = make_placed_speech(
                media_cache_dir / f"placed-{language}-{len(made)}", language, sentences
            )
        return made[key]

    return make


@pytest.fixture(scope="session")
def silence_mp4(media_cache_dir: Path) -> Path:
    """30 s of silence with a test pattern."""
    return make_silence_mp4(media_cache_dir / "silence-30s.mp4")
