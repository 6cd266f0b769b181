"""Sources configuration (``config/sources.yaml``): typed models and a loader that reports
every problem with its file, line and field.

The loader composes the YAML into nodes (safe tags only) so that each value keeps its line,
validates each source entry on its own, and raises one ``SourcesConfigError`` listing all the
problems found, so an analyst fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

__all__ = [
    "SCHEDULE_PRESETS",
    "ConfigProblem",
    "Source",
    "SourcesConfig",
    "SourcesConfigError",
    "UnknownSourceError",
    "check_http_url",
    "load_sources",
    "select_sources",
]

SCHEDULE_PRESETS = frozenset(
    {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly", "@continuous"}
)
# Keys that identify one source; a shared default for them is always a mistake.
_NOT_DEFAULTABLE = frozenset({"id", "url"})
# Alias expansion is bounded so a hostile or broken file cannot exhaust memory.
_MAX_NODES = 1_000_000
# PyYAML composes nested collections by recursion, so a file of 10,000 "[" would otherwise end
# in a RecursionError; no real configuration nests more than a few levels.
MAX_YAML_DEPTH = 64

_MAP_TAG, _SEQ_TAG = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

FieldPath = tuple[str | int, ...]
# /s/<channel> (the preview) or /<channel>, as t.me names public channels; /<channel>/<id>
# names one post (captured alone).
_TELEGRAM_CHANNEL_PATH = re.compile(r"^/(?:s/)?[A-Za-z0-9_]+(?:/[0-9]{1,12})?/?$")


def check_http_url(url: str) -> str:
    """``url`` itself when it is an absolute http(s) URL with a host; ValueError saying why not."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError(f"URL contains whitespace or control characters: {url!r}")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc}): {url!r}") from None
    if not parts.scheme:
        raise ValueError(f"URL must start with http:// or https://: {url!r}")
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"URL scheme must be http or https, not {parts.scheme!r}: {url!r}")
    if not host:
        raise ValueError(f"URL has no host: {url!r}")
    return url


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regular expression ({exc}): {pattern!r}") from None
    return pattern


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
UrlPattern = Annotated[str, AfterValidator(_check_regex)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class Source(BaseModel):
    """One watched source: what to fetch, when, and how politely."""

    # strict: a YAML typo such as `browser: "no"` must fail, not be coerced.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: str = Field(pattern=r"^[a-z0-9-]+$", min_length=1, max_length=64)
    kind: Literal["web", "telegram", "video"]
    url: HttpUrl
    schedule: str | None = Field(description="cron expression, Airflow preset, or null (manual)")
    browser: bool = False
    max_depth: int = Field(1, ge=0, le=10)
    max_pages: int = Field(50, ge=1, le=100_000)
    delay_seconds: float = Field(1.0, ge=0, allow_inf_nan=False)
    concurrency: int = Field(2, ge=1, le=32)
    scope: list[UrlPattern] = []
    exclude: list[UrlPattern] = []
    robots: Literal["obey", "ignore"] = "obey"
    max_bytes: int = Field(50_000_000, ge=1)
    max_seconds: Seconds = 120
    max_run_seconds: Seconds = 3600
    timeout_seconds: Seconds = 30
    user_agent: str | None = None
    # Media (kind video, and media found on pages and posts), fetched with yt-dlp's help.
    media: bool = True  # download the photos and videos of posts and pages
    max_video_height: int = Field(720, ge=144, le=4320)
    max_media_bytes: int = Field(2_000_000_000, ge=1)
    max_media_seconds: Seconds = 6 * 3600
    video_format: str | None = Field(None, description="yt-dlp format selector; overrides height")
    subtitles: bool = True
    # Browser capture (web sources with browser: true).
    page_seconds: Seconds = 60
    scroll_steps: int = Field(20, ge=0, le=1000)
    # ISO 639-1: the language of the pages and of the speech in the media (forces detection)
    language: str | None = Field(None, pattern=r"^[a-z]{2}$")
    transcribe: bool = True  # run speech recognition on the media this source captures
    tags: list[str] = []
    description: str = ""
    # Who answers for the source: the owner of its Airflow DAG.
    owner: str = Field("analysts", min_length=1, max_length=64)

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() == "none":
            return None
        value = value.strip()
        if value in SCHEDULE_PRESETS:
            return value
        # Airflow's cron timetable takes five fields; croniter alone would also accept six.
        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression or preset: {value!r}")
        return value

    @model_validator(mode="after")
    def _check_kind_options(self) -> Source:
        if self.kind == "telegram" and not _TELEGRAM_CHANNEL_PATH.match(urlsplit(self.url).path):
            raise ValueError(
                "url: a telegram source names a public channel, e.g. https://t.me/s/<channel>, "
                f"or one post, https://t.me/<channel>/<id>; got {self.url!r}"
            )
        if self.browser and self.kind != "web":
            raise ValueError(f"browser: only web sources are rendered, not {self.kind} sources")
        return self

    @property
    def host(self) -> str:
        """The source URL's host, lowercased."""
        return (urlsplit(self.url).hostname or "").lower()

    @cached_property
    def _scope_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.scope)

    @cached_property
    def _exclude_res(self) -> tuple[re.Pattern[str], ...]:
        return tuple(re.compile(p) for p in self.exclude)

    def in_scope(self, url: str) -> bool:
        """Whether a discovered URL may be fetched for this source.

        With no ``scope``, any http(s) URL on the source URL's host; otherwise any URL that a
        ``scope`` pattern finds a match in. Never a URL that an ``exclude`` pattern matches.
        """
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return False
        if parts.scheme.lower() not in ("http", "https") or not host:
            return False
        if any(p.search(url) for p in self._exclude_res):
            return False
        if self.scope:
            return any(p.search(url) for p in self._scope_res)
        return host == self.host


