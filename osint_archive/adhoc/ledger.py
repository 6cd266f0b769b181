"""What was captured ad hoc, and when: the reuse window and resuming an interrupted list.

Both are state (``state/adhoc/…``), never evidence: losing them only means a URL is captured
once more. The evidence of who asked for a capture and why is its ``requested`` custody event.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pydantic import BaseModel

from archive.store import ObjectNotFoundError, ObjectStore


class AdhocCapture(BaseModel):
    """The latest on-demand capture of one URL (as normalised)."""

    url: str
    capture_id: str
    manifest_key: str
    kind: str
    captured_at: datetime
    http_status: int | None = None


class ListJournal(BaseModel):
    """A list being worked through: when its first attempt started, and whether it ended."""

    sha256: str
    started_at: datetime
    complete: bool = False


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def capture_key(url: str) -> str:
    digest = _digest(url)
    return f"state/adhoc/urls/{digest[:2]}/{digest}.json"


def lane_of(url: str) -> str:
    """The run lane of one URL: its captures take turns, other URLs run beside them."""
    return _digest(url)[:24]


def load_capture(store: ObjectStore, url: str) -> AdhocCapture | None:
    try:
        return AdhocCapture.model_validate_json(store.read_bytes(capture_key(url)))
    except (ObjectNotFoundError, ValueError):
        return None


def save_capture(store: ObjectStore, capture: AdhocCapture) -> None:
    store.put_state(capture_key(capture.url), capture.model_dump_json().encode("utf-8"))


def _list_key(sha256: str) -> str:
    return f"state/adhoc/lists/{sha256}.json"


def open_list(store: ObjectStore, sha256: str) -> tuple[ListJournal, bool]:
    """The list's journal, and whether it resumes an interrupted attempt."""
    try:
        journal = ListJournal.model_validate_json(store.read_bytes(_list_key(sha256)))
        if not journal.complete:
            return journal, True
    except (ObjectNotFoundError, ValueError):
        pass
    journal = ListJournal(sha256=sha256, started_at=datetime.now(UTC))
    store.put_state(_list_key(sha256), journal.model_dump_json().encode("utf-8"))
    return journal, False


def close_list(store: ObjectStore, journal: ListJournal) -> None:
    done = journal.model_copy(update={"complete": True})
    store.put_state(_list_key(journal.sha256), done.model_dump_json().encode("utf-8"))
