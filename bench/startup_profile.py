"""Where a command's start-up time goes: ``python -X importtime`` by package, and ``cProfile``
of one whole run (imports against the command's own work).

Both run the ``osint-archive`` entry point exactly as its console script does, in a child
process, so the benchmark's own imports do not hide any. Figures from one run each: they
explain a wall-clock median measured elsewhere, they are not a measurement of it (the
profiler slows the run down; importtime a little).
"""

from __future__ import annotations

import pstats
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_PACKAGES = frozenset(
    {"osint_archive", "collectors", "archive", "index", "transcription", "web"}
)
ENTRY = "import sys; from osint_archive.cli import main; sys.argv[0] = 'osint-archive'; main()"
IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$")
# Where start-up time commonly goes, as cProfile names it: (file ending, function). Their
# cumulative times overlap (a regular expression compiled during an import counts in both).
HOT_SPOTS = {
    "event loop (asyncio.run: the command's own work)": ("asyncio/runners.py", "run"),
    "waiting on sockets (epoll)": ("~", "<method 'poll' of 'select.epoll' objects>"),
    "regular expressions compiled": ("re/__init__.py", "_compile"),
    "pydantic models built": ("pydantic/_internal/_model_construction.py", "__new__"),
    "dataclasses built": ("dataclasses.py", "_process_class"),
    "bytecode unmarshalled": ("~", "<built-in method marshal.loads>"),
    "CA certificates loaded (SSL context)": (
        "~",
        "<method 'set_default_verify_paths' of '_ssl._SSLContext' objects>",
    ),
}


@dataclass(frozen=True)
class ImportLine:
    """One module in ``-X importtime`` output (microseconds), with the module importing it."""

    module: str
    self_us: int
    cumulative_us: int
    level: int
    parent: str | None = None

    @property
    def package(self) -> str:
        return self.module.split(".", 1)[0]


def parse_importtime(text: str) -> list[ImportLine]:
    """The modules of an ``-X importtime`` log, each with its importer.

    The log lists a module after everything it imported (post-order, nesting shown by
    indentation), so read backwards the importer of a line is the nearest line above it on
    the stack with less indentation."""
    parsed = []
    for line in text.splitlines():
        match = IMPORT_LINE.match(line)
        if match:
            self_us, cumulative_us, indent, module = match.groups()
            parsed.append((module, int(self_us), int(cumulative_us), len(indent) // 2))
    lines: list[ImportLine] = []
    stack: list[tuple[int, str]] = []
    for module, self_us, cumulative_us, level in reversed(parsed):
        while stack and stack[-1][0] >= level:
            stack.pop()
        parent = stack[-1][1] if stack else None
        lines.append(ImportLine(module, self_us, cumulative_us, level, parent))
        stack.append((level, module))
    lines.reverse()
    return lines


def import_breakdown(lines: list[ImportLine], top: int = 12) -> dict[str, Any]:
    """Import time two ways: what each third-party package cost where project code imported
    it (cumulative: the package and everything it pulled in first), and self time summed by
    top-level package (those parts add up to the total)."""
    by_module = {line.module: line for line in lines}
    per_package: Counter[str] = Counter()
    for line in lines:
        per_package[line.package] += line.self_us
    # An import statement of project code that loaded a third-party package: its cost.
    entered: Counter[str] = Counter()
    importers: dict[str, set[str]] = {}
    for line in lines:
        parent = by_module.get(line.parent) if line.parent else None
        parent_package = parent.package if parent else None
        if line.package in PROJECT_PACKAGES or parent_package == line.package:
            continue
        if parent_package is None or parent_package in PROJECT_PACKAGES:
            entered[line.package] += line.cumulative_us
            importers.setdefault(line.package, set()).add(line.parent or "(entry point)")
    total = sum(per_package.values())
    project = sum(us for package, us in per_package.items() if package in PROJECT_PACKAGES)
    return {
        "total_ms": round(total / 1000, 1),
        "modules": len(lines),
        "project_modules_self_ms": round(project / 1000, 1),
        "imported_by_project": [
            {
                "package": package,
                "cumulative_ms": round(us / 1000, 1),
                "imported_by": sorted(importers[package])[:4],
            }
            for package, us in entered.most_common(top)
        ],
        "self_by_package": [
            {"package": package, "self_ms": round(us / 1000, 1)}
            for package, us in per_package.most_common(top)
        ],
    }


def run_importtime(
    python: Path, args: list[str], env: dict[str, str], cwd: Path, log: Path, timeout: float
) -> tuple[int, str, list[ImportLine]]:
    """Run ``osint-archive ARGS`` under ``-X importtime``: exit status, stdout, modules."""
    command = [str(python), "-X", "importtime", "-c", ENTRY, *args]
    with log.open("wb") as stderr:
        done = subprocess.run(
            command, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=cwd, timeout=timeout
        )
    text = log.read_text(encoding="utf-8", errors="replace")
    return done.returncode, done.stdout.decode("utf-8", "replace"), parse_importtime(text)


def run_cprofile(
    python: Path, args: list[str], env: dict[str, str], cwd: Path, out: Path, timeout: float
) -> tuple[int, str]:
    """Run ``osint-archive ARGS`` under cProfile, the statistics written to ``out``."""
    script = out.with_suffix(".entry.py")  # cProfile runs a script or a module, not -c
    script.write_text(ENTRY + "\n", encoding="utf-8")
    command = [str(python), "-m", "cProfile", "-o", str(out), str(script), *args]
    done = subprocess.run(command, capture_output=True, env=env, cwd=cwd, timeout=timeout)
    return done.returncode, done.stdout.decode("utf-8", "replace")


def profile_breakdown(stats_file: Path, top: int = 10) -> dict[str, Any]:
    """From one cProfile run: total, time spent importing, and the project functions that
    took longest once the imports were done (cumulative seconds, under the profiler)."""
    stats = pstats.Stats(str(stats_file))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max((entry[3] for entry in raw.values()), default=0.0)
    importing = sum(
        entry[3]
        for (filename, _line, name), entry in raw.items()
        if name == "_find_and_load" and "importlib._bootstrap" in filename
    )
    project_root = str(Path(__file__).resolve().parent.parent)
    functions = []
    for (filename, line, name), entry in raw.items():
        if not filename.startswith(project_root) or name == "<module>":
            continue
        relative = filename[len(project_root) + 1 :]
        if relative.split("/", 1)[0] not in PROJECT_PACKAGES:
            continue
        functions.append((entry[3], f"{relative}:{line}({name})", entry[1]))
    functions.sort(reverse=True)
    hot_spots = {
        label: round(
            max(
                (e[3] for (f, _l, n), e in raw.items() if f.endswith(suffix) and n == name),
                default=0.0,
            ),
            3,
        )
        for label, (suffix, name) in HOT_SPOTS.items()
    }
    return {
        "total_s": round(total, 3),
        "importing_s": round(importing, 3),
        "hot_spots_s": hot_spots,
        "note": "one run under cProfile (slower than without it); cumulative seconds, which "
        "overlap",
        "project_functions": [
            {"function": where, "cumulative_s": round(seconds, 3), "calls": calls}
            for seconds, where, calls in functions[:top]
        ],
    }


def python_of(cli: Path) -> Path:
    """The interpreter the ``osint-archive`` script runs with (its venv's), else ours."""
    candidate = cli.with_name("python")
    return candidate if candidate.exists() else Path(sys.executable)
