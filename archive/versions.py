"""Versions of the tools that produce artefacts, recorded in every manifest and WARC."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import PackageNotFoundError, version


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


@cache
def tool_versions() -> dict[str, str]:
    """Software that touched a capture, by name."""
    names = ("osint-archive", "warcio", "aiohttp", "trafilatura", "selectolax")
    found = {name: package_version(name) for name in names}
    found["python"] = platform.python_version()
    return found


def _ffmpeg_suite_version(tool: str) -> str:
    """The version in the first line of ``<tool> -version`` ("unknown" when not installed)."""
    try:
        done = subprocess.run(
            [tool, "-version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = done.stdout.splitlines()[0] if done.stdout else ""
    return first.removeprefix(f"{tool} version ").split(" ")[0] or "unknown"


@cache
def ffprobe_version() -> str:
    """ffprobe's version, as media probing records it."""
    return _ffmpeg_suite_version("ffprobe")


@cache
def ffmpeg_version() -> str:
    """ffmpeg's version, as audio extraction records it."""
    return _ffmpeg_suite_version("ffmpeg")


@cache
def capture_tools(kind: str, browser: bool = False) -> dict[str, str]:
    """The tools recorded in a capture's manifest: the common ones, and those of its kind
    (looked up once per kind: package metadata lookups are slow, and every manifest asks)."""
    tools = dict(tool_versions())
    if kind == "video":
        tools["yt-dlp"] = package_version("yt-dlp")
    if kind in ("video", "telegram"):  # media are probed with ffprobe
        tools["ffprobe"] = ffprobe_version()
    if browser:
        tools["playwright"] = package_version("playwright")
    return {name: v for name, v in tools.items() if v}


def software_string() -> str:
    v = tool_versions()
    return f"osint-archive/{v['osint-archive']} (warcio/{v['warcio']}; aiohttp/{v['aiohttp']})"