class SourcesConfig(BaseModel):
    """The whole file: the sources, shared defaults, and who operates the archive."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sources: list[Source]
    defaults: dict[str, Any] = {}
    operator: str = ""

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        # So that `model_validate(raw_dict)` means what the file means (the loader adds lines).
        if isinstance(data, dict) and isinstance(data.get("defaults"), dict):
            defaults, entries = data["defaults"], data.get("sources")
            if isinstance(entries, list):
                merged = [{**defaults, **e} if isinstance(e, dict) else e for e in entries]
                data = {**data, "sources": merged}
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> SourcesConfig:
        ids = [s.id for s in self.sources]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate source ids: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file, located as precisely as the file allows."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class SourcesConfigError(Exception):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class UnknownSourceError(LookupError):
    """A requested source id is not in the configuration."""


class _YamlShapeError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _field_name(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _DepthBoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses collections nested deeper than ``MAX_YAML_DEPTH``."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Located:
    """Plain data built from YAML nodes, with the line (1-based) of every field path."""

    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.lines: dict[FieldPath, int] = {}
        self.duplicates: list[tuple[FieldPath, int, int]] = []  # path, first line, second line
        self._visited = 0
        self._active: set[int] = set()

    def line(self, path: FieldPath) -> int | None:
        """The line of ``path``, or of its nearest located parent (e.g. for a missing key)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def build(self, node: yaml.Node, path: FieldPath) -> Any:
        self._visited += 1
        if self._visited > _MAX_NODES:
            raise _YamlShapeError(node.start_mark.line + 1, "too many nodes after alias expansion")
        if id(node) in self._active:
            raise _YamlShapeError(node.start_mark.line + 1, "recursive alias")
        if len(path) > MAX_YAML_DEPTH:  # aliases can nest what the composer saw as shallow
            raise _YamlShapeError(
                node.start_mark.line + 1, f"nested deeper than {MAX_YAML_DEPTH} levels"
            )
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)  # rejects unknown tags
        if node.tag not in (_MAP_TAG, _SEQ_TAG):
            # Collections are built here, not by SafeLoader, so its tag check is repeated.
            raise _YamlShapeError(node.start_mark.line + 1, f"unsupported tag {node.tag!r}")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._build_mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _build_mapping(self, node: yaml.Node, path: FieldPath) -> dict[Any, Any]:
        assert isinstance(node, yaml.MappingNode)
        explicit = {id(k) for k, _ in node.value if k.tag != _MERGE_TAG}
        self.loader.flatten_mapping(node)  # resolves `<<:` merge keys like SafeLoader does
        out: dict[Any, Any] = {}
        written: dict[str, int] = {}  # keys written in this mapping itself, not merged in
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _YamlShapeError(key_line, "mapping keys must be plain scalars")
            key = self.loader.construct_object(key_node, deep=True)
            # Field paths hold strings; a numeric or boolean key is reported as written.
            key = key if isinstance(key, str) else str(key_node.value)
            # A key may override a merged one; written twice it is a mistake (the last would win).
            if id(key_node) in explicit:
                if key in written:
                    self.duplicates.append(((*path, key), written[key], key_line))
                written[key] = key_line
            self.lines[(*path, key)] = key_line
            out[key] = self.build(value_node, (*path, key))
        return out


