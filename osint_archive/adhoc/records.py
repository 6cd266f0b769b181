"""The records of an on-demand capture: what was asked, how, and what came of each URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The built-in source every on-demand capture belongs to: audit, export, search facets and the
# web UI treat it like any configured source.
ADHOC_SOURCE_ID = "adhoc"

RequestedKind = Literal["auto", "web", "browser", "telegram", "video"]
REQUESTED_KINDS: tuple[RequestedKind, ...] = ("auto", "web", "browser", "telegram", "video")
ResultStatus = Literal["captured", "existing", "failed"]
Channel = Literal["cli", "web", "airflow"]


@dataclass(frozen=True)
class CaptureRequest:
    """One URL to preserve now, with the requester's reason; ``line`` in its list file."""

    url: str
    note: str = ""
    line: int | None = None


@dataclass(frozen=True)
class CaptureOptions:
    """How a batch is captured and on whose behalf (recorded in the custody log)."""

    requested_by: str
    via: Channel = "cli"
    kind: RequestedKind = "auto"
    force: bool = False  # capture again even within the reuse window
    # URLs in flight at once; each host's politeness gate still spaces its own requests, so
    # this only bounds how many hosts are served side by side (measured: bench/capture.py).
    parallel: int = 8
    transcribe: bool = True  # run speech recognition on the media captured
    # Fixed run ids per URL (a scheduler's retry resumes its own capture of that URL).
    run_ids: dict[str, str] = field(default_factory=dict)
    # A list being worked through: its SHA-256, so an interrupted list resumes.
    list_sha256: str | None = None


@dataclass
class CaptureResult:
    """What happened to one requested URL: ``captured`` now, ``existing`` (a capture made
    within the reuse window, or earlier in a resumed list), or ``failed`` with the reason."""

    url: str
    status: ResultStatus
    capture_id: str | None = None
    kind: str = ""
    reason: str = ""
    http_status: int | None = None
    line: int | None = None
    note: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. "plain capture: no browser"
    # A failure that may pass if tried again later (a network error, HTTP 429 or 5xx).
    retryable: bool = False

    def to_json(self) -> dict[str, object]:
        """The ``--json`` object: the contract's ``url, status, capture_id, kind, reason``,
        then what helps a script (``http_status``, ``line``, ``notes``)."""
        return {
            "url": self.url,
            "status": self.status,
            "capture_id": self.capture_id,
            "kind": self.kind,
            "reason": self.reason,
            "http_status": self.http_status,
            "line": self.line,
            "notes": list(self.notes),
            "retryable": self.retryable,
        }
