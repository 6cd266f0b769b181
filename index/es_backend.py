"""The cluster search backend: Elasticsearch 8/9 behind an alias.

Searches and writes go through the alias (``osint-archive`` by default), which points at one
concrete index ``<alias>-<UTC timestamp>``. A rebuild fills a new concrete index and swaps the
alias in one atomic ``_aliases`` call (:class:`EsRebuild`), so searches never meet a
half-built index. An index template named after the alias carries the schema of
:mod:`index.es_schema`, which each index is also created with explicitly.

Documents are written with ``_bulk`` ``index`` actions whose ``_id`` is the document id, so
writing twice replaces rather than duplicates. Batches are bounded by count and bytes; items
the cluster rejects for load (HTTP 429) are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from elasticsearch import ApiError, TransportError

from index.backend import FACET_SIZE, Facets, Hit, IndexUnavailableError, SearchRequest
from index.documents import Document
from index.es_config import INDEX_NAME, EsConfig, EsConfigError
from index.es_query import facets_body, facets_from_response, hits_from_response, search_body
from index.es_schema import (
    field_group,
    index_mappings,
    index_pattern,
    index_settings,
    index_template,
    schema_format,
    text_field,
    title_field,
)

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

TOO_MANY_REQUESTS = 429


class EsIndexError(IndexUnavailableError):
    """The index behind the alias cannot be used as it is; the message says what to do."""


class EsBulkError(RuntimeError):
    """Documents were not indexed: ``failed`` of them, for ``first_reason`` among others."""

    def __init__(self, message: str, failed: int, first_reason: str) -> None:
        super().__init__(message)
        self.failed = failed
        self.first_reason = first_reason


@dataclass(frozen=True)
class Backoff:
    """Waits between tries of rejected bulk items: ``initial`` seconds doubling up to
    ``maximum``, each drawn from its upper half (jitter spreads writers apart); at most
    ``tries`` requests in all."""

    initial: float = 0.5
    maximum: float = 30.0
    tries: int = 8

    def delay(self, retry: int) -> float:
        """The wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.maximum, self.initial * 2 ** (retry - 1))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not a secret


@dataclass(frozen=True)
class BulkItem:
    """One document as its two ``_bulk`` lines (action and source, newline-terminated)."""

    doc_id: str
    payload: bytes


def document_source(doc: Document) -> dict[str, Any]:
    """The indexed form of a document: its title and text in its language's fields."""
    group = field_group(doc.lang)
    source: dict[str, Any] = {
        "id": doc.id,
        "kind": doc.kind,
        "source": doc.source,
        "url": doc.url,
        "capture_id": doc.capture_id,
        "lang": doc.lang,
        "captured_at": doc.captured_at.isoformat(),
        "tags": list(doc.tags),
        title_field(group): doc.title,
        text_field(group): doc.text,
    }
    optional = {
        "published_at": doc.published_at.isoformat() if doc.published_at else None,
        "media_sha256": doc.media_sha256,
        "start": doc.start,
        "end": doc.end,
    }
    source.update({key: value for key, value in optional.items() if value is not None})
    return source


def bulk_item(doc: Document) -> BulkItem:
    action = json.dumps({"index": {"_id": doc.id}}, ensure_ascii=False)
    source = json.dumps(document_source(doc), ensure_ascii=False, separators=(",", ":"))
    return BulkItem(doc.id, f"{action}\n{source}\n".encode())


