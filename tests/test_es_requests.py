"""The Elasticsearch backend without a cluster: the settings it reads, the index it creates
(its analyzers checked word by word against the embedded index's), the request bodies it
sends, the hits it reads back, and its bulk writer against an imitation of ``_bulk`` on
loopback (HTTP 429, per-item rejections, credentials on the wire)."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import Stemmer

from index.analysis import (
    APOSTROPHES,
    BELARUSIAN_ENDINGS,
    CYRILLIC_LANGUAGES,
    FOLD,
    REFLEXIVE,
    UKRAINIAN_ENDINGS,
    LightStemmer,
    WordForms,
    _derivational,
)
from index.backend import (
    MAX_FACET_SIZE,
    MAX_LIMIT,
    MAX_OFFSET,
    FacetCount,
    Facets,
    SearchFilters,
    SearchRequest,
)
from index.documents import Document
from index.es_backend import (
    Backoff,
    BulkItem,
    ElasticsearchBackend,
    EsBulkError,
    bulk_batches,
    bulk_item,
    document_source,
)
from index.es_config import EsConfig, EsConfigError
from index.es_query import (
    facets_body,
    facets_from_response,
    hits_from_response,
    normalise_snippet,
    search_body,
)
from index.es_schema import (
    ANY_LANGUAGE_ANALYZER,
    DERIVED_N,
    LANGUAGE_GROUPS,
    THEMATIC_VOWEL,
    WORD_SEPARATORS,
    ending_pattern,
    index_mappings,
    index_settings,
    index_template,
    reflexive_pattern,
    schema_format,
    split_words,
)
from index.query import All, Node, Phrase, Query, Term, parse_query
from index.query import Any as AnyOf
from tests.loopback_server import LoopbackSite

CAPTURED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_doc(n: int, lang: str = "ru", **changes: Any) -> Document:
    values: dict[str, Any] = {
        "id": f"d{n}",
        "kind": "page",
        "source": "example-news",
        "url": f"https://example.org/news/{n}",
        "capture_id": f"cap{n}",
        "title": f"Заголовок {n}",
        "text": f"Суд в Минске, документ {n}.",
        "lang": lang,
        "captured_at": CAPTURED,
    }
    values.update(changes)
    return Document(**values)


# --- settings -------------------------------------------------------------------------------

BASE_ENV = {"OSINT_ARCHIVE_ES_URL": "https://es.example.org:9200"}


def config_of(**env: str) -> EsConfig:
    return EsConfig.from_env({**BASE_ENV, **env})


def test_config_defaults() -> None:
    config = config_of()
    assert config.url == "https://es.example.org:9200"
    assert config.index == "osint-archive"
    assert config.bulk_docs == 1000
    assert config.bulk_bytes == 5 * 1024 * 1024
    assert not config.has_credentials


def test_config_reads_credentials_and_limits(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = config_of(
        OSINT_ARCHIVE_ES_USERNAME="archiver",
        OSINT_ARCHIVE_ES_PASSWORD="pa ss",
        OSINT_ARCHIVE_ES_CA_CERTS=str(ca),
        OSINT_ARCHIVE_ES_INDEX="team-archive",
        OSINT_ARCHIVE_ES_BULK_DOCS="250",
        OSINT_ARCHIVE_ES_BULK_BYTES="10485760",
    )
    assert (config.username, config.password, config.ca_certs) == ("archiver", "pa ss", ca)
    assert (config.index, config.bulk_docs, config.bulk_bytes) == ("team-archive", 250, 10485760)
    assert config_of(OSINT_ARCHIVE_ES_API_KEY="a2V5OnNlY3JldA==").api_key == "a2V5OnNlY3JldA=="


def test_config_never_shows_secrets() -> None:
    for config in (
        config_of(OSINT_ARCHIVE_ES_USERNAME="u", OSINT_ARCHIVE_ES_PASSWORD="hunter2-secret"),
        config_of(OSINT_ARCHIVE_ES_API_KEY="hunter2-secret"),
    ):
        assert "hunter2-secret" not in repr(config)
        assert "hunter2-secret" not in str(config)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"OSINT_ARCHIVE_ES_URL": ""}, "OSINT_ARCHIVE_ES_URL"),
        ({"OSINT_ARCHIVE_ES_PASSWORD": "p"}, "OSINT_ARCHIVE_ES_USERNAME"),
        ({"OSINT_ARCHIVE_ES_USERNAME": "u"}, "OSINT_ARCHIVE_ES_PASSWORD"),
        (
            {
                "OSINT_ARCHIVE_ES_USERNAME": "u",
                "OSINT_ARCHIVE_ES_PASSWORD": "p",
                "OSINT_ARCHIVE_ES_API_KEY": "k",
            },
            "OSINT_ARCHIVE_ES_API_KEY",
        ),
        ({"OSINT_ARCHIVE_ES_URL": "ftp://es.example.org"}, "OSINT_ARCHIVE_ES_URL"),
        ({"OSINT_ARCHIVE_ES_URL": "es.example.org:9200"}, "OSINT_ARCHIVE_ES_URL"),
        ({"OSINT_ARCHIVE_ES_URL": "https://es.example.org/?x=1"}, "OSINT_ARCHIVE_ES_URL"),
        ({"OSINT_ARCHIVE_ES_URL": "https://es.example.org:port"}, "OSINT_ARCHIVE_ES_URL"),
        ({"OSINT_ARCHIVE_ES_CA_CERTS": "/nonexistent/ca.pem"}, "OSINT_ARCHIVE_ES_CA_CERTS"),
        ({"OSINT_ARCHIVE_ES_INDEX": "Archive"}, "OSINT_ARCHIVE_ES_INDEX"),
        ({"OSINT_ARCHIVE_ES_INDEX": "_archive"}, "OSINT_ARCHIVE_ES_INDEX"),
        ({"OSINT_ARCHIVE_ES_INDEX": "a*b"}, "OSINT_ARCHIVE_ES_INDEX"),
        ({"OSINT_ARCHIVE_ES_BULK_DOCS": "0"}, "OSINT_ARCHIVE_ES_BULK_DOCS"),
        ({"OSINT_ARCHIVE_ES_BULK_DOCS": "many"}, "OSINT_ARCHIVE_ES_BULK_DOCS"),
        ({"OSINT_ARCHIVE_ES_BULK_BYTES": "10"}, "OSINT_ARCHIVE_ES_BULK_BYTES"),
        ({"OSINT_ARCHIVE_ES_BULK_BYTES": "5MB"}, "OSINT_ARCHIVE_ES_BULK_BYTES"),
        ({"OSINT_ARCHIVE_ES_TIMEOUT": "-1"}, "OSINT_ARCHIVE_ES_TIMEOUT"),
        ({"OSINT_ARCHIVE_ES_ALLOW_HTTP": "yes"}, "OSINT_ARCHIVE_ES_ALLOW_HTTP"),
    ],
)
def test_config_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(EsConfigError, match=variable):
        config_of(**env)


def test_config_refuses_credentials_in_the_url() -> None:
    with pytest.raises(EsConfigError, match="must not contain credentials") as raised:
        config_of(OSINT_ARCHIVE_ES_URL="https://elastic:hunter2-secret@es.example.org")
    assert "hunter2-secret" not in str(raised.value)


@pytest.mark.parametrize(
    "credentials",
    [
        {"OSINT_ARCHIVE_ES_USERNAME": "u", "OSINT_ARCHIVE_ES_PASSWORD": "p"},
        {"OSINT_ARCHIVE_ES_API_KEY": "k"},
    ],
)
def test_config_keeps_credentials_off_plain_http(credentials: dict[str, str]) -> None:
    with pytest.raises(EsConfigError, match="clear text"):
        config_of(OSINT_ARCHIVE_ES_URL="http://127.0.0.1:9200", **credentials)
    with pytest.raises(EsConfigError, match="only to a loopback address"):
        config_of(
            OSINT_ARCHIVE_ES_URL="http://es.example.org:9200",
            OSINT_ARCHIVE_ES_ALLOW_HTTP="1",
            **credentials,
        )
    for loopback in ("http://127.0.0.1:9200", "http://localhost:9200", "http://[::1]:9200"):
        allowed = config_of(
            OSINT_ARCHIVE_ES_URL=loopback, OSINT_ARCHIVE_ES_ALLOW_HTTP="1", **credentials
        )
        assert allowed.has_credentials
    # Without credentials nothing secret travels; plain http is the operator's choice.
    assert config_of(OSINT_ARCHIVE_ES_URL="http://es.example.org:9200").url.startswith("http:")


def test_config_ca_certs_only_for_https(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(EsConfigError, match="OSINT_ARCHIVE_ES_CA_CERTS"):
        config_of(OSINT_ARCHIVE_ES_URL="http://127.0.0.1:9200", OSINT_ARCHIVE_ES_CA_CERTS=str(ca))


# --- the index: mappings, analyzers -----------------------------------------------------------


def test_mappings_are_strict_with_every_field() -> None:
    mappings = index_mappings()
    assert mappings["dynamic"] == "strict"
    assert mappings["_meta"]["format"] == schema_format()
    properties = mappings["properties"]
    for name in ("id", "kind", "source", "capture_id", "lang", "tags", "media_sha256", "url"):
        assert properties[name]["type"] == "keyword", name
    assert properties["captured_at"]["type"] == properties["published_at"]["type"] == "date"
    assert properties["start"]["type"] == properties["end"]["type"] == "float"
    assert set(LANGUAGE_GROUPS) == {"ru", "be", "uk", "en", "und"}
    expected_analyzer = {
        "ru": "osint_ru",
        "be": "osint_be",
        "uk": "osint_uk",
        "en": "osint_en",
        "und": "osint_any",
    }
    for group in LANGUAGE_GROUPS:
        for prefix in ("title", "text"):
            mapping = properties[f"{prefix}_{group}"]
            assert mapping["type"] == "text"
            assert mapping["analyzer"] == expected_analyzer[group]
            assert mapping["search_analyzer"] == ANY_LANGUAGE_ANALYZER
            assert mapping["index_options"] == "offsets"
    text_fields = {name for name, m in properties.items() if m["type"] == "text"}
    assert len(text_fields) == 10


def test_settings_allow_the_deepest_page() -> None:
    assert index_settings()["index"]["max_result_window"] == MAX_OFFSET + MAX_LIMIT


def test_every_filter_an_analyzer_names_is_defined() -> None:
    analysis = index_settings()["analysis"]
    defined = set(analysis["filter"]) | {"lowercase"}
    for analyzer in analysis["analyzer"].values():
        assert analyzer["tokenizer"] in analysis["tokenizer"]
        assert set(analyzer["filter"]) <= defined
    for chain in analysis["filter"]["osint_cyrillic_alternatives"]["filters"]:
        assert {name.strip() for name in chain.split(",")} <= defined
    # Stemmers are Snowball's: Russian, and English as Porter2 (PyStemmer's "english").
    assert analysis["filter"]["osint_russian"] == {"type": "stemmer", "language": "russian"}
    assert analysis["filter"]["osint_english"] == {"type": "stemmer", "language": "porter2"}


def test_fold_filters_cover_the_fold_table() -> None:
    filters = index_settings()["analysis"]["filter"]
    folded: dict[str, str] = {}
    for name, spec in filters.items():
        if name.startswith("osint_fold_"):
            for ch in spec["pattern"].strip("[]"):
                folded[ch] = spec["replacement"]
    assert folded == {chr(k): (v or "") for k, v in FOLD.items()}


def test_template_names_the_concrete_indices() -> None:
    template = index_template("osint-archive")
    assert template["index_patterns"] == ["osint-archive-2*"]
    assert template["template"]["mappings"] == index_mappings()
    assert template["template"]["settings"] == index_settings()
    assert "aliases" not in template["template"]  # a rebuild's index must not join the alias
    assert template["_meta"]["format"] == schema_format()


# An emulation of the analyzers, read from the settings: Java regexes run on Python's re
# (the constructs used mean the same in both), the Snowball stemmers on PyStemmer.
_SNOWBALL = {"russian": Stemmer.Stemmer("russian"), "porter2": Stemmer.Stemmer("english")}


def _apply(name: str, tokens: list[str], filters: dict[str, Any]) -> list[str]:
    if name == "lowercase":
        return [t.lower() for t in tokens]
    spec = filters[name]
    kind = spec["type"]
    if kind == "length":
        low, high = spec.get("min", 0), spec.get("max", 10**9)
        return [t for t in tokens if low <= len(t) <= high]
    if kind == "pattern_replace":
        replacement = spec["replacement"].replace("$1", r"\1")
        return [re.sub(spec["pattern"], replacement, t) for t in tokens]
    if kind == "stemmer":
        return [_SNOWBALL[spec["language"]].stemWord(t) for t in tokens]
    if kind == "multiplexer":
        out: list[str] = []
        for chain in spec["filters"]:
            found = tokens
            for step in chain.split(","):
                found = _apply(step.strip(), found, filters)
            out += found
        return list(dict.fromkeys(out))
    raise AssertionError(f"no emulation of {kind}")


def analyze(analyzer: str, word: str) -> list[str]:
    """The terms the named analyzer gives a single word (alternatives, deduplicated)."""
    analysis = index_settings()["analysis"]
    tokens = [word]
    for name in analysis["analyzer"][analyzer]["filter"]:
        tokens = _apply(name, tokens, analysis["filter"])
    return tokens


def words(text: str) -> list[str]:
    return text.split()


RUSSIAN = words("""задержание задержали задержанных задержания Минске Минск суде суды судья
судебного протестующих протестовали ёлка Ёжик объявлен объявления выборы выборов избирательного
приговорён приговорили журналистов правозащитника силовики обыски обыскали СИЗО д'Артаньяна
О’Нила сям’і""")
BELARUSIAN = words("""затрыманне затрымалі затрыманых затрымання Мінску Мінск судзе суддзя
пратэстоўцы пратэставалі выбары выбараў журналістаў праваабаронцы смяяцца
вучыцца абараняцца займаюцца вобшукі сям'я сям’і пад'езд Беларусь беларускай""")
UKRAINIAN = words("""затримання затримали затриманих Мінську Мінськ суді суддя протестувальники
протестували вибори виборів журналістів правозахисника сміятися навчатися займаються обшуки
м’ята п'ять з'їзд ґанок Україна українською""")
ENGLISH = words("""detention detained detaining courts court's running journalists elections
protesters Minsk OSINT don't covid19 2024 archived archiving""")


