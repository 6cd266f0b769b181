"""The sources configuration: the shipped file, defaults, scope, and every kind of bad input
reported with its file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from osint_archive.sources import (
    ConfigProblem,
    Source,
    SourcesConfig,
    SourcesConfigError,
    UnknownSourceError,
    load_sources,
    select_sources,
)
from tests.cli_runs import run_cli

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "sources.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(path: Path) -> list[ConfigProblem]:
    with pytest.raises(SourcesConfigError) as caught:
        load_sources(path)
    assert caught.value.problems
    return caught.value.problems


def located(path: Path) -> list[tuple[int | None, str]]:
    return [(p.line, p.field) for p in problems(path)]


def web(**extra: object) -> Source:
    fields: dict[str, object] = {
        "id": "s",
        "kind": "web",
        "url": "https://Example.org/news/",
        "schedule": "@daily",
    }
    return Source.model_validate({**fields, **extra})


# --- the shipped configuration -----------------------------------------------------------------


def test_shipped_config_validates() -> None:
    config = load_sources(SHIPPED)
    ids = [s.id for s in config.sources]
    assert len(ids) == len(set(ids)) >= 6
    assert config.operator
    assert {s.kind for s in config.sources} == {"web", "telegram", "video"}
    telegram = next(s for s in config.sources if s.kind == "telegram")
    assert telegram.url == "https://t.me/s/viasna96"
    assert all(s.schedule for s in config.sources)
    assert all(s.in_scope(s.url) for s in config.sources if s.kind == "web")


# --- models ------------------------------------------------------------------------------------


def test_source_defaults_and_host() -> None:
    source = web()
    assert source.host == "example.org"
    assert (source.browser, source.max_depth, source.max_pages) == (False, 1, 50)
    assert (source.delay_seconds, source.concurrency, source.robots) == (1.0, 2, "obey")
    assert source.max_bytes == 50_000_000
    assert source.scope == source.exclude == source.tags == []


def test_schedule_presets_cron_and_none() -> None:
    assert web(schedule="*/15 * * * *").schedule == "*/15 * * * *"
    assert web(schedule="@continuous").schedule == "@continuous"
    assert web(schedule=None).schedule is None
    assert web(schedule="none").schedule is None


def test_in_scope_same_host_when_no_scope() -> None:
    source = web()
    assert source.in_scope("https://example.org/other/page")
    assert source.in_scope("http://EXAMPLE.org/")
    assert not source.in_scope("https://cdn.example.org/x.js")
    assert not source.in_scope("https://elsewhere.org/news/")
    assert not source.in_scope("mailto:press@example.org")
    assert not source.in_scope("javascript:void(0)")


def test_in_scope_with_scope_regexes_and_exclude() -> None:
    source = web(
        scope=[r"^https://example\.org/news/", r"^https://static\.example\.net/"],
        exclude=[r"\?print=", r"/login"],
    )
    assert source.in_scope("https://example.org/news/2024/1")
    assert source.in_scope("https://static.example.net/video.mp4")
    assert not source.in_scope("https://example.org/about")
    assert not source.in_scope("https://example.org/news/1?print=1")
    assert not source.in_scope("https://example.org/news/login")


def test_exclude_applies_without_scope() -> None:
    source = web(exclude=[r"\.pdf$"])
    assert source.in_scope("https://example.org/a.html")
    assert not source.in_scope("https://example.org/a.pdf")


def test_sources_config_model_applies_defaults_and_rejects_duplicates() -> None:
    entry = {"id": "a", "kind": "web", "url": "https://a.org", "schedule": "@daily"}
    config = SourcesConfig.model_validate({"defaults": {"concurrency": 1}, "sources": [entry]})
    assert config.sources[0].concurrency == 1
    with pytest.raises(ValueError, match="duplicate source ids: a"):
        SourcesConfig.model_validate({"sources": [entry, entry]})


def test_select_sources(tmp_path: Path) -> None:
    config = load_sources(SHIPPED)
    first, second = config.sources[0], config.sources[1]
    assert select_sources(config, []) == config.sources
    assert select_sources(config, [second.id, first.id, second.id]) == [second, first]
    with pytest.raises(UnknownSourceError, match="'no-such-source'"):
        select_sources(config, [first.id, "no-such-source"])


# --- the loader: good input --------------------------------------------------------------------


def test_defaults_apply_and_can_be_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        operator: Test Centre
        defaults:
          delay_seconds: 4
          concurrency: 1
          tags: [state]
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
          - id: b
            kind: telegram
            url: https://t.me/s/b
            schedule: "0 */2 * * *"
            delay_seconds: 0.5
            tags: []
        """,
    )
    config = load_sources(path)
    a, b = config.sources
    assert (a.delay_seconds, a.concurrency, a.tags) == (4.0, 1, ["state"])
    assert (b.delay_seconds, b.concurrency, b.tags) == (0.5, 1, [])
    assert config.operator == "Test Centre"
    assert config.defaults == {"delay_seconds": 4, "concurrency": 1, "tags": ["state"]}


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - &base {id: a, kind: web, url: "https://a.example/", schedule: "@daily"}
          - <<: *base
            id: b
        """,
    )
    assert [s.id for s in load_sources(path).sources] == ["a", "b"]


# --- the loader: bad input, each with file, line and field -------------------------------------


def test_missing_file_is_one_problem_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    (problem,) = problems(path)
    assert problem.file == str(path)
    assert problem.line is None
    assert "cannot read" in problem.message
    assert str(problem).startswith(f"{path}: cannot read")


def test_malformed_yaml_reports_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
           url: https://a.example/
        """,
    )
    (problem,) = problems(path)
    assert (problem.file, problem.line, problem.field) == (str(path), 4, "")
    assert problem.message.startswith("malformed YAML")