def _unknown_key(key: str) -> str:
    close = difflib.get_close_matches(key, Source.model_fields, n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")


def _error_message(error: ErrorDetails, field: str) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return _unknown_key(field)
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind == "missing":
        return "required key is missing"
    shown = repr(error["input"])
    return f"{msg[:1].lower()}{msg[1:]}, got {shown[:80]}"


class _Report:
    def __init__(self, file: str) -> None:
        self.file = file
        self.located: _Located | None = None
        self.problems: list[ConfigProblem] = []

    def line(self, path: FieldPath) -> int | None:
        return self.located.line(path) if self.located is not None else None

    def add(self, path: FieldPath, message: str, line: int | None = None) -> None:
        if line is None:
            line = self.line(path)
        problem = ConfigProblem(self.file, line, _field_name(path), message)
        if problem not in self.problems:  # a bad default would otherwise repeat per source
            self.problems.append(problem)

    def error(self) -> SourcesConfigError:
        # File order reads best; problems without a line (file-level) come first.
        return SourcesConfigError(sorted(self.problems, key=lambda p: p.line or 0))


def _read_located(path: Path, report: _Report) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        report.add((), f"cannot read the file: {exc.strerror or exc}")
        return None
    except UnicodeDecodeError as exc:
        report.add((), f"not UTF-8 text: {exc.reason} at byte {exc.start}")
        return None
    loader = _DepthBoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            report.add((), "the file is empty; expected a mapping with a 'sources' list", 1)
            return None
        located = _Located(loader)
        data = located.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        report.add((), f"malformed YAML: {detail}", mark.line + 1 if mark else None)
        return None
    except yaml.YAMLError as exc:
        report.add((), f"malformed YAML: {exc}")
        return None
    except _YamlShapeError as exc:
        report.add((), f"malformed YAML: {exc.message}", exc.line)
        return None
    finally:
        loader.dispose()
    report.located = located
    for dup_path, first, second in located.duplicates:
        report.add(dup_path, f"duplicate key; first given at line {first}", second)
    return data


def _usable_defaults(data: dict[str, Any], report: _Report) -> dict[str, Any]:
    defaults = data.get("defaults", {})
    if defaults is None:
        return {}
    if not isinstance(defaults, dict):
        report.add(("defaults",), f"expected a mapping of source keys, got {_type(defaults)}")
        return {}
    usable = {}
    for key, value in defaults.items():
        if key in _NOT_DEFAULTABLE:
            report.add(("defaults", key), "cannot be a default; set it on each source")
        elif key not in Source.model_fields:
            report.add(("defaults", key), _unknown_key(key))
        else:
            usable[key] = value
    return usable


def _type(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _validate_source(
    index: int, entry: Any, defaults: dict[str, Any], report: _Report
) -> Source | None:
    path: FieldPath = ("sources", index)
    if not isinstance(entry, dict):
        report.add(path, f"expected a mapping of source keys, got {_type(entry)}")
        return None
    try:
        return Source.model_validate({**defaults, **entry})
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(error["loc"])
            key = str(loc[0]) if loc else ""
            # A value inherited from `defaults` is reported where it was written, once.
            at = ("defaults", *loc) if key in defaults and key not in entry else (*path, *loc)
            report.add(at, _error_message(error, key))
        return None


def load_sources(path: Path | str) -> SourcesConfig:
    """Read and validate a sources file.

    Raises ``SourcesConfigError`` listing every problem (file, line, field, message); bad input
    never escapes as another exception. Source positions in field names count from 0.
    """
    path = Path(path)
    report = _Report(str(path))
    data = _read_located(path, report)
    if not isinstance(data, dict):
        if not report.problems:
            report.add(
                (), f"the top level must be a mapping with a 'sources' list, got {_type(data)}"
            )
        raise report.error()
    for key in data:
        if key not in SourcesConfig.model_fields:
            report.add((key,), "unknown key; expected 'sources', 'defaults' or 'operator'")
    operator = data.get("operator", "")
    if not isinstance(operator, str):
        report.add(("operator",), f"expected text, got {_type(operator)}")
    defaults = _usable_defaults(data, report)
    entries = data.get("sources")
    if not isinstance(entries, list):
        found = "it is missing" if "sources" not in data else f"got {_type(entries)}"
        report.add(("sources",), f"expected a list of sources; {found}")
        raise report.error()
    _report_duplicate_ids(entries, report)
    sources = [_validate_source(i, entry, defaults, report) for i, entry in enumerate(entries)]
    if report.problems:
        raise report.error()
    return SourcesConfig(
        sources=[s for s in sources if s is not None], defaults=defaults, operator=operator
    )


def _report_duplicate_ids(entries: list[Any], report: _Report) -> None:
    # Checked on the raw entries so a duplicate is found even when either entry has other errors.
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        source_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(source_id, str):
            continue
        if source_id not in first_index:
            first_index[source_id] = index
            continue
        first = first_index[source_id]
        first_line = report.line(("sources", first, "id"))
        report.add(
            ("sources", index, "id"),
            f"duplicate id {source_id!r}; first defined at line {first_line} (sources[{first}])",
        )


def select_sources(config: SourcesConfig, ids: Sequence[str]) -> list[Source]:
    """The sources named by ``ids`` in the order given (all of them when ``ids`` is empty).

    Raises ``UnknownSourceError`` naming every id that is not configured.
    """
    by_id = {s.id: s for s in config.sources}
    if not ids:
        return list(config.sources)
    unknown = [i for i in dict.fromkeys(ids) if i not in by_id]
    if unknown:
        hints = []
        for i in unknown:
            close = difflib.get_close_matches(i, by_id, n=1)
            hints.append(f"{i!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UnknownSourceError(f"unknown source id: {', '.join(hints)}")
    return [by_id[i] for i in dict.fromkeys(ids)]
