"""The ``osint-archive`` command line as operators' scripts use it: exit codes and messages."""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from osint_archive.demo_site import DemoSite
from tests.cli_runs import run_cli as cli

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
HOSTILE_QUERIES = [
    "\"'; DROP TABLE documents; --",
    "a AND (b",
    "NEAR(",
    '"unbalanced',
    "title:задержали",
    "* OR ^ - +",
    "задержали)",
    "",
    "   ",
]


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose index holds the demo site's pages."""
    home = tmp_path_factory.mktemp("cli-home")
    with DemoSite() as site:
        config = home / "sources.yaml"
        config.write_text(
            f"sources:\n  - {{id: demo, kind: web, url: '{site.base_url}', schedule: null,"
            " max_depth: 2, delay_seconds: 0}\n",
            encoding="utf-8",
        )
        done = cli(home, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    return home


def test_version(tmp_path: Path) -> None:
    done = cli(tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"osint-archive, version {version('osint-archive')}"


def test_the_shipped_sources_file_validates(tmp_path: Path) -> None:
    done = cli(tmp_path, "sources", "validate", "--config", "config/sources.yaml")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("config/sources.yaml: ")
    assert done.stdout.rstrip().endswith("sources OK")


def test_the_demo_sources_file_validates(tmp_path: Path) -> None:
    done = cli(tmp_path, "sources", "validate", "--config", "config/demo.yaml")
    assert done.returncode == 0, done.stderr


def test_a_broken_sources_file_is_reported_by_file_line_and_field(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        """sources:
  - id: good-one
    kind: web
    url: https://example.org/
    schedule: "@daily"
  - id: bad-one
    kind: web
    url: https://example.org/news/
    schedule: "@daily"
    max_depth: "two"
    max_pagse: 10
""",
        encoding="utf-8",
    )
    done = cli(tmp_path, "sources", "validate", "--config", str(broken))
    assert done.returncode == 2
    assert f"{broken}:10: sources[1].max_depth: " in done.stderr
    assert f"{broken}:11: sources[1].max_pagse: unknown key; did you mean 'max_pages'?" in (
        done.stderr
    )
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_missing_sources_file_exits_2(tmp_path: Path) -> None:
    done = cli(tmp_path, "sources", "validate", "--config", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "nope.yaml" in done.stderr
    assert "cannot read the file" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_an_unknown_source_exits_2(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--config", "config/sources.yaml", "--source", "unknown-source-id")
    assert done.returncode == 2
    assert "unknown source id: 'unknown-source-id'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "archive" / "captures").exists()


def test_run_suggests_the_source_meant(tmp_path: Path) -> None:
    done = cli(tmp_path, "run", "--config", "config/sources.yaml", "--source", "president-new")
    assert done.returncode == 2
    assert "did you mean 'president-news'?" in done.stderr


def test_run_with_a_broken_config_exits_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources:\n  - id: x\n    kind: ftp\n", encoding="utf-8")
    done = cli(tmp_path, "run", "--config", str(broken))
    assert done.returncode == 2
    assert f"{broken}:3: sources[0].kind: " in done.stderr


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_search_treats_query_syntax_as_words(indexed_home: Path, query: str) -> None:
    done = cli(indexed_home, "search", query, "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for line in done.stdout.splitlines():
        assert json.loads(line)["kind"] == "page"


def test_injected_sql_leaves_the_index_intact(indexed_home: Path) -> None:
    assert cli(indexed_home, "search", HOSTILE_QUERIES[0]).returncode == 0
    done = cli(indexed_home, "search", "задержали", "--json")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) >= 3


def test_search_finds_words_inside_hostile_text(indexed_home: Path) -> None:
    done = cli(indexed_home, "search", "задержали)", "--json")
    hits = [json.loads(line) for line in done.stdout.splitlines()]
    assert any(h["url"].endswith("ru-minsk-arrests.html") for h in hits)


def test_search_on_an_empty_archive(tmp_path: Path) -> None:
    done = cli(tmp_path, "search", "anything")
    assert done.returncode == 0
    assert "no results" in done.stderr
    assert cli(tmp_path, "search", "anything", "--json").stdout == ""


def test_search_rejects_a_bad_date_with_usage_exit(indexed_home: Path) -> None:
    done = cli(indexed_home, "search", "x", "--since", "yesterday")
    assert done.returncode == 2
    assert "not an ISO date" in done.stderr
    assert "Traceback" not in done.stderr


def test_until_a_date_includes_that_whole_day() -> None:
    from osint_archive.cli_common import parse_date as _date

    end = _date("2026-01-31", end_of_day=True)
    assert end is not None and (end.hour, end.minute, end.second) == (23, 59, 59)
    start = _date("2026-01-31")
    assert start is not None and start.hour == 0
