"""One behaviour for every search backend: the same documents, queries and expectations run
against SQLite FTS5 always and against Elasticsearch when ``OSINT_ARCHIVE_ES_URL`` points at
a cluster (skipped, with the reason shown, otherwise)."""

from __future__ import annotations

import os
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from index.backend import (
    MAX_FACET_SIZE,
    MAX_LIMIT,
    FacetCount,
    Facets,
    Hit,
    SearchBackend,
    SearchFilters,
    SearchRequest,
)
from index.documents import Document
from index.query import QueryError

ES_URL = os.environ.get("OSINT_ARCHIVE_ES_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "elasticsearch",
        marks=pytest.mark.skipif(
            not ES_URL,
            reason="OSINT_ARCHIVE_ES_URL is not set: the Elasticsearch conformance run needs a "
            "live cluster (docker compose up elasticsearch)",
        ),
    ),
]
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def doc(
    id_: str,
    text: str,
    lang: str,
    *,
    kind: str = "page",
    source: str = "ru-news",
    title: str = "",
    days: int = 0,
    tags: tuple[str, ...] = ("news",),
    published: datetime | None = None,
    media: tuple[str, float, float] | None = None,
) -> Document:
    return Document(
        id=f"{kind}:{id_}",
        kind=kind,
        source=source,
        url=f"https://example.org/{id_}",
        capture_id=f"capture-{id_}",
        title=title,
        text=text,
        lang=lang,
        captured_at=T0 + timedelta(days=days),
        published_at=published,
        tags=tags,
        media_sha256=media[0] if media else None,
        start=media[1] if media else None,
        end=media[2] if media else None,
    )


MEDIA = "ab" * 32
CORPUS = [
    doc(
        "ru-arrests",
        "В субботу в Минске задержали участников пикета у здания районного суда.",
        "ru",
        title="В Минске задержали участников пикета",
        days=10,
    ),
    doc(
        "be-journalists",
        "У чацвер у Мінску затрымалі журналістаў незалежнага выдання.",
        "be",
        source="be-news",
        title="Затрыманне журналістаў",
        days=20,
        tags=("news", "media-freedom"),
    ),
    doc(
        "uk-post",
        "У Мінську затримали двох журналістів, повідомляють правозахисники.",
        "uk",
        kind="post",
        source="uk-channel",
        days=21,
        published=datetime(2024, 3, 20, 9, 0, tzinfo=UTC),
        tags=("telegram",),
    ),
    doc(
        "en-report",
        "Police detained three journalists in Minsk after the protest.",
        "en",
        source="en-news",
        title="Journalists detained",
        days=22,
    ),
    doc(
        "ru-hostile",
        "<script>alert('x')</script> Суд над волонтёрами & «правозащитники» <b>onerror</b>",
        "ru",
        kind="post",
        source="ru-channel",
        days=30,
        published=datetime(2024, 3, 30, 18, 0, tzinfo=UTC),
        tags=("telegram",),
    ),
    doc(
        "transcript-1",
        "Адвокат заявил, что подзащитного избили в изоляторе.",
        "ru",
        kind="transcript",
        source="ru-video",
        days=31,
        media=(MEDIA, 12.5, 15.0),
    ),
    doc("ru-weather", "Погода в Бресте: дождь и сильный ветер.", "ru", days=-400),
] + [
    doc(f"rally-{n:02d}", f"Акция солидарности номер {n} прошла у посольства.", "ru", days=40 + n)
    for n in range(30)
]


def _open(name: str, tmp_path: Path) -> tuple[SearchBackend, object]:
    if name == "sqlite":
        from index.sqlite_fts import SqliteFtsBackend

        return SqliteFtsBackend(tmp_path / "search.sqlite"), None
    from index.es_backend import ElasticsearchBackend
    from index.es_config import EsConfig

    backend = ElasticsearchBackend(
        EsConfig.from_env(os.environ), alias=f"osint-test-{uuid.uuid4().hex[:8]}"
    )
    backend.ensure_index()
    return backend, backend


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SearchBackend]:
    index, cluster = _open(request.param, tmp_path_factory.mktemp(request.param))
    index.index_documents(CORPUS)
    index.index_documents(CORPUS[:5])  # indexing again replaces by id
    refresh = getattr(index, "refresh", None)
    if refresh is not None:
        refresh()
    yield index
    if cluster is not None:
        cluster.drop()  # type: ignore[attr-defined]
    index.close()


