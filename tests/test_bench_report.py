"""``bench.report`` regenerates each docs page's marked table and leaves the rest alone."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import main

RESULT = {"title": "Capture", "rows": [{"metric": "p50", "value": "0.9 s", "target": "≤ 2×"}]}


def test_docs_page_shows_its_result_between_its_markers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "capture.json").write_text(json.dumps(RESULT), encoding="utf-8")
    docs = tmp_path / "docs"
    docs.mkdir()
    page = docs / "capturing.md"
    page.write_text(
        "## Performance\n\nProse.\n\n<!-- bench:capture:start -->\nold\n"
        "<!-- bench:capture:end -->\n\n## After\n",
        encoding="utf-8",
    )
    other = docs / "other.md"
    other.write_text("# No markers\n", encoding="utf-8")
    readme = tmp_path / "README.md"
    readme.write_text("<!-- bench:start -->\n<!-- bench:end -->\n", encoding="utf-8")

    assert main(["--results", str(results), "--readme", str(readme), "--docs", str(docs)]) == 0

    text = page.read_text(encoding="utf-8")
    assert "old" not in text
    assert text.startswith("## Performance\n\nProse.\n\n<!-- bench:capture:start -->\n### Capture")
    assert "| p50 | 0.9 s |  | ≤ 2× |" in text
    assert text.endswith("<!-- bench:capture:end -->\n\n## After\n")
    assert other.read_text(encoding="utf-8") == "# No markers\n"
    # The README names the result and links the page instead of repeating the table.
    front = readme.read_text(encoding="utf-8")
    assert "### Capture" in front and "[docs/capturing.md](docs/capturing.md)" in front
    assert "| p50 |" not in front