def _systematic(
    stems: list[str], endings: tuple[str, ...], reflexive: tuple[str, ...]
) -> list[str]:
    words = [stem + ending for stem in stems for ending in endings]
    words += [stem + "а" + suffix for stem in stems for suffix in reflexive]
    return words + [ending for ending in endings] + ["ба" + ending for ending in endings]


BE_GENERATED = _systematic(
    ["затрым", "мінск", "працав", "дзе", "ўдзельн"], BELARUSIAN_ENDINGS, REFLEXIVE["be"]
)
UK_GENERATED = _systematic(
    ["затрим", "мінськ", "працюв", "дія", "учасн"], UKRAINIAN_ENDINGS, REFLEXIVE["uk"]
)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("ru", RUSSIAN + ENGLISH),
        ("en", RUSSIAN + ENGLISH),
        ("be", BELARUSIAN + ENGLISH + BE_GENERATED),
        ("uk", UKRAINIAN + ENGLISH + UK_GENERATED),
    ],
)
def test_language_analyzers_give_the_embedded_index_terms(lang: str, words: list[str]) -> None:
    forms = WordForms()
    for word in words:
        expected = forms.term(word.lower(), lang)
        assert analyze(f"osint_{lang}", word) == ([expected] if expected else []), word


def test_any_language_analyzer_gives_every_cyrillic_alternative() -> None:
    forms = WordForms()
    for word in RUSSIAN + BELARUSIAN + UKRAINIAN + ENGLISH + BE_GENERATED[:200]:
        expected = [t for t in forms.alternatives(word.lower(), CYRILLIC_LANGUAGES) if t]
        assert sorted(analyze(ANY_LANGUAGE_ANALYZER, word)) == sorted(expected), word