def ids(backend: SearchBackend, query: str, **options: object) -> list[str]:
    filters = SearchFilters(**options.pop("filters", {}))  # type: ignore[arg-type]
    request = SearchRequest.of(query, filters, **options)  # type: ignore[arg-type]
    return [hit.id.split(":", 1)[1] for hit in backend.search(request)]


def test_reindexing_never_duplicates(backend: SearchBackend) -> None:
    assert backend.count() == len(CORPUS)


def test_inflected_forms_match(backend: SearchBackend) -> None:
    assert ids(backend, "задержание") == ["ru-arrests"]  # the page says «задержали»
    assert ids(backend, "затрыманне", filters={"lang": "be"}) == ["be-journalists"]
    assert "uk-post" in ids(backend, "затримання")
    assert ids(backend, "detention OR detain") == ["en-report"]  # «detained»


def test_spellings_of_one_place_in_three_languages_meet(backend: SearchBackend) -> None:
    assert set(ids(backend, "Минск")) == {"ru-arrests", "be-journalists", "uk-post"}


def test_language_filter(backend: SearchBackend) -> None:
    assert ids(backend, "Мінск", filters={"lang": "be"}) == ["be-journalists"]
    assert ids(backend, "journalists", filters={"lang": "en"}) == ["en-report"]


def test_phrases_keep_word_order(backend: SearchBackend) -> None:
    assert ids(backend, '"задержали участников"') == ["ru-arrests"]
    assert ids(backend, '"участников задержали"') == []


def test_boolean_operators(backend: SearchBackend) -> None:
    assert ids(backend, "суд AND волонтёрами") == ["ru-hostile"]
    assert set(ids(backend, "Брест OR изолятор")) == {"ru-weather", "transcript-1"}
    journalists_not_in_belarusian = ids(backend, "журналисты NOT затрымалі")
    assert "be-journalists" not in journalists_not_in_belarusian
    assert "uk-post" in journalists_not_in_belarusian
    assert ids(backend, "(Брест OR изолятор) AND адвокат") == ["transcript-1"]


def test_prefix_search(backend: SearchBackend) -> None:
    assert ids(backend, "задерж*") == ["ru-arrests"]
    assert ids(backend, "затрым*") == ["be-journalists"]


# Every document but «en-report»: 33 pages, 2 posts, 1 transcript.
EVERYTHING = "Минск OR суд OR адвокат OR Брест OR акция"


def test_filters_by_kind_source_tag_and_dates(backend: SearchBackend) -> None:
    everything = EVERYTHING
    assert ids(backend, everything, filters={"kind": "transcript"}) == ["transcript-1"]
    assert ids(backend, everything, filters={"source": "be-news"}) == ["be-journalists"]
    assert ids(backend, everything, filters={"tag": "media-freedom"}) == ["be-journalists"]
    assert ids(backend, everything, filters={"until": T0}) == ["ru-weather"]
    window = {"since": T0 + timedelta(days=20), "until": T0 + timedelta(days=21, hours=1)}
    assert set(ids(backend, everything, filters=window)) == {"be-journalists", "uk-post"}
    published = {
        "published_since": datetime(2024, 3, 15, tzinfo=UTC),
        "published_until": datetime(2024, 3, 25, tzinfo=UTC),
    }
    assert ids(backend, everything, filters=published) == ["uk-post"]


def test_transcript_hits_carry_the_media_and_seconds(backend: SearchBackend) -> None:
    (hit,) = backend.search(SearchRequest.of("избили"))
    assert (hit.kind, hit.media_sha256, hit.start, hit.end) == ("transcript", MEDIA, 12.5, 15.0)
    assert hit.capture_id == "capture-transcript-1"


