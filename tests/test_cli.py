"""The ``osint-archive`` command line as operators' scripts use it: exit codes and messages."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from osint_archive.demo_site import DemoSite
from tests.cli_runs import run_cli as cli
from tests.cli_runs import search_json, unused_port

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
# Searched as literal words (exit 0), whatever FTS5, SQL or Lucene would make of them.
HOSTILE_QUERIES = [
    "\"'; DROP TABLE documents; --",
    "a AND (b",
    "NEAR(",
    '"unbalanced',
    "title:задержали",
    "задержали)",
    "' OR 1=1 --",
    '{"query": {"match_all": {}}}',
    "C:\\Windows\\System32",
    "задержали\x07\x1b[31m",
    "<script>alert(1)</script>",
]
# Refused with a message that says why (exit 2), never a traceback.
REFUSED_QUERIES = {
    "": "the query is empty",
    "   ": "the query is empty",
    "* OR ^ - +": "has no words to search for",
    "\\": "has no words to search for",
    "NOT задержали": "NOT needs something to keep",
    "слово " * 70: "more than 64 words",
    "я" * 1001: "the limit is 1000",
    "(" * 400 + "задержали" + ")" * 400: "nests parentheses more than 32 deep",
}
# Filter values no source, language or tag can have (argv cannot carry NUL itself).
REFUSED_FILTERS = [
    ("--lang", "ru\x01", "the lang filter contains a control character (U+0001)"),
    ("--source", "demo\x1b[2J", "the source filter contains a control character (U+001B)"),
    ("--tag", "x\x9by", "the tag filter contains a control character (U+009B)"),
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
        assert json.loads(line)["kind"] in ("page", "transcript")


@pytest.mark.parametrize("query", list(REFUSED_QUERIES))
def test_search_refuses_what_cannot_be_searched_with_a_reason(
    indexed_home: Path, query: str
) -> None:
    done = cli(indexed_home, "search", query, "--json")
    assert done.returncode == 2
    assert REFUSED_QUERIES[query] in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(("option", "value", "message"), REFUSED_FILTERS)
def test_search_refuses_control_characters_in_filters(
    indexed_home: Path, option: str, value: str, message: str
) -> None:
    done = cli(indexed_home, "search", "задержали", option, value, "--json")
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_search_notes_what_it_forgave(indexed_home: Path) -> None:
    done = cli(indexed_home, "search", '"задержали участников', "--json")
    assert done.returncode == 0, done.stderr
    assert "note: an unclosed quote was closed at the end of the query" in done.stderr
    hits = [json.loads(line) for line in done.stdout.splitlines()]
    assert hits[0]["url"].endswith("/ru-minsk-arrests.html")  # the article, then the front page
    assert all("<mark>задержали участников</mark>" in h["snippet"] for h in hits)


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


def test_reindex_from_the_archive_gives_the_same_results(
    indexed_home: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(indexed_home, home)
    queries = [
        ("задержание",),
        ("Мінск", "--lang", "be"),
        ("activist*",),
        ("суд", "--sort", "newest"),
    ]
    before = [search_json(home, *q) for q in queries]
    done = cli(home, "reindex")
    assert done.returncode == 0, done.stderr
    assert re.search(
        r"indexed \d+ documents \(\d+ pages.*\) in [\d.]+ s; the new index is live", done.stdout
    )
    assert [search_json(home, *q) for q in queries] == before
    assert all(before), "every query finds something"
    live = (home / "index" / "CURRENT").read_text().strip()
    assert sorted(p.name for p in (home / "index").glob("search*.sqlite")) == [live]


def test_an_index_from_an_earlier_version_asks_for_reindex(tmp_path: Path) -> None:
    old = tmp_path / "index" / "search.sqlite"
    old.parent.mkdir()
    with sqlite3.connect(old) as db:
        db.execute("CREATE TABLE documents (rowid INTEGER PRIMARY KEY, id TEXT)")
    done = cli(tmp_path, "search", "суд")
    assert done.returncode == 2
    assert "run `osint-archive reindex`" in done.stderr
    assert "Traceback" not in done.stderr
    assert cli(tmp_path, "reindex").returncode == 0
    done = cli(tmp_path, "search", "суд")
    assert done.returncode == 0, done.stderr
    assert not old.exists()


def test_search_pages_do_not_overlap(indexed_home: Path) -> None:
    first = search_json(indexed_home, "в OR у OR the", "--limit", "3")
    second = search_json(indexed_home, "в OR у OR the", "--limit", "3", "--page", "2")
    assert len(first) == 3 and second
    assert not {h["id"] for h in first} & {h["id"] for h in second}


def test_an_unreachable_elasticsearch_is_a_clear_error(tmp_path: Path) -> None:
    env = {
        "OSINT_ARCHIVE_INDEX": "elasticsearch",
        "OSINT_ARCHIVE_ES_URL": f"http://127.0.0.1:{unused_port()}",
    }
    done = cli(tmp_path, "search", "суд", env=env)
    assert done.returncode == 2
    assert "cannot use Elasticsearch at http://127.0.0.1:" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"OSINT_ARCHIVE_INDEX": "solr"},
            "OSINT_ARCHIVE_INDEX must be one of sqlite, elasticsearch",
        ),
        ({"OSINT_ARCHIVE_INDEX": "elasticsearch"}, "OSINT_ARCHIVE_ES_URL is not set"),
        (
            {
                "OSINT_ARCHIVE_INDEX": "elasticsearch",
                "OSINT_ARCHIVE_ES_URL": "http://es.example.org:9200",
                "OSINT_ARCHIVE_ES_USERNAME": "elastic",
                "OSINT_ARCHIVE_ES_PASSWORD": "s3cret-not-printed",
            },
            "credentials are set: they would travel in clear text",
        ),
    ],
)
def test_index_settings_errors_name_the_variable(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = cli(tmp_path, "search", "суд", env=env)
    assert done.returncode == 2
    assert message in done.stderr
    assert "s3cret-not-printed" not in done.stderr + done.stdout
