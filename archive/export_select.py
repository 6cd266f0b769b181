"""Choosing the captures an export packages: by capture id, by source and date, or by a query.

Every selection resolves to capture manifests read from the archive (the system of record); a
search index only proposes capture ids, and an id it names that the archive lacks is an error,
never silently dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta

from archive.export_manifests import StoredManifests
from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from index.backend import SearchBackend, SearchFilters, SearchRequest

# The embedded index answers at most this many hits per query (SqliteFtsBackend's cap).
DEFAULT_QUERY_LIMIT = 1000
# How a selected capture is sorted and found again: (captured_at, capture id, manifest key).
Chosen = tuple[datetime, str, str]


class UnknownCaptureError(LookupError):
    """Capture ids that no manifest in the archive carries."""

    def __init__(self, capture_ids: Sequence[str], hint: str = "") -> None:
        self.capture_ids = tuple(capture_ids)
        shown = ", ".join(self.capture_ids[:20])
        more = f" and {len(self.capture_ids) - 20} more" if len(self.capture_ids) > 20 else ""
        message = f"no capture in the archive has the id(s): {shown}{more}"
        super().__init__(message + (f" ({hint})" if hint else ""))


def as_utc_bound(value: datetime | date | None, *, end: bool) -> datetime | None:
    """A date range bound as an aware UTC datetime.

    A bare date means the whole day: ``until=date(2024, 5, 1)`` includes captures made on
    1 May. Naive datetimes are taken as UTC, the timezone of every manifest.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    start = datetime.combine(value, time.min, tzinfo=UTC)
    return start + timedelta(days=1) - timedelta(microseconds=1) if end else start


def _run_day(key: str) -> date | None:
    """The run day a manifest key is filed under (``captures/<src>/<Y>/<M>/<D>/<id>.json``)."""
    parts = key.split("/")
    try:
        return date(int(parts[2]), int(parts[3]), int(parts[4]))
    except (IndexError, ValueError):
        return None


def find_manifest_keys(
    store: ObjectStore, capture_ids: Iterable[str], source: str | None = None
) -> dict[str, str]:
    """Manifest key of each capture id, found by listing ``captures/`` (or one source's part).

    Raises ``UnknownCaptureError`` naming every id without a manifest.
    """
    wanted = list(dict.fromkeys(capture_ids))
    remaining = set(wanted)
    found: dict[str, str] = {}
    for key in iter_manifest_keys(store, source):
        capture_id = key.rsplit("/", 1)[-1].removesuffix(".json")
        if capture_id in remaining:
            found[capture_id] = key
            remaining.discard(capture_id)
            if not remaining:
                break
    if remaining:
        where = f"under source {source!r}" if source else "anywhere in the archive"
        raise UnknownCaptureError([i for i in wanted if i in remaining], f"searched {where}")
    return found


def _in_range(manifest: CaptureManifest, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or manifest.captured_at >= since) and (
        until is None or manifest.captured_at <= until
    )


def select_captures(
    store: ObjectStore,
    *,
    capture_ids: Sequence[str] = (),
    source: str | None = None,
    since: datetime | date | None = None,
    until: datetime | date | None = None,
    query: str | None = None,
    index: SearchBackend | None = None,
    limit: int = DEFAULT_QUERY_LIMIT,
) -> StoredManifests:
    """The capture manifests to export, oldest capture first, read from the store when used
    (``StoredManifests``: only their keys stay in memory).

    Three ways to choose, one per call:

    * ``capture_ids``: exactly these captures (``source`` may narrow the listing; dates are
      not allowed alongside ids, as they could silently drop a named capture);
    * ``query`` (with ``index``): the captures of the search hits, filtered by ``source``,
      ``since`` and ``until`` like ``osint-archive search``, at most ``limit`` hits;
    * otherwise every capture of ``source`` (or of all sources) captured between ``since``
      and ``until`` inclusive; a bare date covers its whole UTC day.

    Raises ``UnknownCaptureError`` for ids (given, or returned by the index) without a
    manifest, and ``ValueError`` for contradictory arguments.
    """
    start, end = as_utc_bound(since, end=False), as_utc_bound(until, end=True)
    if capture_ids and query is not None:
        raise ValueError("choose captures either by id or by query, not both")
    if capture_ids and (start or end):
        raise ValueError("capture ids select exact captures; a date range cannot be added")
    if capture_ids:
        keys = find_manifest_keys(store, capture_ids, source)
        chosen = [_chosen(read_manifest(store, key), key) for key in keys.values()]
    elif query is not None:
        chosen = _select_by_query(store, query, index, source, start, end, limit)
    else:
        chosen = _select_by_range(store, source, start, end)
    chosen.sort()
    return StoredManifests(store, [key for _, _, key in chosen])


def _chosen(manifest: CaptureManifest, key: str) -> Chosen:
    return (manifest.captured_at, manifest.capture_id, key)


def _select_by_query(
    store: ObjectStore,
    query: str,
    index: SearchBackend | None,
    source: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[Chosen]:
    if index is None:
        raise ValueError("selecting by query needs a search index (index=...)")
    filters = SearchFilters(source=source, since=since, until=until)
    hits = index.search(SearchRequest.of(query, filters, limit=limit))
    # Several hits (a page, transcript segments) may name one capture; list each once.
    by_source: dict[str, list[str]] = {}
    for hit in hits:
        ids = by_source.setdefault(hit.source, [])
        if hit.capture_id not in ids:
            ids.append(hit.capture_id)
    chosen: list[Chosen] = []
    missing: list[str] = []
    for hit_source, ids in by_source.items():
        try:
            keys = find_manifest_keys(store, ids, hit_source)
        except UnknownCaptureError as err:
            missing.extend(err.capture_ids)
            continue
        chosen.extend(_chosen(read_manifest(store, key), key) for key in keys.values())
    if missing:
        raise UnknownCaptureError(missing, "the search index names them; run `reindex`")
    return chosen


def _select_by_range(
    store: ObjectStore, source: str | None, since: datetime | None, until: datetime | None
) -> list[Chosen]:
    chosen = []
    for key in iter_manifest_keys(store, source):
        # Manifests are filed under their run's start day, never after the capture itself:
        # a run that started after ``until`` cannot hold a capture in range.
        run_day = _run_day(key)
        if until is not None and run_day is not None and run_day > until.date():
            continue
        manifest = read_manifest(store, key)
        if _in_range(manifest, since, until):
            chosen.append(_chosen(manifest, key))
    return chosen
