"""The search page: the query, facets with counts, sort and pages of hits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from index.backend import KINDS, MAX_OFFSET, SORTS, Facets, Hit, SearchFilters, SearchRequest
from index.query import QueryError
from web.markup import safe_snippet, seconds_label
from web.pages import Investigator, render, state_of

router = APIRouter()
PAGE_SIZE = 20
# Facets stop counting where pages end: a word in most documents would otherwise cost a
# second of counting for numbers nobody pages through; the page then says "10,000+".
FACET_MATCHES = MAX_OFFSET
FILTER_NAMES = ("kind", "source", "lang", "tag", "since", "until")


@dataclass(frozen=True)
class SearchForm:
    """The search as the URL states it; unknown or malformed values are dropped, not fatal."""

    q: str = ""
    kind: str = ""
    source: str = ""
    lang: str = ""
    tag: str = ""
    since: str = ""
    until: str = ""
    sort: str = "relevance"
    page: int = 1

    @classmethod
    def of(cls, request: Request) -> SearchForm:
        params = request.query_params
        values = {name: params.get(name, "").strip()[:200] for name in FILTER_NAMES}
        if values["kind"] not in KINDS:
            values["kind"] = ""
        for name in ("since", "until"):
            if values[name] and _date(values[name]) is None:
                values[name] = ""
        sort = params.get("sort", "relevance")
        try:
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            page = 1
        return cls(
            q=params.get("q", "")[:1000],
            sort=sort if sort in SORTS else "relevance",
            page=min(page, MAX_OFFSET // PAGE_SIZE + 1),
            **values,
        )

    def filters(self) -> SearchFilters:
        since, until = _date(self.since), _date(self.until)
        return SearchFilters(
            kind=self.kind or None,
            source=self.source or None,
            lang=self.lang or None,
            tag=self.tag or None,
            since=datetime.combine(since, time.min) if since else None,
            until=datetime.combine(until, time.max) if until else None,
        )

    def url(self, **changes: object) -> str:
        """This search's URL with some parameters changed (empty ones left out); a changed
        filter goes back to page 1."""
        values: dict[str, object] = {
            "q": self.q,
            **{name: getattr(self, name) for name in FILTER_NAMES},
            "sort": self.sort,
            "page": self.page,
        }
        if set(changes) - {"page"}:
            values["page"] = 1
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None, 1) or k == "q"}
        if kept.get("sort") == "relevance":
            kept.pop("sort")
        return "/search?" + urlencode(kept)

    @property
    def active_filters(self) -> list[tuple[str, str]]:
        return [(name, getattr(self, name)) for name in FILTER_NAMES if getattr(self, name)]


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def month_bounds(month: str) -> tuple[str, str]:
    """First and last day of a ``YYYY-MM`` month, as ISO dates."""
    first = date.fromisoformat(f"{month}-01")
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.isoformat(), date.fromordinal(following.toordinal() - 1).isoformat()


@dataclass(frozen=True)
class HitRow:
    hit: Hit

    @property
    def snippet(self) -> object:
        return safe_snippet(self.hit.snippet)

    @property
    def link(self) -> str:
        if self.hit.kind == "transcript" and self.hit.media_sha256:
            return (
                f"/captures/{self.hit.capture_id}/play/{self.hit.media_sha256}"
                f"?t={self.hit.start or 0:.2f}"
            )
        return f"/captures/{self.hit.capture_id}"

    @property
    def time_range(self) -> str | None:
        if self.hit.start is None or self.hit.end is None:
            return None
        return f"{seconds_label(self.hit.start)}–{seconds_label(self.hit.end)}"


@router.get("/search")
def search_page(request: Request, viewer: Investigator) -> Response:
    form = SearchForm.of(request)
    context: dict[str, object] = {"form": form, "rows": [], "facets": None, "error": None}
    if form.q.strip():
        try:
            search = SearchRequest.of(
                form.q,
                form.filters(),
                sort=form.sort,  # type: ignore[arg-type]
                limit=PAGE_SIZE,
                offset=(form.page - 1) * PAGE_SIZE,
            )
        except QueryError as err:
            context["error"] = str(err)
            return render(request, "search.html", viewer, 400, **context)
        state = state_of(request)
        # As many searches at once as the machine has cores: more would only share the CPU,
        # stretching every search (a heavy one to many seconds) instead of queueing.
        with state.search_slots:
            index = state.index.get()
            hits = index.search(search)
            facets: Facets = index.facets(search, max_matches=FACET_MATCHES)
        pages = max(1, -(-min(facets.total, MAX_OFFSET + PAGE_SIZE) // PAGE_SIZE))
        context.update(
            rows=[HitRow(hit) for hit in hits],
            facets=facets,
            notes=search.query.notes,
            pages=pages,
            month_bounds=month_bounds,
        )
    return render(request, "search.html", viewer, 200, **context)