def _alias_chain(levels: int, depth: int) -> str:
    """Anchors each nesting the previous one ``depth`` deep: shallow as written, deep once
    the aliases are followed."""
    lines = [f"a0: &a0 {'[' * depth}1{']' * depth}"]
    lines += [f"a{i}: &a{i} {'[' * depth}*a{i - 1}{']' * depth}" for i in range(1, levels)]
    return "\n".join([*lines, f"sources: *a{levels - 1}", ""])


# Nesting that PyYAML would follow by recursion until a RecursionError.
DEEPLY_NESTED_YAML = [
    ("flow-sequences", "sources: " + "[" * 10_000 + "\n", 1),
    ("flow-mappings", "sources: " + "{a: " * 10_000 + "\n", 1),
    ("block-sequences", "sources:\n" + "".join("  " * i + "-\n" for i in range(1, 3000)), 65),
    ("aliases", _alias_chain(levels=300, depth=40), 1),
]


@pytest.mark.parametrize(
    ("text", "line"),
    [case[1:] for case in DEEPLY_NESTED_YAML],
    ids=[case[0] for case in DEEPLY_NESTED_YAML],
)
def test_deeply_nested_yaml_is_malformed_yaml_with_its_line(
    tmp_path: Path, text: str, line: int
) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    (problem,) = problems(path)
    assert (problem.file, problem.line, problem.field) == (str(path), line, "")
    assert problem.message == "malformed YAML: nested deeper than 64 levels"


def test_sources_validate_reports_deep_nesting_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources: " + "[" * 10_000 + "\n", encoding="utf-8")
    done = run_cli(tmp_path, "sources", "validate", "--config", str(path))
    assert done.returncode == 2
    assert f"{path}:1: malformed YAML: nested deeper than 64 levels" in done.stderr
    assert "Traceback" not in done.stderr


def test_unsafe_tags_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - !!python/object/apply:os.system ["true"]
          - id: !!python/name:os.system
        """,
    )
    (problem,) = problems(path)
    assert problem.line == 2
    assert "unsupported tag" in problem.message


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("", "", "empty"),
        ("- a\n- b\n", "", "top level must be a mapping"),
        ("operator: x\n", "sources", "missing"),
        ("sources: {a: 1}\n", "sources", "expected a list"),
    ],
)
def test_top_level_shape(tmp_path: Path, text: str, field: str, message: str) -> None:
    (problem,) = problems(write(tmp_path, text))
    assert (problem.line, problem.field) == (1, field)
    assert message in problem.message


def test_unknown_keys_at_every_level(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        operater: x
        defaults:
          delai_seconds: 2
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
            dealy_seconds: 3
        """,
    )
    found = problems(path)
    assert [(p.line, p.field) for p in found] == [
        (1, "operater"),
        (3, "defaults.delai_seconds"),
        (9, "sources[0].dealy_seconds"),
    ]
    assert "did you mean 'delay_seconds'?" in found[2].message