def test_the_three_spellings_of_minsk_meet() -> None:
    terms = {analyze(ANY_LANGUAGE_ANALYZER, w)[0] for w in ("Мінску", "Мінську", "Минске")}
    assert "минск" in terms
    assert analyze("osint_ru", "Минске") == ["минск"]
    assert "минск" in analyze(ANY_LANGUAGE_ANALYZER, "Мінску")


@pytest.mark.parametrize(
    ("endings", "lang"), [(BELARUSIAN_ENDINGS, "be"), (UKRAINIAN_ENDINGS, "uk")]
)
def test_ending_regex_is_the_light_stemmer(endings: tuple[str, ...], lang: str) -> None:
    stemmer = LightStemmer(lang)
    endings_only = re.compile(ending_pattern(endings))
    reflexive = re.compile(reflexive_pattern(REFLEXIVE[lang]))
    words = (BELARUSIAN if lang == "be" else UKRAINIAN) + (
        BE_GENERATED if lang == "be" else UK_GENERATED
    )
    for word in (w.lower().translate({ord(a): None for a in APOSTROPHES}) for w in words):
        emulated = endings_only.sub(r"\1", reflexive.sub(r"\1", word))
        assert emulated == stemmer.stem(word), word
    # Longest ending first in the alternation.
    alternation = ending_pattern(endings).rsplit("(?:", 1)[1].rstrip(")$").split("|")
    assert [len(e) for e in alternation] == sorted((len(e) for e in alternation), reverse=True)


