"""Identifiers that tie a scheduler's run to the archive's run, so retries are idempotent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def scheduled_run_id(scheduler_run_id: str, run_after: datetime) -> str:
    """The archive run id for one scheduler run: the same on every retry and re-run of it.

    Same shape as the pipeline's own ids (``YYYYmmddTHHMMSSZ-xxxxxx``): the first eight
    characters are the run's UTC day, which files its captures.
    """
    moment = run_after.astimezone(UTC) if run_after.tzinfo else run_after.replace(tzinfo=UTC)
    digest = hashlib.sha256(scheduler_run_id.encode()).hexdigest()[:6]
    return f"{moment:%Y%m%dT%H%M%SZ}-{digest}"


@dataclass(frozen=True)
class RunRef:
    """One source's run, as asset events and task arguments carry it."""

    source_id: str
    run_id: str

    def as_dict(self) -> dict[str, str]:
        return {"source_id": self.source_id, "run_id": self.run_id}

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> RunRef | None:
        """The run an asset event's extra names, or None when it names none."""
        source_id, run_id = extra.get("source_id"), extra.get("run_id")
        if isinstance(source_id, str) and isinstance(run_id, str):
            return cls(source_id, run_id)
        return None
