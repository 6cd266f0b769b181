"""Per-URL state between crawls: the last payload and text seen, for revisits and change flags.

Mutable and derived (``state/``), never evidence: losing it only means the next crawl stores
full copies again.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import BaseModel

from archive.store import ObjectNotFoundError, ObjectStore


class StoredResponse(BaseModel):
    """The response record a revisit can refer to."""

    uri: str
    warc_date: str
    record_id: str
    warc_key: str
    payload_sha256: str
    status: int
    offset: int | None = None
    length: int | None = None


class UrlState(BaseModel):
    url: str
    original: StoredResponse
    last_capture_id: str
    last_manifest_key: str
    last_captured_at: datetime
    last_text_sha256: str | None = None


def url_state_key(source_id: str, url: str) -> str:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return f"state/urls/{source_id}/{digest[:2]}/{digest}.json"


def load_url_state(store: ObjectStore, source_id: str, url: str) -> UrlState | None:
    try:
        return UrlState.model_validate_json(store.read_bytes(url_state_key(source_id, url)))
    except (ObjectNotFoundError, ValueError):
        return None


def save_url_state(store: ObjectStore, source_id: str, state: UrlState) -> None:
    store.put_state(url_state_key(source_id, state.url), state.model_dump_json().encode("utf-8"))
