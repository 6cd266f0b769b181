"""Each source's last attempt and last success, and whether it is overdue.

Kept under ``state/health/`` (mutable, never evidence) by the scheduled crawl, read by the
overdue alert: a source that has not succeeded within twice its schedule interval.
"""

from __future__ import annotations

import functools
import itertools
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from archive.store import ObjectNotFoundError, ObjectStore

PRESET_INTERVALS = {
    "@hourly": timedelta(hours=1),
    "@daily": timedelta(days=1),
    "@weekly": timedelta(weeks=1),
    "@monthly": timedelta(days=31),
    "@quarterly": timedelta(days=92),
    "@yearly": timedelta(days=366),
    "@annually": timedelta(days=366),
}


# A cron repeats at most weekly (day-of-month schedules aside): the gaps over eight days
# include its longest. A schedule firing more often than every few minutes stops at the cap.
SPAN_SAMPLED = timedelta(days=8)
MAX_FIRES_SAMPLED = 3000


@functools.lru_cache(maxsize=1024)
def schedule_interval(schedule: str | None) -> timedelta | None:
    """The longest gap between two runs of ``schedule`` (None: manual or once).

    An irregular cron such as ``20 */6 * * 1-5`` has gaps of several lengths; the longest is
    the one a healthy source may go without a run. Cached: many sources share a schedule, and
    this runs when DAG files are parsed.
    """
    if schedule is None or schedule == "@once":
        return None
    if schedule in PRESET_INTERVALS:
        return PRESET_INTERVALS[schedule]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    fires = croniter(schedule, start)
    times = [fires.get_next(datetime)]
    while times[-1] - start < SPAN_SAMPLED and len(times) < MAX_FIRES_SAMPLED:
        times.append(fires.get_next(datetime))
    times.append(fires.get_next(datetime))  # the gap that crosses the end of the span
    return max(later - earlier for earlier, later in itertools.pairwise(times))


@dataclass(frozen=True)
class SourceHealth:
    source_id: str
    last_attempt_at: str
    last_run_id: str
    last_success_at: str | None = None
    last_error: str = ""

    @staticmethod
    def key(source_id: str) -> str:
        return f"state/health/{source_id}.json"


def load_health(store: ObjectStore, source_id: str) -> SourceHealth | None:
    try:
        return SourceHealth(**json.loads(store.read_bytes(SourceHealth.key(source_id))))
    except (ObjectNotFoundError, ValueError, TypeError):
        return None  # state is a cache: a lost record reads as "never succeeded"


def record_attempt(
    store: ObjectStore, source_id: str, run_id: str, error: str, now: datetime | None = None
) -> SourceHealth:
    """Note one attempt; a success moves ``last_success_at``."""
    moment = (now or datetime.now(UTC)).isoformat()
    previous = load_health(store, source_id)
    earlier_success = previous.last_success_at if previous else None
    health = SourceHealth(
        source_id,
        last_attempt_at=moment,
        last_run_id=run_id,
        last_success_at=earlier_success if error else moment,
        last_error=error,
    )
    store.put_state(SourceHealth.key(source_id), json.dumps(asdict(health)).encode())
    return health


def overdue_message(
    health: SourceHealth | None, source_id: str, interval: timedelta, now: datetime
) -> str | None:
    """Why ``source_id`` is overdue (no success within twice ``interval``), or None."""
    limit = 2 * interval
    if health is None or health.last_success_at is None:
        last = "it has never succeeded"
    else:
        age = now - datetime.fromisoformat(health.last_success_at)
        if age <= limit:
            return None
        last = f"its last success was {_span(age)} ago ({health.last_success_at})"
    error = f"; last error: {health.last_error}" if health and health.last_error else ""
    return f"source {source_id} is overdue: {last}, limit {_span(limit)}{error}"


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"