def test_sort_by_date_and_pages(backend: SearchBackend) -> None:
    newest = ids(backend, "акция", sort="newest", limit=30)
    assert newest == [f"rally-{n:02d}" for n in reversed(range(30))]
    assert ids(backend, "акция", sort="oldest", limit=3) == ["rally-00", "rally-01", "rally-02"]
    pages = [ids(backend, "акция", sort="newest", limit=10, offset=o) for o in (0, 10, 20, 30)]
    assert [len(p) for p in pages] == [10, 10, 10, 0]
    assert [i for page in pages for i in page] == newest


def test_relevance_puts_the_title_match_first(backend: SearchBackend) -> None:
    # Both mention journalists in Belarusian/Ukrainian text; only one has it in the title.
    assert ids(backend, "журналістаў OR журналістів")[0] == "be-journalists"


def test_snippets_are_escaped_html_with_only_marks(backend: SearchBackend) -> None:
    (hit,) = backend.search(SearchRequest.of("волонтёрами"))
    assert "<mark>" in hit.snippet
    assert "&lt;script&gt;" in hit.snippet
    assert "&amp;" in hit.snippet
    without_marks = re.sub(r"</?mark>", "", hit.snippet)
    assert "<" not in without_marks and ">" not in without_marks


HOSTILE_QUERIES = [
    "\"'; DROP TABLE documents; --",
    "title:суд",
    "суд)",
    "(суд",
    '"суд',
    "NEAR(суд",
    '{"query": {"match_all": {}}}',
    "суд^10 OR ~волонтёрами",
    "a\\b OR суд",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
def test_hostile_queries_are_searched_as_words(backend: SearchBackend, query: str) -> None:
    hits = backend.search(SearchRequest.of(query))
    assert all(h.id.split(":", 1)[1] != "ru-weather" for h in hits)
    assert backend.count() == len(CORPUS)


# --- facets --------------------------------------------------------------------------------


def pairs(counts: Iterable[FacetCount]) -> list[tuple[str, int]]:
    return [(count.value, count.count) for count in counts]


def facets_of(backend: SearchBackend, query: str, size: int = 20, **filters: object) -> Facets:
    return backend.facets(SearchRequest.of(query, SearchFilters(**filters)), size)  # type: ignore[arg-type]


def ranked(values: Iterable[str], size: int) -> list[tuple[str, int]]:
    return sorted(Counter(values).items(), key=lambda item: (-item[1], item[0]))[:size]


def facets_from_hits(hits: list[Hit], size: int) -> dict[str, list[tuple[str, int]]]:
    """What every backend's facets must say: the same counts taken from all the hits."""
    return {
        "kind": ranked((h.kind for h in hits), size),
        "source": ranked((h.source for h in hits), size),
        "lang": ranked((h.lang for h in hits), size),
        "tag": ranked((t for h in hits for t in set(h.tags)), size),
        "captured_months": ranked((h.captured_at[:7] for h in hits), size),
    }


def test_facets_count_every_match_per_field(backend: SearchBackend) -> None:
    found = facets_of(backend, EVERYTHING)
    assert found.total == 36
    assert pairs(found.kind) == [("page", 33), ("post", 2), ("transcript", 1)]
    assert pairs(found.source) == [
        ("ru-news", 32),
        ("be-news", 1),
        ("ru-channel", 1),
        ("ru-video", 1),
        ("uk-channel", 1),
    ]
    assert pairs(found.lang) == [("ru", 34), ("be", 1), ("uk", 1)]
    assert pairs(found.tag) == [("news", 34), ("telegram", 2), ("media-freedom", 1)]
    assert pairs(found.captured_months) == [
        ("2024-04", 22),
        ("2024-05", 9),
        ("2024-03", 4),
        ("2023-01", 1),
    ]


def test_facets_ignore_order_and_page(backend: SearchBackend) -> None:
    paged = SearchRequest.of(EVERYTHING, sort="newest", limit=1, offset=30)
    assert backend.facets(paged) == facets_of(backend, EVERYTHING)


def test_facets_keep_the_most_frequent_values(backend: SearchBackend) -> None:
    found = facets_of(backend, EVERYTHING, size=2)
    assert found.total == 36
    assert pairs(found.kind) == [("page", 33), ("post", 2)]
    assert pairs(found.source) == [("ru-news", 32), ("be-news", 1)]
    assert pairs(found.tag) == [("news", 34), ("telegram", 2)]
    assert pairs(found.captured_months) == [("2024-04", 22), ("2024-05", 9)]


def test_facets_may_stop_counting_after_enough_matches(backend: SearchBackend) -> None:
    full = facets_of(backend, EVERYTHING)
    request = SearchRequest.of(EVERYTHING)
    assert backend.facets(request, max_matches=full.total) == full
    capped = backend.facets(request, max_matches=10)
    if capped.complete:  # a backend counting from its own structures gives exact counts
        assert capped == full
        return
    assert capped.total == 10
    assert sum(count.count for count in capped.kind) == 10
    full_kinds = dict(pairs(full.kind))
    assert all(count.count <= full_kinds[count.value] for count in capped.kind)


@pytest.mark.parametrize("size", [0, -1, MAX_FACET_SIZE + 1])
def test_facet_size_out_of_range_is_refused(backend: SearchBackend, size: int) -> None:
    with pytest.raises(ValueError, match="facet size"):
        facets_of(backend, EVERYTHING, size=size)


def test_facets_respect_filters(backend: SearchBackend) -> None:
    posts = facets_of(backend, EVERYTHING, kind="post")
    assert posts.total == 2
    assert pairs(posts.kind) == [("post", 2)]
    assert pairs(posts.source) == [("ru-channel", 1), ("uk-channel", 1)]
    assert pairs(posts.lang) == [("ru", 1), ("uk", 1)]
    assert pairs(posts.tag) == [("telegram", 2)]
    assert pairs(posts.captured_months) == [("2024-03", 2)]
    tagged = facets_of(backend, EVERYTHING, tag="media-freedom")
    assert (tagged.total, pairs(tagged.source)) == (1, [("be-news", 1)])
    assert pairs(tagged.tag) == [("media-freedom", 1), ("news", 1)]
    window = facets_of(
        backend, EVERYTHING, since=T0 + timedelta(days=20), until=T0 + timedelta(days=21, hours=1)
    )
    assert window.total == 2
    assert pairs(window.lang) == [("be", 1), ("uk", 1)]
    assert pairs(window.tag) == [("media-freedom", 1), ("news", 1), ("telegram", 1)]
    assert facets_of(backend, EVERYTHING, source="no-such-source") == Facets(total=0)


def test_facets_of_no_match_are_empty(backend: SearchBackend) -> None:
    assert facets_of(backend, "несуществующееслово") == Facets(total=0)


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        (EVERYTHING, {}),
        (EVERYTHING, {"lang": "ru"}),
        (EVERYTHING, {"kind": "page", "until": T0 + timedelta(days=50)}),
        ("журналисты NOT затрымалі", {}),
        ("задерж* OR затрым* OR detain*", {}),
        ('"прошла у посольства"', {"tag": "news"}),
        *[(query, {}) for query in HOSTILE_QUERIES],
    ],
)
def test_facets_agree_with_all_hits(
    backend: SearchBackend, query: str, filters: dict[str, object]
) -> None:
    request = SearchRequest.of(query, SearchFilters(**filters), limit=MAX_LIMIT)  # type: ignore[arg-type]
    hits = backend.search(request)
    for size in (1, 3, 20):
        found = backend.facets(request, size)
        assert found.total == len(hits)
        assert {
            "kind": pairs(found.kind),
            "source": pairs(found.source),
            "lang": pairs(found.lang),
            "tag": pairs(found.tag),
            "captured_months": pairs(found.captured_months),
        } == facets_from_hits(hits, size)
    assert backend.count() == len(CORPUS)


@pytest.mark.parametrize("query", ["", "  ", "* ^ -", "*:*", "NOT суд", "слово " * 65])
def test_unsearchable_queries_are_refused_before_any_backend(query: str) -> None:
    with pytest.raises(QueryError):
        SearchRequest.of(query)