def test_derivational_regexes_match_the_python_step() -> None:
    derived, thematic = re.compile(DERIVED_N), re.compile(THEMATIC_VOWEL)
    stems = [
        "задержан",
        "затрыманн",
        "затриман",
        "судан",
        "обьявлен",
        "праца",
        "прац",
        "выбар",
        "абаранян",
        "дзеянн",
        "кан",
        "ан",
        "учасни",
        "вобшукі",
    ]
    for stem in stems:
        assert thematic.sub(r"\1", derived.sub(r"\1", stem)) == _derivational(stem), stem


def test_tokenizer_pattern_splits_like_split_words() -> None:
    regex = pytest.importorskip("regex")  # Java's \p{..} classes; the stdlib re lacks them
    text = (
        "Суд, «Мінск»: сям'я м’ята don't; нью-йорк example.org foo_bar 12,5 № 7 "
        "e\u0301clair \ue000x\ue001 👍 ʼапостраф"
    )
    expected = [w for w in regex.split(WORD_SEPARATORS, text) if w]
    assert split_words(text) == expected
    assert "foo" in expected and "bar" in expected and "сям'я" in expected


# --- request bodies -------------------------------------------------------------------------


def body_of(text: str, **kwargs: Any) -> dict[str, Any]:
    filters = kwargs.pop("filters", None)
    return search_body(SearchRequest.of(text, filters, **kwargs))


def root_of(body: dict[str, Any]) -> dict[str, Any]:
    must = body["query"]["bool"]["must"]
    assert len(must) == 1
    return must[0]


ALL_FIELDS = [
    f"{prefix}_{group}{'^3' if prefix == 'title' else ''}"
    for group in ("ru", "be", "uk", "en", "und")
    for prefix in ("title", "text")
]


def test_word_is_a_phrase_over_every_language_field() -> None:
    assert root_of(body_of("задержание")) == {
        "multi_match": {
            "query": "задержание",
            "type": "phrase",
            "fields": ALL_FIELDS,
            "analyzer": "osint_any",
        }
    }


def test_quoted_phrase() -> None:
    root = root_of(body_of('"суд в Минске"'))
    assert root["multi_match"]["query"] == "суд в Минске"
    assert root["multi_match"]["type"] == "phrase"


def test_prefix_matches_the_folded_word_as_typed() -> None:
    root = root_of(body_of("Затрым*"))
    should = root["bool"]["should"]
    assert root["bool"]["minimum_should_match"] == 1
    values = {next(iter(c["prefix"].values()))["value"] for c in should}
    assert values == {"затрым"}  # not its stem «затр», which would reach «затримали»
    fields = {next(iter(c["prefix"])) for c in should}
    assert fields == {f.split("^")[0] for f in ALL_FIELDS}
    boosts = {next(iter(c["prefix"])): next(iter(c["prefix"].values()))["boost"] for c in should}
    assert boosts["title_ru"] == 3.0 and boosts["text_ru"] == 1.0


def test_prefix_of_joined_words_is_a_phrase_prefix() -> None:
    root = root_of(body_of("нью-йор*"))
    assert root["multi_match"]["type"] == "phrase_prefix"
    assert root["multi_match"]["query"] == "нью-йор"


def test_and_or_not_tree() -> None:
    root = root_of(body_of("суд AND (Минск OR Гомель) NOT приговор"))
    assert set(root["bool"]) == {"must", "must_not"}
    first, either = root["bool"]["must"]
    assert first["multi_match"]["query"] == "суд"
    assert either["bool"]["minimum_should_match"] == 1
    assert [c["multi_match"]["query"] for c in either["bool"]["should"]] == ["Минск", "Гомель"]
    assert [c["multi_match"]["query"] for c in root["bool"]["must_not"]] == ["приговор"]


def test_top_level_or_still_needs_one_match_beside_filters() -> None:
    body = body_of("Минск OR Гомель", filters=SearchFilters(kind="post"))
    assert root_of(body)["bool"]["minimum_should_match"] == 1


def test_filters() -> None:
    filters = SearchFilters(
        kind="transcript",
        source="some-channel",
        lang="be",
        tag="protest",
        since=datetime(2024, 1, 1, tzinfo=UTC),
        until=datetime(2024, 12, 31, tzinfo=UTC),
        published_since=datetime(2023, 6, 1, tzinfo=UTC),
    )
    assert body_of("суд", filters=filters)["query"]["bool"]["filter"] == [
        {"term": {"kind": "transcript"}},
        {"term": {"source": "some-channel"}},
        {"term": {"lang": "be"}},
        {"term": {"tags": "protest"}},
        {
            "range": {
                "captured_at": {
                    "gte": "2024-01-01T00:00:00+00:00",
                    "lte": "2024-12-31T00:00:00+00:00",
                }
            }
        },
        {"range": {"published_at": {"gte": "2023-06-01T00:00:00+00:00"}}},
    ]
    assert "filter" not in body_of("суд")["query"]["bool"]


