"""The ``SearchBackend`` interface shared by the embedded and the cluster backends."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from index.documents import Document
from index.query import Query, QueryError, parse_query

Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "oldest")
KINDS = ("page", "post", "transcript")
MAX_LIMIT = 1000
MAX_OFFSET = 10_000
FACET_SIZE = 20
MAX_FACET_SIZE = 1000
MARK_OPEN = "<mark>"
MARK_CLOSE = "</mark>"


class IndexUnavailableError(Exception):
    """The index cannot be used as it is (made by another version, cluster unreachable);
    the message says what to do."""


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on hits; ``since``/``until`` bound the capture time, ``published_*`` the
    time a post or page says it was published."""

    kind: str | None = None
    source: str | None = None
    lang: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    published_since: datetime | None = None
    published_until: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("kind", "source", "lang", "tag"):
            problem = _unusable_character(getattr(self, name))
            if problem is not None:
                raise QueryError(f"the {name} filter contains {problem}; remove it")


def _unusable_character(value: str | None) -> str | None:
    """A control character (NUL included) or lone surrogate in a filter value, described;
    such values name no source, language or tag, and NUL cuts strings short in the engines."""
    for char in value or "":
        if unicodedata.category(char) in ("Cc", "Cs"):
            what = "an undecodable byte" if char > "\ud7ff" else "a control character"
            return f"{what} (U+{ord(char):04X})"
    return None


@dataclass(frozen=True)
class SearchRequest:
    """A parsed query with its filters, order and page."""

    query: Query
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: Sort = "relevance"
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
        if not 0 <= self.offset <= MAX_OFFSET:
            raise ValueError(f"offset must be between 0 and {MAX_OFFSET}")
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")

    @classmethod
    def of(
        cls,
        text: str,
        filters: SearchFilters | None = None,
        *,
        sort: Sort = "relevance",
        limit: int = 20,
        offset: int = 0,
    ) -> SearchRequest:
        """Parse ``text`` (raises ``QueryError``) and build a request."""
        return cls(parse_query(text), filters or SearchFilters(), sort, limit, offset)


@dataclass(frozen=True)
class Hit:
    """A search result, as the CLI's ``--json`` prints it. ``snippet`` is HTML: the text is
    escaped and only the ``<mark>`` highlights are markup."""

    id: str
    kind: str
    source: str
    url: str
    capture_id: str
    lang: str
    captured_at: str
    title: str
    snippet: str
    score: float
    published_at: str | None = None
    tags: tuple[str, ...] = ()
    media_sha256: str | None = None  # transcript hits: the media and the segment's seconds
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class FacetCount:
    """One value of a facet and how many matching documents carry it."""

    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    """Counts of the documents matching a request's query and filters, over all its pages.

    Each facet holds at most the ``size`` asked for, by count descending then value
    ascending; ``captured_months`` buckets the capture time by UTC month (``YYYY-MM``).
    ``total`` is the number of matching documents. The counts are taken under every filter
    of the request, the facet's own included (a kind filter leaves one kind). ``complete`` is
    False when a backend counted only the first ``max_matches`` matches it was allowed to:
    ``total`` and the counts are then lower bounds."""

    total: int
    kind: tuple[FacetCount, ...] = ()
    source: tuple[FacetCount, ...] = ()
    lang: tuple[FacetCount, ...] = ()
    tag: tuple[FacetCount, ...] = ()
    captured_months: tuple[FacetCount, ...] = ()
    complete: bool = True


class SearchBackend(Protocol):
    name: str

    def index_documents(self, documents: Sequence[Document]) -> None:
        """Add or replace documents by id (idempotent)."""
        ...

    def search(self, request: SearchRequest) -> list[Hit]:
        """One page of hits, in the request's order."""
        ...

    def facets(
        self, request: SearchRequest, size: int = FACET_SIZE, max_matches: int | None = None
    ) -> Facets:
        """Counts of all the request's matches, unpaged; at most ``size`` values per facet.
        A backend that counts by reading matches stops after ``max_matches`` (and says so in
        ``Facets.complete``); one that counts from its own structures may ignore it."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


class IndexRebuild(Protocol):
    """A fresh index filled beside the live one, then swapped in at once (an alias on
    Elasticsearch, a generation file on SQLite): searches never see a half-built index."""

    @property
    def index(self) -> SearchBackend:
        """The new index, to fill."""
        ...

    def activate(self) -> None:
        """Make the new index the live one and drop the old."""
        ...

    def discard(self) -> None:
        """Drop the new index; the live one stays."""
        ...