def test_wrong_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
            browser: "no"
            max_depth: 1.5
            tags: state
          - not a mapping
        """,
    )
    assert located(path) == [
        (6, "sources[0].browser"),
        (7, "sources[0].max_depth"),
        (8, "sources[0].tags"),
        (9, "sources[1]"),
    ]


def test_missing_required_keys_point_at_the_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
        """,
    )
    assert located(path) == [(2, "sources[0].url"), (2, "sources[0].schedule")]


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: fax
            url: https://a.example/
            schedule: "@daily"
        """,
    )
    (problem,) = problems(path)
    assert (problem.line, problem.field) == (3, "sources[0].kind")
    assert "'fax'" in problem.message


def test_bad_cron(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "61 * * * *"
        """,
    )
    (problem,) = problems(path)
    assert str(problem) == (
        f"{path}:5: sources[0].schedule: not a valid cron expression or preset: '61 * * * *'"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "http or https, not 'file'"),
        ("ftp://a.example/", "http or https, not 'ftp'"),
        ("javascript:alert(1)", "http or https, not 'javascript'"),
        ("a.example/news", "must start with http"),
        ("https:///news", "no host"),
    ],
)
def test_bad_url(tmp_path: Path, url: str, message: str) -> None:
    path = write(
        tmp_path,
        f"""
        sources:
          - id: a
            kind: web
            schedule: "@daily"
            url: "{url}"
        """,
    )
    (problem,) = problems(path)
    assert (problem.line, problem.field) == (5, "sources[0].url")
    assert message in problem.message


def test_duplicate_ids_name_the_second_and_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
          - id: b
            kind: web
            url: https://b.example/
            schedule: "@daily"
          - id: a
            kind: web
            url: https://a.example/other
            schedule: "@daily"
        """,
    )
    (problem,) = problems(path)
    assert (problem.line, problem.field) == (10, "sources[2].id")
    assert "first defined at line 2 (sources[0])" in problem.message


def test_duplicate_key_in_an_entry(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
            url: ftp://a.example/
            schedule: "@daily"
            url: https://a.example/
        """,
    )
    (problem,) = problems(path)
    assert (problem.line, problem.field) == (6, "sources[0].url")
    assert "first given at line 4" in problem.message


def test_invalid_regex_names_the_item(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
            scope:
              - '^https://a\\.example/'
              - '(unclosed'
            exclude: ['[z-a]']
        """,
    )
    assert located(path) == [(8, "sources[0].scope[1]"), (9, "sources[0].exclude[0]")]


def test_bad_default_is_reported_once_where_it_is_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        defaults:
          delay_seconds: -1
          id: shared
        sources:
          - id: a
            kind: web
            url: https://a.example/
            schedule: "@daily"
          - id: b
            kind: web
            url: https://b.example/
            schedule: "@daily"
          - id: c
            kind: web
            url: https://c.example/
            schedule: "@daily"
            delay_seconds: 2
        """,
    )
    assert located(path) == [(2, "defaults.delay_seconds"), (3, "defaults.id")]


def test_all_errors_in_all_entries_are_reported_together(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        operator: Test Centre
        sources:
          - id: Bad_ID
            kind: web
            url: https://a.example/
            schedule: "@daily"
            max_pages: 0
          - id: ok
            kind: telegram
            url: https://t.me/s/ok
            schedule: "@hourly"
          - id: c
            kind: video
            url: ftp://c.example/v.mp4
            schedule: "every day"
            concurrency: 100
            language: Russian
        """,
    )
    found = problems(path)
    assert [(p.line, p.field) for p in found] == [
        (3, "sources[0].id"),
        (7, "sources[0].max_pages"),
        (14, "sources[2].url"),
        (15, "sources[2].schedule"),
        (16, "sources[2].concurrency"),
        (17, "sources[2].language"),
    ]
    assert all(p.file == str(path) for p in found)
    assert str(found[0]).startswith(f"{path}:3: sources[0].id: ")


def test_kind_specific_mistakes_are_reported_with_their_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        sources:
          - id: channel
            kind: telegram
            url: https://t.me/
            schedule: "@hourly"
          - id: clip
            kind: video
            url: https://example.org/watch/1
            schedule: "@weekly"
            browser: true
          - id: ok-channel
            kind: telegram
            url: https://mirror.example/s/viasna96
            schedule: "@hourly"
          - id: one-post
            kind: telegram
            url: https://t.me/viasna96/1234
            schedule: "@once"
          - id: not-a-post
            kind: telegram
            url: https://t.me/viasna96/photo/1
            schedule: "@once"
        """,
    )
    messages = [str(p) for p in problems(path)]
    assert len(messages) == 3
    assert "sources[0]" in messages[0] and "https://t.me/s/<channel>" in messages[0]
    assert "sources[1]" in messages[1] and "browser: only web sources" in messages[1]
    assert "sources[4]" in messages[2] and "https://t.me/<channel>/<id>" in messages[2]