def test_language_filter_searches_only_that_language() -> None:
    body = body_of("суд*", filters=SearchFilters(lang="ru"))
    fields = {next(iter(c["prefix"])) for c in root_of(body)["bool"]["should"]}
    assert fields == {"title_ru", "text_ru"}
    assert set(body["highlight"]["fields"]) == {"text_ru"}
    word = root_of(body_of("суд", filters=SearchFilters(lang="uk")))["multi_match"]
    assert word["fields"] == ["title_uk^3", "text_uk"]
    assert word["analyzer"] == "osint_uk"
    other = root_of(body_of("sąd", filters=SearchFilters(lang="pl")))["multi_match"]
    assert other["fields"] == ["title_und^3", "text_und"]
    assert other["analyzer"] == "osint_any"


def test_sorts() -> None:
    assert body_of("суд")["sort"] == [
        {"_score": {"order": "desc"}},
        {"captured_at": {"order": "desc"}},
        {"id": {"order": "asc"}},
    ]
    assert body_of("суд", sort="newest")["sort"][0] == {"captured_at": {"order": "desc"}}
    assert body_of("суд", sort="oldest")["sort"][0] == {"captured_at": {"order": "asc"}}
    assert body_of("суд", sort="newest")["track_scores"] is True


def test_pagination() -> None:
    body = body_of("суд", limit=50, offset=100)
    assert (body["from"], body["size"]) == (100, 50)
    deepest = body_of("суд", limit=MAX_LIMIT, offset=MAX_OFFSET)
    assert deepest["from"] + deepest["size"] <= index_settings()["index"]["max_result_window"]


def test_highlight_and_source() -> None:
    body = body_of("суд")
    highlight = body["highlight"]
    assert highlight["pre_tags"] == ["<mark>"] and highlight["post_tags"] == ["</mark>"]
    assert highlight["encoder"] == "html"
    assert set(highlight["fields"]) == {f"text_{g}" for g in LANGUAGE_GROUPS}
    for spec in highlight["fields"].values():
        assert spec == {"fragment_size": 150, "number_of_fragments": 1, "no_match_size": 150}
    assert set(body["_source"]["excludes"]) == {f"text_{g}" for g in LANGUAGE_GROUPS}


HOSTILE = [
    '"foo" OR 1=1; DROP',
    "*:*",
    "a:b",
    "\\",
    '{"query":{"match_all":{}}}',
    'title_ru:"x" AND _exists_:id',
    '}]}, {"script": 1',
]


def _walk(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield "key", path, key
            yield from _walk(inner, (*path, str(key)))
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner, (*path, "[]"))
    else:
        yield "value", path, value


def _user_path(path: tuple[str, ...]) -> bool:
    return path[-2:] == ("multi_match", "query") or (
        len(path) >= 3 and path[-3] == "prefix" and path[-1] == "value"
    )


def _shape(body: dict[str, Any]) -> tuple[set[str], set[Any]]:
    keys = {leaf for kind, _, leaf in _walk(body) if kind == "key"}
    values = {leaf for kind, path, leaf in _walk(body) if kind == "value" and not _user_path(path)}
    return keys, values


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize("shape", ["term", "prefix", "phrase", "tree"])
def test_hostile_text_stays_a_plain_value(text: str, shape: str) -> None:
    trees: dict[str, Callable[[str], Node]] = {
        "term": lambda t: Term(t),
        "prefix": lambda t: Term(t, prefix=True),
        "phrase": lambda t: Phrase((t, "суд")),
        "tree": lambda t: All((AnyOf((Term(t), Term("суд"))),), (Term(t),)),
    }
    make = trees[shape]
    # The benign twin has as many words, so the body has the same shape.
    benign_text = "-".join(["benign"] * len(split_words(text))) or "-"
    hostile = search_body(SearchRequest(Query(make(text), text)))
    benign = search_body(SearchRequest(Query(make(benign_text), benign_text)))
    assert json.loads(json.dumps(hostile)) == hostile
    hostile_keys, hostile_values = _shape(hostile)
    benign_keys, benign_values = _shape(benign)
    # Nothing typed became a key or a fixed value: only query/value strings differ.
    assert hostile_keys == benign_keys
    assert hostile_values == benign_values
    assert not hostile_keys & {"query_string", "simple_query_string", "script", "wrapper"}
    for kind, path, leaf in _walk(hostile):
        if kind == "value" and _user_path(path):
            assert isinstance(leaf, str)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_through_the_parser(text: str) -> None:
    try:
        request = SearchRequest.of(text)
    except ValueError:  # QueryError: nothing searchable in it
        return
    body = search_body(request)
    keys, _ = _shape(body)
    assert not keys & {"query_string", "simple_query_string", "script", "wrapper"}
    typed = [leaf for kind, path, leaf in _walk(body) if kind == "value" and _user_path(path)]
    assert typed and all(isinstance(leaf, str) for leaf in typed)


def test_hostile_filter_values_are_exact_terms() -> None:
    filters = SearchFilters(source='x" OR 1=1', tag="*:*", kind="{}")
    clauses = body_of("суд", filters=filters)["query"]["bool"]["filter"]
    assert {"term": {"source": 'x" OR 1=1'}} in clauses
    assert {"term": {"tags": "*:*"}} in clauses
    assert {"term": {"kind": "{}"}} in clauses


def terms(field: str, size: int) -> dict[str, Any]:
    order = [{"_count": "desc"}, {"_key": "asc"}]
    return {"terms": {"field": field, "size": size, "order": order}}