def bulk_batches(
    items: Iterable[BulkItem], max_docs: int, max_bytes: int
) -> Iterator[list[BulkItem]]:
    """Consecutive batches of at most ``max_docs`` items and ``max_bytes`` bytes (a single
    item larger than that goes alone)."""
    batch: list[BulkItem] = []
    size = 0
    for item in items:
        if batch and (len(batch) >= max_docs or size + len(item.payload) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += len(item.payload)
    if batch:
        yield batch


def _reason(error: Any) -> str:
    if isinstance(error, dict):
        kind = error.get("type", "error")
        reason = error.get("reason", "")
        return f"{kind}: {reason}" if reason else str(kind)
    return str(error)


def new_index_name(alias: str) -> str:
    """A concrete index name for ``alias``, unique to the microsecond (``index_pattern``)."""
    return f"{alias}-{datetime.now(UTC).strftime('%Y%m%dt%H%M%S%fz')}"


class ElasticsearchBackend:
    """Search and write through ``alias`` (the config's index name by default); ``target``
    names a concrete index to use instead (a rebuild's). Call :meth:`ensure_index` once
    before the first write or search."""

    name = "elasticsearch"

    def __init__(
        self,
        config: EsConfig,
        alias: str | None = None,
        *,
        target: str | None = None,
        client: Elasticsearch | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.config = config
        self.alias = alias or config.index
        if not INDEX_NAME.match(self.alias):
            raise EsConfigError(f"not a valid alias name: {self.alias!r}")
        self.target = target or self.alias
        self.client = client if client is not None else config.client()
        self.backoff = backoff or Backoff()

    def install_template(self) -> None:
        """Create or update the index template named after the alias."""
        body = index_template(self.alias)
        self.client.indices.put_index_template(
            name=self.alias,
            index_patterns=body["index_patterns"],
            priority=body["priority"],
            template=body["template"],
            meta=body["_meta"],
        )

    def create_index(
        self, name: str, *, with_alias: bool, refresh_interval: str | None = None
    ) -> None:
        """Create concrete index ``name`` with the schema; ``with_alias`` makes it the
        alias's write index in the same step."""
        aliases = {self.alias: {"is_write_index": True}} if with_alias else None
        settings = index_settings()
        if refresh_interval is not None:
            settings["index"] = {**settings["index"], "refresh_interval": refresh_interval}
        self.client.indices.create(
            index=name, settings=settings, mappings=index_mappings(), aliases=aliases
        )

    def ensure_index(self) -> None:
        """Install the template and, when the alias does not exist yet, create the first
        index behind it; an existing index made with another schema raises EsIndexError, and
        so does a cluster that cannot be reached or refuses the credentials."""
        try:
            self.install_template()
        except (TransportError, ApiError) as err:
            raise EsIndexError(
                f"cannot use Elasticsearch at {self.config.url}: {err}; check"
                " OSINT_ARCHIVE_ES_URL and the credentials"
            ) from err
        if not self.client.indices.exists_alias(name=self.alias):
            try:
                self.create_index(new_index_name(self.alias), with_alias=True)
            except ApiError as err:
                # Another process may have created it first: one write index per alias.
                if not self.client.indices.exists_alias(name=self.alias):
                    raise EsIndexError(
                        f"cannot create the index behind alias {self.alias!r}: {err}"
                    ) from err
        self.check_format()

    def check_format(self) -> None:
        """Raise EsIndexError when an index behind the alias has another schema."""
        mappings = self.client.indices.get_mapping(index=self.alias)
        expected = schema_format()
        for index, body in mappings.body.items():
            found = body.get("mappings", {}).get("_meta", {}).get("format")
            if found != expected:
                raise EsIndexError(
                    f"the Elasticsearch index {index} has schema {found!r}, not {expected!r};"
                    " run `osint-archive reindex` to rebuild it"
                )

    def concrete_indices(self) -> list[str]:
        """The indices the alias points at (none before :meth:`ensure_index`)."""
        found = self.client.options(ignore_status=404).indices.get_alias(name=self.alias)
        if found.meta.status == 404:
            return []
        return sorted(found.body)

    def index_documents(self, documents: Sequence[Document]) -> None:
        items = (bulk_item(doc) for doc in documents)
        for batch in bulk_batches(items, self.config.bulk_docs, self.config.bulk_bytes):
            self._send(batch)

    def _send(self, batch: list[BulkItem]) -> None:
        """One batch, retrying the items rejected with 429 until ``backoff.tries`` requests
        have been made; any other item error raises at once."""
        pending = batch
        for attempt in range(1, self.backoff.tries + 1):
            rejected, first_reason = self._bulk_once(pending)
            if not rejected:
                return
            if attempt == self.backoff.tries:
                raise EsBulkError(
                    f"{len(rejected)} of {len(batch)} documents were still rejected by "
                    f"{self.target!r} after {attempt} tries (cluster overloaded); first "
                    f"reason: {first_reason}",
                    failed=len(rejected),
                    first_reason=first_reason,
                )
            time.sleep(self.backoff.delay(attempt))
            pending = rejected

    def _bulk_once(self, items: list[BulkItem]) -> tuple[list[BulkItem], str]:
        """Send ``items``; the ones rejected for load, and the first such reason."""
        try:
            # The lines are already NDJSON; the client sends bytes as they are.
            payload = cast(Any, b"".join(item.payload for item in items))
            response = self.client.bulk(index=self.target, operations=payload)
        except ApiError as err:
            if err.meta.status == TOO_MANY_REQUESTS:
                return items, _reason(err.body.get("error") if isinstance(err.body, dict) else err)
            raise
        if not response.body.get("errors"):
            return [], ""
        rejected: list[BulkItem] = []
        first_reason = ""
        for item, result in zip(items, response.body["items"], strict=True):
            outcome = next(iter(result.values()))
            status = int(outcome.get("status", 500))
            if status == TOO_MANY_REQUESTS:
                rejected.append(item)
                first_reason = first_reason or _reason(outcome.get("error"))
            elif status >= 300:
                reason = _reason(outcome.get("error"))
                raise EsBulkError(
                    f"document {item.doc_id!r} was refused by {self.target!r}: {reason}",
                    failed=1,
                    first_reason=reason,
                )
        return rejected, first_reason

    def search(self, request: SearchRequest) -> list[Hit]:
        response = self.client.search(index=self.target, body=search_body(request))
        return hits_from_response(response.body)

    def facets(
        self, request: SearchRequest, size: int = FACET_SIZE, max_matches: int | None = None
    ) -> Facets:
        # Aggregations count every match from the index's own structures: always complete.
        response = self.client.search(index=self.target, body=facets_body(request, size))
        return facets_from_response(response.body, size)

    def count(self) -> int:
        return int(self.client.count(index=self.target)["count"])

    def refresh(self) -> None:
        """Make everything written so far searchable (tests; a rebuild before its swap)."""
        self.client.indices.refresh(index=self.target)

    def begin_rebuild(self) -> EsRebuild:
        """A new concrete index to fill, swapped in by :meth:`EsRebuild.activate`."""
        return EsRebuild(self)

    def drop(self) -> None:
        """Delete the alias's indices (a failed rebuild's too) and its template (tests)."""
        matching = self.client.options(ignore_status=404).indices.get(
            index=index_pattern(self.alias), allow_no_indices=True
        )
        names = set(self.concrete_indices())
        if matching.meta.status != 404:
            names.update(matching.body)
        for name in sorted(names):
            self.client.options(ignore_status=404).indices.delete(index=name)
        self.client.options(ignore_status=404).indices.delete_index_template(name=self.alias)

    def close(self) -> None:
        self.client.close()


class EsRebuild:
    """A fresh concrete index beside the live one; ``activate`` points the alias at it in
    one atomic call and deletes the old, ``discard`` deletes it. ``index`` shares the live
    backend's client: closing either closes both."""

    def __init__(self, live: ElasticsearchBackend) -> None:
        self.live = live
        live.install_template()
        self.name = new_index_name(live.alias)
        # Nobody searches it before the swap: no periodic refreshes while it fills.
        live.create_index(self.name, with_alias=False, refresh_interval="-1")
        self.index = ElasticsearchBackend(
            live.config, live.alias, target=self.name, client=live.client, backoff=live.backoff
        )

    def activate(self) -> None:
        client = self.live.client
        client.indices.put_settings(index=self.name, settings={"index": {"refresh_interval": None}})
        self.index.refresh()
        old = [name for name in self.live.concrete_indices() if name != self.name]
        actions: list[dict[str, Any]] = [
            {"remove": {"index": name, "alias": self.live.alias, "must_exist": True}}
            for name in old
        ]
        actions.append(
            {"add": {"index": self.name, "alias": self.live.alias, "is_write_index": True}}
        )
        client.indices.update_aliases(actions=actions)
        for name in old:
            client.options(ignore_status=404).indices.delete(index=name)

    def discard(self) -> None:
        self.live.client.options(ignore_status=404).indices.delete(index=self.name)
