"""The queue of capture jobs asked for in the web UI ("Archive a URL"), in SQLite beside the
accounts.

A job is one pasted list: its requests, its bad lines and repeats, and each URL's result as
soon as it is known. Every server process (``serve --workers N``) reads and writes the same
file, so a job asked for in one process may run in another and its page answers in any.

A worker claims the oldest queued job in one ``BEGIN IMMEDIATE`` transaction (no two claim the
same job) and marks it alive every few seconds; a job whose worker stopped marking it (the
server was restarted or killed) goes back to the queue, and its next run captures only the
URLs that have no result yet.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, cast

from osint_archive.adhoc.records import CaptureRequest, CaptureResult, RequestedKind
from osint_archive.adhoc.url_lists import BadLine, UrlList
from web.shared_database import open_shared_database

JobState = Literal["queued", "running", "done"]
# Who runs the job: this server's own worker threads, or Airflow's capture_urls DAG.
Runner = Literal["embedded", "airflow"]
# A job interrupted this often is given up: something in it may be what stops the server.
MAX_ATTEMPTS = 3
JOB_ID_CHARS = 32

SCHEMA = """
CREATE TABLE IF NOT EXISTS capture_jobs (
    id TEXT PRIMARY KEY,
    requested_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    runner TEXT NOT NULL,
    state TEXT NOT NULL,
    kind TEXT NOT NULL,
    force INTEGER NOT NULL,
    note TEXT NOT NULL,
    pasted TEXT NOT NULL, -- JSON: the list's requests, bad lines and repeats
    worker TEXT, -- the worker that claimed it, while it runs
    heartbeat REAL, -- that worker's last sign of life (seconds since the epoch)
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at TEXT,
    error TEXT NOT NULL DEFAULT '',
    dag_run_id TEXT
);
CREATE INDEX IF NOT EXISTS capture_jobs_by_user ON capture_jobs(requested_by, created_at);
CREATE INDEX IF NOT EXISTS capture_jobs_by_state ON capture_jobs(state, created_at);
CREATE TABLE IF NOT EXISTS capture_job_results (
    job_id TEXT NOT NULL REFERENCES capture_jobs(id),
    url TEXT NOT NULL,
    result TEXT NOT NULL, -- JSON: CaptureResult.to_json()
    PRIMARY KEY (job_id, url)
);
"""
SELECT_JOB = (
    "SELECT id, requested_by, created_at, runner, state, kind, force, note, pasted, attempts,"
    " finished_at, error, dag_run_id FROM capture_jobs WHERE id = ?"
)


@dataclass(frozen=True)
class CaptureJob:
    """One pasted list asked to be captured, and what is known of it so far."""

    id: str
    requested_by: str
    created_at: str
    runner: Runner
    state: JobState
    kind: RequestedKind
    force: bool
    note: str
    requests: tuple[CaptureRequest, ...]
    bad_lines: tuple[BadLine, ...] = ()
    repeats: Mapping[int, int] = field(default_factory=dict)  # line -> the line it repeats
    results: Mapping[str, CaptureResult] = field(default_factory=dict)  # by requested URL
    attempts: int = 0
    finished_at: str | None = None
    error: str = ""  # why the job stopped short (the worker's error, Airflow's refusal)
    dag_run_id: str | None = None


def _pasted_json(url_list: UrlList) -> str:
    return json.dumps(
        {
            "requests": [{"url": r.url, "note": r.note, "line": r.line} for r in url_list.requests],
            "bad_lines": [
                {"line": b.line, "text": b.text, "reason": b.reason} for b in url_list.bad_lines
            ],
            "repeats": {str(line): first for line, first in url_list.repeats.items()},
        },
        ensure_ascii=False,
    )


def _result_of(data: str) -> CaptureResult:
    fields = json.loads(data)
    return CaptureResult(
        url=fields["url"],
        status=fields["status"],
        capture_id=fields["capture_id"],
        kind=fields["kind"],
        reason=fields["reason"],
        http_status=fields["http_status"],
        line=fields["line"],
        notes=list(fields["notes"]),
    )


class CaptureQueue:
    """Capture jobs and their results; safe to share between a process's threads."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._db = open_shared_database(path, SCHEMA)
        path.chmod(0o600)  # who asked to preserve what, and why: not for other local users
        # Set when this process queues a job, so its own worker starts at once instead of at
        # its next look at the queue.
        self.added = threading.Event()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that every server process waits its turn for."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(
        self,
        requested_by: str,
        url_list: UrlList,
        kind: RequestedKind,
        force: bool,
        note: str,
        runner: Runner = "embedded",
    ) -> CaptureJob:
        """Queue a pasted list; its requests carry their notes already."""
        job_id = uuid.uuid4().hex
        pasted = _pasted_json(url_list)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.execute(
                "INSERT INTO capture_jobs (id, requested_by, created_at, runner, state, kind,"
                " force, note, pasted) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, requested_by, created, runner, kind, int(force), note, pasted),
            )
        self.added.set()
        job = self.get(job_id)
        assert job is not None  # just written
        return job

    def get(self, job_id: str) -> CaptureJob | None:
        with self._lock:
            row = self._db.execute(SELECT_JOB, (job_id,)).fetchone()
            if row is None:
                return None
            results = self._db.execute(
                "SELECT url, result FROM capture_job_results WHERE job_id = ?", (job_id,)
            ).fetchall()
        return self._job(row, {url: _result_of(data) for url, data in results})

    def recent(self, requested_by: str | None, limit: int = 20) -> list[CaptureJob]:
        """The latest jobs, newest first: one user's, or everyone's (``None``)."""
        with self._lock:
            ids = self._db.execute(
                "SELECT id FROM capture_jobs WHERE ? IS NULL OR requested_by = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (requested_by, requested_by, limit),
            ).fetchall()
        return [job for (job_id,) in ids if (job := self.get(job_id)) is not None]

    def claim(self, worker: str) -> CaptureJob | None:
        """The oldest queued job of this server's own, now running on ``worker``; or None."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM capture_jobs WHERE state = 'queued' AND runner = 'embedded'"
                " ORDER BY created_at, rowid LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE capture_jobs SET state = 'running', worker = ?, heartbeat = ?,"
                " attempts = attempts + 1 WHERE id = ? AND state = 'queued'",
                (worker, self._clock(), row[0]),
            )
        return self.get(row[0])

    def beat(self, job_id: str, worker: str) -> None:
        """The worker running the job is alive."""
        with self._lock:
            self._db.execute(
                "UPDATE capture_jobs SET heartbeat = ? WHERE id = ? AND worker = ?"
                " AND state = 'running'",
                (self._clock(), job_id, worker),
            )

    def record(self, job_id: str, result: CaptureResult) -> None:
        """One URL's result, kept as soon as it is known (a later run's replaces it)."""
        data = json.dumps(result.to_json(), ensure_ascii=False)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO capture_job_results VALUES (?, ?, ?)",
                (job_id, result.url, data),
            )

    def finish(self, job_id: str, worker: str, error: str = "") -> None:
        """The worker is done with the job (``error``: why it stopped short)."""
        with self._lock:
            self._db.execute(
                "UPDATE capture_jobs SET state = 'done', finished_at = ?, error = ?,"
                " worker = NULL WHERE id = ? AND worker = ? AND state = 'running'",
                (_now(), error, job_id, worker),
            )

    def triggered(self, job_id: str, dag_run_id: str | None, error: str = "") -> None:
        """An Airflow job was handed to its DAG (``dag_run_id``), or could not be (``error``)."""
        with self._lock:
            self._db.execute(
                "UPDATE capture_jobs SET state = 'done', finished_at = ?, dag_run_id = ?,"
                " error = ? WHERE id = ? AND runner = 'airflow'",
                (_now(), dag_run_id, error, job_id),
            )

    def requeue_stale(self, stale_seconds: float) -> list[str]:
        """Jobs whose worker has shown no sign of life for ``stale_seconds`` go back to the
        queue (or are given up after ``MAX_ATTEMPTS`` runs); their ids."""
        limit = self._clock() - stale_seconds
        with self._transaction() as db:
            stale = db.execute(
                "SELECT id, attempts FROM capture_jobs WHERE state = 'running'"
                " AND runner = 'embedded' AND (heartbeat IS NULL OR heartbeat < ?)",
                (limit,),
            ).fetchall()
            for job_id, attempts in stale:
                if attempts >= MAX_ATTEMPTS:
                    db.execute(
                        "UPDATE capture_jobs SET state = 'done', worker = NULL, finished_at = ?,"
                        " error = ? WHERE id = ?",
                        (_now(), f"interrupted {attempts} times: given up", job_id),
                    )
                else:
                    db.execute(
                        "UPDATE capture_jobs SET state = 'queued', worker = NULL WHERE id = ?",
                        (job_id,),
                    )
        return [job_id for job_id, _ in stale]

    def _job(self, row: tuple[object, ...], results: dict[str, CaptureResult]) -> CaptureJob:
        (job_id, user, created, runner, state, kind, force, note, pasted, attempts) = row[:10]
        finished, error, dag_run_id = row[10:]
        listed = json.loads(str(pasted))
        return CaptureJob(
            id=str(job_id),
            requested_by=str(user),
            created_at=str(created),
            runner=cast(Runner, runner),
            state=cast(JobState, state),
            kind=cast(RequestedKind, kind),
            force=bool(force),
            note=str(note),
            requests=tuple(
                CaptureRequest(r["url"], r["note"], r["line"]) for r in listed["requests"]
            ),
            bad_lines=tuple(
                BadLine(b["line"], b["text"], b["reason"]) for b in listed["bad_lines"]
            ),
            repeats={int(line): first for line, first in listed["repeats"].items()},
            results=results,
            attempts=int(cast(int, attempts)),
            finished_at=cast(str | None, finished),
            error=str(error),
            dag_run_id=cast(str | None, dag_run_id),
        )

    def close(self) -> None:
        self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
