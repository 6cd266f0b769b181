"""Render the latest benchmark figures into README.md and the docs pages that show them.

    python -m bench.report [--results bench/results] [--readme README.md] [--docs docs]

Every ``bench/results/*.json`` holds one benchmark's latest figures in a shared shape::

    {"title": "...", "generated_at": "...", "machine": {...}, "notes": "...",
     "rows": [{"metric": "...", "value": "...", "reference": "...", "target": "...",
               "met": true | false | null}]}

(``generated_at``, ``machine``, ``notes`` and ``met`` are optional; other keys are ignored.)
Tables follow the pipeline's order (``ORDER``: collection, preservation, web UI); results not
named there come after them, in name order. The Markdown tables replace the block between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` in the README. Without a README or without
the markers, the tables are printed and nothing is written; without results, nothing is done.
A page under ``docs/`` shows one benchmark's table between ``<!-- bench:NAME:start -->`` and
``<!-- bench:NAME:end -->`` (NAME: the result file's stem), regenerated the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
MET_MARK = {True: "✅", False: "❌", None: ""}
# Result file stems in the README's order: collectors first (web, browser, Telegram, video)
# and on-demand capture through them, then speech recognition, language identification and
# search, then preservation (fixity audit, export), and last the web UI that serves both
# (search and capture pages under load).
ORDER = (
    "crawl",
    "browser",
    "telegram",
    "media",
    "capture",
    "transcription",
    "language",
    "search",
    "audit",
    "export",
    "web",
)


def cell(value: Any) -> str:
    """One table cell: floats rounded sensibly, pipes escaped, empty for missing values."""
    if value is None:
        return ""
    if isinstance(value, float):
        value = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_result(result: dict[str, Any]) -> str:
    """One benchmark's heading, provenance line and table."""
    rows = result.get("rows", [])
    with_met = any("met" in row for row in rows)
    header = ["metric", "value", "reference", "target"] + (["met"] if with_met else [])
    lines = [f"### {result.get('title', 'Benchmark')}", ""]
    provenance = []
    if "generated_at" in result:
        provenance.append(f"measured {result['generated_at']}")
    machine = result.get("machine") or {}
    provenance.extend(f"{key}: {cell(value)}" for key, value in machine.items())
    if provenance:
        lines += ["_" + "; ".join(provenance) + "_", ""]
    if result.get("notes"):
        lines += [cell(result["notes"]), ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in rows:
        cells = [cell(row.get(key)) for key in ("metric", "value", "reference", "target")]
        if with_met:
            cells.append(MET_MARK.get(row.get("met"), ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def result_order(path: Path) -> tuple[int, str]:
    """Where a result file's table goes: its place in ``ORDER``, unknown ones last by name."""
    return (ORDER.index(path.stem) if path.stem in ORDER else len(ORDER), path.name)


def load_results(results_dir: Path) -> dict[str, dict[str, Any]]:
    """Every result file by stem (the NAME of a docs page's markers), in ``result_order``;
    files that are not a results object are skipped."""
    results = {}
    for path in sorted(results_dir.glob("*.json"), key=result_order):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            print(f"skipping {path}: {error}", file=sys.stderr)
            continue
        if isinstance(data, dict) and isinstance(data.get("rows"), list):
            results[path.stem] = data
        else:
            print(f"skipping {path}: no 'rows' list", file=sys.stderr)
    return results


def replace_block(
    readme_text: str, block: str, start_marker: str = START, end_marker: str = END
) -> str | None:
    """The text with the marked block replaced, or None when the markers are missing."""
    start = readme_text.find(start_marker)
    end = readme_text.find(end_marker, start + len(start_marker)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return readme_text[: start + len(start_marker)] + "\n" + block + readme_text[end:]


def update_docs(docs_dir: Path, results: dict[str, dict[str, Any]]) -> list[Path]:
    """Regenerate every ``<!-- bench:NAME:start/end -->`` block in ``docs_dir/*.md``; the
    pages changed."""
    changed = []
    for page in sorted(docs_dir.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        updated = text
        for name, result in results.items():
            markers = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
            updated = replace_block(updated, render_result(result), *markers) or updated
        if updated != text:
            page.write_text(updated, encoding="utf-8")
            changed.append(page)
    return changed


def pages_showing(docs_dir: Path, names: Iterable[str]) -> dict[str, Path]:
    """The docs page that shows each named result between its markers (the first found)."""
    pages: dict[str, Path] = {}
    for page in sorted(docs_dir.glob("*.md")) if docs_dir.is_dir() else []:
        text = page.read_text(encoding="utf-8")
        for name in names:
            if name not in pages and f"<!-- bench:{name}:start -->" in text:
                pages[name] = page
    return pages


def readme_entry(result: dict[str, Any], page: Path | None, readme: Path) -> str:
    """The README's part of one result: its table, or, when a docs page shows the table (the
    manual lives in docs/; the README stays a front door), its heading and a link there."""
    if page is None:
        return render_result(result)
    link = page.relative_to(readme.parent) if page.is_relative_to(readme.parent) else page
    return (
        f"### {result.get('title', 'Benchmark')}\n\n"
        f"Measured {result.get('generated_at', '')}: the table is in [{link}]({link}).\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__)
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--docs", type=Path, default=REPO / "docs")
    args = parser.parse_args(argv)

    named = load_results(args.results)
    results = list(named.values())
    if not results:
        print(f"no results in {args.results}: run a benchmark first (README left as it is)")
        return 0
    for page in update_docs(args.docs, named) if args.docs.is_dir() else []:
        print(f"updated {page}")
    shown = pages_showing(args.docs, named)
    block = "\n".join(readme_entry(r, shown.get(n), args.readme) for n, r in named.items())
    readme_text = args.readme.read_text(encoding="utf-8") if args.readme.exists() else None
    updated = replace_block(readme_text, block) if readme_text is not None else None
    if updated is None:
        print(block, end="")
        print(f"({args.readme} missing or without {START}/{END} markers: not written)")
        return 0
    if updated != readme_text:
        args.readme.write_text(updated, encoding="utf-8")
    print(f"updated {args.readme} with {len(results)} benchmark table(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