def test_facets_body_counts_the_search_matches() -> None:
    filters = SearchFilters(kind="post", lang="be", tag="protest", since=CAPTURED)
    request = SearchRequest.of("суд OR затрым*", filters, sort="newest", limit=50, offset=100)
    body = facets_body(request, size=7)
    # The same query and filters as the search, but no hits, order, page or highlights.
    assert body["query"] == search_body(request)["query"]
    assert (body["size"], body["track_total_hits"]) == (0, True)
    assert not {"from", "sort", "highlight", "_source", "track_scores"} & set(body)
    assert body["aggs"] == {
        "kind": terms("kind", 7),
        "source": terms("source", 7),
        "lang": terms("lang", 7),
        "tag": terms("tags", 7),
        "captured_months": {
            "date_histogram": {
                "field": "captured_at",
                "calendar_interval": "month",
                "format": "yyyy-MM",
                "time_zone": "UTC",
                "min_doc_count": 1,
            }
        },
    }
    mapped = index_mappings()["properties"]
    for aggregation in body["aggs"].values():
        field = next(iter(aggregation.values()))["field"]
        assert mapped[field]["type"] in ("keyword", "date")
    assert facets_body(SearchRequest.of("суд"))["aggs"]["kind"] == terms("kind", 20)


@pytest.mark.parametrize("size", [0, MAX_FACET_SIZE + 1])
def test_facets_body_refuses_sizes_out_of_range(size: int) -> None:
    with pytest.raises(ValueError, match="facet size"):
        facets_body(SearchRequest.of("суд"), size)


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_in_facets_stays_a_plain_value(text: str) -> None:
    try:
        request = SearchRequest.of(text)
    except ValueError:  # QueryError: nothing searchable in it
        return
    body = facets_body(request)
    keys, _ = _shape(body)
    assert not keys & {"query_string", "simple_query_string", "script", "wrapper"}
    assert body["query"] == search_body(request)["query"]


def buckets(*pairs: tuple[str, int]) -> dict[str, Any]:
    return {"buckets": [{"key": key, "doc_count": count} for key, count in pairs]}


FACETS_RESPONSE: dict[str, Any] = {
    "hits": {"total": {"value": 12, "relation": "eq"}, "hits": []},
    "aggregations": {
        "kind": buckets(("page", 7), ("post", 4), ("transcript", 1)),
        "source": buckets(("b-news", 6), ("a-news", 6)),
        "lang": buckets(("ru", 12)),
        "tag": buckets(),
        "captured_months": {
            "buckets": [
                {"key_as_string": "2023-12", "key": 1701388800000, "doc_count": 2},
                {"key_as_string": "2024-01", "key": 1704067200000, "doc_count": 5},
                {"key_as_string": "2024-02", "key": 1706745600000, "doc_count": 5},
            ]
        },
    },
}


