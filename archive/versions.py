"""Versions of the tools that produce artefacts, recorded in every manifest and WARC."""

from __future__ import annotations

import platform
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


def software_string() -> str:
    v = tool_versions()
    return f"osint-archive/{v['osint-archive']} (warcio/{v['warcio']}; aiohttp/{v['aiohttp']})"
