"""Search requests as Elasticsearch ``_search`` bodies, and responses as hits.

Every word the user typed travels as the plain value of a ``multi_match`` or a ``prefix``
query, never through ``query_string`` syntax, so nothing typed is read as an operator.

Matching mirrors the embedded backend (:mod:`index.sqlite_fts`): a word or a quoted phrase is
a phrase over the title (weighted three times) and text fields, reduced by the multi-language
analyzer, or by the filtered language's only; a prefix (``задерж*``) matches index terms that
begin with the folded word or with its term in each language searched.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from index.analysis import FOLD, WordForms, query_languages
from index.backend import (
    FACET_SIZE,
    MARK_CLOSE,
    MARK_OPEN,
    FacetCount,
    Facets,
    Hit,
    SearchFilters,
    SearchRequest,
    Sort,
)
from index.es_schema import (
    ANY_LANGUAGE_ANALYZER,
    LANGUAGE_GROUPS,
    analyzer_name,
    field_group,
    split_words,
    text_field,
    title_field,
)
from index.facets import check_facet_size, top_counts
from index.query import All, Node, Phrase, Term
from index.query import Any as AnyOf

TITLE_BOOST = 3.0
FRAGMENT_CHARS = 150
# Postings offsets spare re-analysis for most queries, but prefix queries still re-analyse;
# a text longer than index.highlight.max_analyzed_offset (1,000,000 characters) would fail
# the whole search, so highlighting stops just below it instead.
MAX_ANALYZED_OFFSET = 999_999
PHRASE_PREFIX_EXPANSIONS = 100
SORTS: dict[Sort, list[dict[str, Any]]] = {
    "relevance": [
        {"_score": {"order": "desc"}},
        {"captured_at": {"order": "desc"}},
        {"id": {"order": "asc"}},
    ],
    "newest": [{"captured_at": {"order": "desc"}}, {"id": {"order": "desc"}}],
    "oldest": [{"captured_at": {"order": "asc"}}, {"id": {"order": "asc"}}],
}
# The facets counted by a terms aggregation, by name (the Facets field) and keyword field;
# ties in count go by value, as on SQLite.
FACET_FIELDS = {"kind": "kind", "source": "source", "lang": "lang", "tag": "tags"}
TERMS_ORDER = [{"_count": "desc"}, {"_key": "asc"}]
MONTHS = "captured_months"
_MARKS = re.compile(f"({re.escape(MARK_OPEN)}|{re.escape(MARK_CLOSE)})")


@dataclass(frozen=True)
class Scope:
    """Where and how words are matched: the field groups, the analyzer applied to query
    words, and the languages a prefix is reduced for."""

    groups: tuple[str, ...]
    analyzer: str
    languages: tuple[str, ...]

    @classmethod
    def of(cls, lang: str | None) -> Scope:
        if not lang:
            return cls(LANGUAGE_GROUPS, ANY_LANGUAGE_ANALYZER, query_languages(None))
        group = field_group(lang)
        analyzer = analyzer_name(group)
        return cls((group,), analyzer, query_languages(lang))

    def fields(self) -> list[str]:
        found: list[str] = []
        for group in self.groups:
            found += [f"{title_field(group)}^{TITLE_BOOST:g}", text_field(group)]
        return found


def _multi_match(text: str, kind: str, scope: Scope) -> dict[str, Any]:
    query: dict[str, Any] = {
        "query": text,
        "type": kind,
        "fields": scope.fields(),
        "analyzer": scope.analyzer,
    }
    if kind == "phrase_prefix":
        query["max_expansions"] = PHRASE_PREFIX_EXPANSIONS
    return {"multi_match": query}


def _prefix(word: str, scope: Scope) -> dict[str, Any]:
    """A one-word prefix: index terms that begin with the word as typed, folded but not
    stemmed (as on SQLite: ``задерж*`` finds «задержали»; a stemmed prefix would reach too
    far, ``затрым*`` → ``затр``)."""
    values = [word.lower().translate(FOLD)]
    if not values[0]:
        return {"match_none": {}}
    clauses = [
        {"prefix": {field: {"value": value, "boost": boost}}}
        for group in scope.groups
        for field, boost in ((title_field(group), TITLE_BOOST), (text_field(group), 1.0))
        for value in values
    ]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def query_clause(node: Node, scope: Scope, forms: WordForms) -> dict[str, Any]:
    """The query of one node of the parsed tree."""
    if isinstance(node, Term):
        if not node.prefix:
            return _multi_match(node.text, "phrase", scope)
        words = split_words(node.text)
        if not words:
            return {"match_none": {}}
        if len(words) == 1:
            return _prefix(words[0], scope)
        # Several words joined by punctuation (нью-йор*): a phrase whose last word is a prefix.
        return _multi_match(node.text, "phrase_prefix", scope)
    if isinstance(node, Phrase):
        return _multi_match(" ".join(node.words), "phrase", scope)
    if isinstance(node, All):
        clause: dict[str, Any] = {"must": [query_clause(p, scope, forms) for p in node.include]}
        if node.exclude:
            clause["must_not"] = [query_clause(p, scope, forms) for p in node.exclude]
        return {"bool": clause}
    if isinstance(node, AnyOf):
        return {
            "bool": {
                "should": [query_clause(p, scope, forms) for p in node.parts],
                "minimum_should_match": 1,
            }
        }
    raise TypeError(f"not a query node: {node!r}")


def filter_clauses(filters: SearchFilters) -> list[dict[str, Any]]:
    """Exact-value and date-range filters (they do not score)."""
    clauses: list[dict[str, Any]] = [
        {"term": {field: value}}
        for field, value in (
            ("kind", filters.kind),
            ("source", filters.source),
            ("lang", filters.lang),
            ("tags", filters.tag),
        )
        if value
    ]
    for field, since, until in (
        ("captured_at", filters.since, filters.until),
        ("published_at", filters.published_since, filters.published_until),
    ):
        bounds = {}
        if since is not None:
            bounds["gte"] = since.isoformat()
        if until is not None:
            bounds["lte"] = until.isoformat()
        if bounds:
            clauses.append({"range": {field: bounds}})
    return clauses


def highlight_clause(scope: Scope) -> dict[str, Any]:
    """Snippets from the text field: HTML-escaped, marks around matches, the beginning of
    the text when only the title matched."""
    per_field = {
        "fragment_size": FRAGMENT_CHARS,
        "number_of_fragments": 1,
        "no_match_size": FRAGMENT_CHARS,
    }
    return {
        "pre_tags": [MARK_OPEN],
        "post_tags": [MARK_CLOSE],
        "encoder": "html",
        "max_analyzed_offset": MAX_ANALYZED_OFFSET,
        "fields": {text_field(group): dict(per_field) for group in scope.groups},
    }


def request_query(request: SearchRequest, forms: WordForms | None = None) -> dict[str, Any]:
    """The ``query`` of a request: its words must match, its filters restrict."""
    scope = Scope.of(request.filters.lang)
    root = query_clause(request.query.root, scope, forms or WordForms())
    query: dict[str, Any] = {"must": [root]}
    filters = filter_clauses(request.filters)
    if filters:
        query["filter"] = filters
    return {"bool": query}


def search_body(request: SearchRequest, forms: WordForms | None = None) -> dict[str, Any]:
    """The ``_search`` body of a request. ``forms`` reduces prefix words (a fresh
    :class:`WordForms` when not given; one is not shared between threads)."""
    scope = Scope.of(request.filters.lang)
    return {
        "query": request_query(request, forms),
        "sort": SORTS[request.sort],
        "track_scores": True,
        "track_total_hits": False,
        "from": request.offset,
        "size": request.limit,
        "_source": {"excludes": [text_field(group) for group in LANGUAGE_GROUPS]},
        "highlight": highlight_clause(scope),
    }


def facets_body(
    request: SearchRequest, size: int = FACET_SIZE, forms: WordForms | None = None
) -> dict[str, Any]:
    """The ``_search`` body counting a request's matches per facet: no hits, an exact
    total, the ``size`` most frequent values of each keyword field and every capture month
    that has a match. Sort, limit and offset are ignored. The counts are exact while the index
    has one shard (the schema's)."""
    check_facet_size(size)
    aggregations: dict[str, Any] = {
        name: {"terms": {"field": field, "size": size, "order": TERMS_ORDER}}
        for name, field in FACET_FIELDS.items()
    }
    aggregations[MONTHS] = {
        "date_histogram": {
            "field": "captured_at",
            "calendar_interval": "month",
            "format": "yyyy-MM",
            "time_zone": "UTC",
            "min_doc_count": 1,
        }
    }
    return {
        "query": request_query(request, forms),
        "size": 0,
        "track_total_hits": True,
        "aggs": aggregations,
    }


def facets_from_response(response: Mapping[str, Any], size: int = FACET_SIZE) -> Facets:
    """The facets of a :func:`facets_body` response, ranked as on every backend."""
    aggregations: Mapping[str, Any] = response.get("aggregations") or {}

    def counts(name: str, key: str) -> tuple[FacetCount, ...]:
        buckets = (aggregations.get(name) or {}).get("buckets") or []
        return top_counts({str(b[key]): int(b["doc_count"]) for b in buckets}, size)

    return Facets(
        total=int(response["hits"]["total"]["value"]),
        kind=counts("kind", "key"),
        source=counts("source", "key"),
        lang=counts("lang", "key"),
        tag=counts("tag", "key"),
        captured_months=counts(MONTHS, "key_as_string"),
    )


def normalise_snippet(fragment: str) -> str:
    """Re-escape a highlighted fragment as :mod:`index.snippets` does (``html.escape``), so
    both backends write the same HTML; the marks are the only markup."""
    parts = _MARKS.split(fragment)
    return "".join(
        part if part in (MARK_OPEN, MARK_CLOSE) else html.escape(html.unescape(part), quote=True)
        for part in parts
    )


def _snippet(hit: Mapping[str, Any], group: str) -> str:
    highlight: Mapping[str, list[str]] = hit.get("highlight") or {}
    fragments = highlight.get(text_field(group)) or next(
        (found for found in highlight.values() if found), []
    )
    return normalise_snippet(fragments[0]) if fragments else ""


def _optional_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _tags(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # Elasticsearch keeps a one-element array as it was sent
        return (value,)
    return tuple(str(tag) for tag in value) if isinstance(value, list) else ()


def hit_from_es(hit: Mapping[str, Any]) -> Hit:
    """One hit of a ``_search`` response."""
    source: Mapping[str, Any] = hit["_source"]
    group = field_group(source.get("lang"))
    published = source.get("published_at")
    media = source.get("media_sha256")
    return Hit(
        id=str(source.get("id", hit.get("_id", ""))),
        kind=str(source["kind"]),
        source=str(source["source"]),
        url=str(source["url"]),
        capture_id=str(source["capture_id"]),
        lang=str(source["lang"]),
        captured_at=str(source["captured_at"]),
        title=str(source.get(title_field(group), "")),
        snippet=_snippet(hit, group),
        score=float(hit.get("_score") or 0.0),
        published_at=str(published) if published is not None else None,
        tags=_tags(source.get("tags")),
        media_sha256=str(media) if media is not None else None,
        start=_optional_float(source.get("start")),
        end=_optional_float(source.get("end")),
    )


def hits_from_response(response: Mapping[str, Any]) -> list[Hit]:
    """The hits of a ``_search`` response, in its order."""
    return [hit_from_es(hit) for hit in response["hits"]["hits"]]