def test_facets_response_ranked_by_count_then_value() -> None:
    facets = facets_from_response(FACETS_RESPONSE, size=2)
    assert facets == Facets(
        total=12,
        kind=(FacetCount("page", 7), FacetCount("post", 4)),
        source=(FacetCount("a-news", 6), FacetCount("b-news", 6)),
        lang=(FacetCount("ru", 12),),
        tag=(),
        captured_months=(FacetCount("2024-01", 5), FacetCount("2024-02", 5)),
    )
    empty = {"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}}
    assert facets_from_response(empty) == Facets(total=0)


def test_request_parser_is_shared() -> None:
    assert parse_query("суд*").root == Term("суд", prefix=True)


# --- responses ------------------------------------------------------------------------------


def test_response_to_hits() -> None:
    response = {
        "hits": {
            "hits": [
                {
                    "_id": "page:cap1",
                    "_score": 7.5,
                    "_source": {
                        "id": "page:cap1",
                        "kind": "page",
                        "source": "example-news",
                        "url": "https://example.org/a",
                        "capture_id": "cap1",
                        "lang": "ru",
                        "captured_at": "2024-05-01T12:00:00+00:00",
                        "tags": ["courts"],
                        "title_ru": "Суд & <дело>",
                    },
                    "highlight": {
                        "text_ru": ["&lt;b&gt; <mark>Суд</mark> в Минске &#x2F; &quot;x&quot;"]
                    },
                },
                {
                    "_id": "transcript:ab:base:3",
                    "_score": None,
                    "_source": {
                        "id": "transcript:ab:base:3",
                        "kind": "transcript",
                        "source": "some-video",
                        "url": "https://example.org/v.mp4",
                        "capture_id": "cap2",
                        "lang": "pl",
                        "captured_at": "2024-05-02T08:00:00+00:00",
                        "published_at": "2024-05-01T00:00:00+00:00",
                        "tags": [],
                        "title_und": "video",
                        "media_sha256": "ab" * 32,
                        "start": 12.5,
                        "end": 15,
                    },
                },
            ]
        }
    }
    page, transcript = hits_from_response(response)
    assert page.id == "page:cap1" and page.kind == "page" and page.lang == "ru"
    assert page.title == "Суд & <дело>"
    assert page.snippet == "&lt;b&gt; <mark>Суд</mark> в Минске / &quot;x&quot;"
    assert page.score == 7.5 and page.tags == ("courts",)
    assert page.captured_at == "2024-05-01T12:00:00+00:00"
    assert page.media_sha256 is None and page.start is None and page.published_at is None
    assert transcript.title == "video" and transcript.snippet == "" and transcript.score == 0.0
    assert transcript.media_sha256 == "ab" * 32
    assert (transcript.start, transcript.end) == (12.5, 15.0)
    assert transcript.published_at == "2024-05-01T00:00:00+00:00"


def test_snippets_are_escaped_like_the_embedded_backend() -> None:
    assert normalise_snippet("a &amp; b <mark>c</mark> &#x27;d&#x27;") == (
        "a &amp; b <mark>c</mark> &#x27;d&#x27;"
    )
    # A document cannot forge a mark: its text arrives escaped.
    assert normalise_snippet("&lt;mark&gt;x&lt;/mark&gt;") == "&lt;mark&gt;x&lt;/mark&gt;"


# --- documents and bulk batches -------------------------------------------------------------


def test_document_fills_only_its_language_fields() -> None:
    source = document_source(make_doc(1, lang="be", tags=("a", "b")))
    assert source["title_be"] == "Заголовок 1" and source["text_be"].startswith("Суд")
    assert not {k for k in source if k.endswith(("_ru", "_uk", "_en", "_und"))}
    assert source["captured_at"] == "2024-05-01T12:00:00+00:00" and source["tags"] == ["a", "b"]
    assert not {"published_at", "media_sha256", "start", "end"} & set(source)
    other = document_source(make_doc(2, lang="pl"))
    assert "title_und" in other and "text_und" in other and other["lang"] == "pl"
    transcript = document_source(
        make_doc(3, kind="transcript", media_sha256="cd" * 32, start=1.5, end=4.0)
    )
    assert (transcript["media_sha256"], transcript["start"], transcript["end"]) == (
        "cd" * 32,
        1.5,
        4.0,
    )
    assert set(document_source(make_doc(4))) <= set(index_mappings()["properties"])


def test_bulk_item_is_an_index_action_by_id() -> None:
    item = bulk_item(make_doc(7))
    action, source, end = item.payload.split(b"\n")
    assert json.loads(action) == {"index": {"_id": "d7"}}
    assert json.loads(source)["id"] == "d7"
    assert end == b""


def _items(sizes: list[int]) -> list[BulkItem]:
    return [BulkItem(f"d{n}", b"x" * size) for n, size in enumerate(sizes)]


def test_batches_bounded_by_count() -> None:
    batches = list(bulk_batches(_items([10] * 7), max_docs=3, max_bytes=10_000))
    assert [len(b) for b in batches] == [3, 3, 1]


def test_batches_bounded_by_bytes() -> None:
    batches = list(bulk_batches(_items([400, 400, 400, 100, 900]), max_docs=100, max_bytes=1000))
    assert [[i.doc_id for i in b] for b in batches] == [["d0", "d1"], ["d2", "d3"], ["d4"]]
    assert all(sum(len(i.payload) for i in b) <= 1000 for b in batches)


def test_oversized_item_goes_alone() -> None:
    batches = list(bulk_batches(_items([50, 5000, 50]), max_docs=100, max_bytes=1000))
    assert [[i.doc_id for i in b] for b in batches] == [["d0"], ["d1"], ["d2"]]
    assert list(bulk_batches([], max_docs=10, max_bytes=1000)) == []


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, tries=8)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (10, 30.0)]:
        delays = {backoff.delay(retry) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


# --- the bulk writer against an imitation of Elasticsearch ---------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def bulk_ids(self) -> list[str]:
        lines = [json.loads(line) for line in self.body.splitlines() if line.strip()]
        return [line["index"]["_id"] for line in lines[0::2]]


BulkAnswer = Callable[[list[str]], tuple[int, dict[str, Any]]]


def reject_all(ids: list[str]) -> tuple[int, dict[str, Any]]:
    error = {"type": "es_rejected_execution_exception", "reason": "rejected (queue full)"}
    return 429, {"error": {"root_cause": [error], **error}, "status": 429}


def reject_items(rejected: set[str], status: int = 429, kind: str = "") -> BulkAnswer:
    kind = kind or ("es_rejected_execution_exception" if status == 429 else "document_parsing")

    def answer(ids: list[str]) -> tuple[int, dict[str, Any]]:
        items = []
        for doc_id in ids:
            if doc_id in rejected:
                error = {"type": kind, "reason": f"item {doc_id} refused"}
                items.append({"index": {"_id": doc_id, "status": status, "error": error}})
            else:
                items.append({"index": {"_id": doc_id, "status": 201, "result": "created"}})
        return 200, {"took": 1, "errors": bool(rejected & set(ids)), "items": items}

    return answer


def accept(ids: list[str]) -> tuple[int, dict[str, Any]]:
    return reject_items(set())(ids)


@dataclass
class FakeElasticsearch(LoopbackSite):
    """``_bulk`` answers from ``bulk_answers`` in turn (then accepts everything); ``_search``
    and ``_count`` answer canned bodies. Every request is recorded."""

    bulk_answers: list[BulkAnswer] = field(default_factory=list)
    search_answer: dict[str, Any] = field(default_factory=lambda: {"hits": {"hits": []}})
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    thread_name = "fake-elasticsearch"

    def answer(self, recorded: Recorded) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(recorded)
            if recorded.path.endswith("/_bulk"):
                plan = self.bulk_answers.pop(0) if self.bulk_answers else accept
                return plan(recorded.bulk_ids())
            if recorded.path.endswith("/_search"):
                return 200, self.search_answer
            if recorded.path.endswith("/_count"):
                return 200, {"count": 42}
            return 404, {"error": {"type": "not_found", "reason": recorded.path}, "status": 404}

    def make_server(self) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                recorded = Recorded(
                    self.command,
                    self.path.split("?")[0],
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                status, body = site.answer(recorded)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_PUT = do_POST
            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return ThreadingHTTPServer((self.host, 0), Handler)

    def bulk_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/_bulk")]


@pytest.fixture
def fake_es() -> Iterator[FakeElasticsearch]:
    with FakeElasticsearch() as site:
        yield site


TINY_BACKOFF = Backoff(initial=0.001, maximum=0.004, tries=8)


def backend_for(
    site: FakeElasticsearch, backoff: Backoff = TINY_BACKOFF, **env: str
) -> ElasticsearchBackend:
    environ = {
        "OSINT_ARCHIVE_ES_URL": site.base_url,
        "OSINT_ARCHIVE_ES_ALLOW_HTTP": "1",
        "OSINT_ARCHIVE_ES_USERNAME": "archiver",
        "OSINT_ARCHIVE_ES_PASSWORD": "s3cret pass",
        **env,
    }
    environ = {k: v for k, v in environ.items() if v}
    return ElasticsearchBackend(EsConfig.from_env(environ), alias="osint-test", backoff=backoff)


def test_bulk_backs_off_and_retries_only_rejected_items(fake_es: FakeElasticsearch) -> None:
    fake_es.bulk_answers = [reject_all, reject_items({"d1", "d4"})]
    backend = backend_for(fake_es)
    try:
        backend.index_documents([make_doc(n) for n in range(6)])
    finally:
        backend.close()
    sent = fake_es.bulk_requests()
    everything = [f"d{n}" for n in range(6)]
    assert [r.bulk_ids() for r in sent] == [everything, everything, ["d1", "d4"]]
    credentials = base64.b64encode(b"archiver:s3cret pass").decode()
    for request in sent:
        assert request.path == "/osint-test/_bulk"
        assert request.headers["authorization"] == f"Basic {credentials}"
        assert "x-ndjson" in request.headers["content-type"]


def test_bulk_gives_up_after_the_last_try(fake_es: FakeElasticsearch) -> None:
    fake_es.bulk_answers = [reject_items({"d2", "d3"})] * 3
    backend = backend_for(fake_es, Backoff(initial=0.001, maximum=0.002, tries=3))
    with pytest.raises(EsBulkError, match="2 of 5 documents") as raised:
        backend.index_documents([make_doc(n) for n in range(5)])
    backend.close()
    assert raised.value.failed == 2
    assert "es_rejected_execution_exception: item d2 refused" in str(raised.value)
    assert [r.bulk_ids() for r in fake_es.bulk_requests()] == [
        ["d0", "d1", "d2", "d3", "d4"],
        ["d2", "d3"],
        ["d2", "d3"],
    ]


def test_bulk_whole_request_rejections_count_as_tries(fake_es: FakeElasticsearch) -> None:
    fake_es.bulk_answers = [reject_all] * 4
    backend = backend_for(fake_es, Backoff(initial=0.001, maximum=0.002, tries=4))
    with pytest.raises(EsBulkError, match="es_rejected_execution_exception"):
        backend.index_documents([make_doc(1)])
    backend.close()
    assert len(fake_es.bulk_requests()) == 4


def test_bulk_item_errors_raise_at_once(fake_es: FakeElasticsearch) -> None:
    fake_es.bulk_answers = [reject_items({"d3"}, status=400, kind="document_parsing_exception")]
    backend = backend_for(fake_es)
    with pytest.raises(EsBulkError, match=r"'d3'.*document_parsing_exception: item d3 refused"):
        backend.index_documents([make_doc(n) for n in range(5)])
    backend.close()
    assert len(fake_es.bulk_requests()) == 1


def test_bulk_batches_by_count_through_the_client(fake_es: FakeElasticsearch) -> None:
    backend = backend_for(fake_es, OSINT_ARCHIVE_ES_BULK_DOCS="2")
    backend.index_documents([make_doc(n) for n in range(5)])
    backend.index_documents([])
    backend.close()
    assert [len(r.bulk_ids()) for r in fake_es.bulk_requests()] == [2, 2, 1]


def test_bulk_batches_by_bytes_through_the_client(fake_es: FakeElasticsearch) -> None:
    backend = backend_for(fake_es, OSINT_ARCHIVE_ES_BULK_BYTES="4096")
    docs = [make_doc(n, text="слово " * 250) for n in range(4)]  # ~3 KB of UTF-8 each
    backend.index_documents(docs)
    backend.close()
    sent = fake_es.bulk_requests()
    assert [len(r.bulk_ids()) for r in sent] == [1, 1, 1, 1]
    assert all(len(r.body) <= 4096 for r in sent)


def test_api_key_travels_in_the_authorization_header(fake_es: FakeElasticsearch) -> None:
    backend = backend_for(
        fake_es,
        OSINT_ARCHIVE_ES_USERNAME="",
        OSINT_ARCHIVE_ES_PASSWORD="",
        OSINT_ARCHIVE_ES_API_KEY="a2V5OnNlY3JldA==",
    )
    backend.index_documents([make_doc(1)])
    backend.close()
    assert fake_es.bulk_requests()[0].headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="


def test_search_and_count_through_the_client(fake_es: FakeElasticsearch) -> None:
    fake_es.search_answer = {
        "hits": {
            "hits": [
                {
                    "_id": "d1",
                    "_score": 2.0,
                    "_source": document_source(make_doc(1)),
                    "highlight": {"text_ru": ["<mark>Суд</mark> в Минске"]},
                }
            ]
        }
    }
    backend = backend_for(fake_es)
    request = SearchRequest.of("суд", SearchFilters(kind="page"), limit=5)
    hits = backend.search(request)
    assert backend.count() == 42
    backend.close()
    assert [(h.id, h.snippet, h.title) for h in hits] == [
        ("d1", "<mark>Суд</mark> в Минске", "Заголовок 1")
    ]
    searched = next(r for r in fake_es.requests if r.path.endswith("/_search"))
    assert searched.path == "/osint-test/_search"
    assert json.loads(searched.body) == search_body(request)


def test_facets_through_the_client(fake_es: FakeElasticsearch) -> None:
    fake_es.search_answer = FACETS_RESPONSE
    backend = backend_for(fake_es)
    request = SearchRequest.of("суд", SearchFilters(source="a-news"))
    facets = backend.facets(request, size=3)
    with pytest.raises(ValueError, match="facet size"):
        backend.facets(request, size=0)
    backend.close()
    assert facets.total == 12
    assert facets.kind == (
        FacetCount("page", 7),
        FacetCount("post", 4),
        FacetCount("transcript", 1),
    )
    (searched,) = [r for r in fake_es.requests if r.path.endswith("/_search")]
    assert searched.path == "/osint-test/_search"
    assert json.loads(searched.body) == facets_body(request, 3)
