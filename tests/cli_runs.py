"""Running the installed ``osint-archive`` command in tests, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent


def run_cli(
    home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``osint-archive ARGS`` with ``home`` as the data directory and loopback targets allowed;
    the caller's own OSINT_ARCHIVE_* settings are left out."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
    environ.update(OSINT_ARCHIVE_HOME=str(home), OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS="1")
    environ.update(env or {})
    return subprocess.run(
        [str(BIN / "osint-archive"), *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def write_web_source(path: Path, url: str, source_id: str = "demo-news") -> Path:
    """A sources file with one web source crawling ``url`` two links deep, without pauses."""
    path.write_text(
        f"sources:\n  - id: {source_id}\n    kind: web\n    url: {url}\n    schedule: null\n"
        "    max_depth: 2\n    delay_seconds: 0\n",
        encoding="utf-8",
    )
    return path
