"""The ``SearchBackend`` interface shared by the embedded and the cluster backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from index.documents import Document


@dataclass(frozen=True)
class SearchFilters:
    kind: str | None = None
    source: str | None = None
    lang: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Hit:
    """A search result, as the CLI's ``--json`` prints it."""

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
    media_sha256: str | None = None  # transcript hits: the media and the segment's seconds
    start: float | None = None
    end: float | None = None


class SearchBackend(Protocol):
    def index_documents(self, documents: Sequence[Document]) -> None:
        """Add or replace documents by id (idempotent)."""
        ...

    def search(self, query: str, filters: SearchFilters, limit: int = 20) -> list[Hit]:
        """Ranked hits for a query."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...
