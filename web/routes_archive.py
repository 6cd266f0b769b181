"""The "Archive a URL" page: analysts ask for URLs to be captured now, and follow each job's page.

The form takes one URL or a pasted list (one a line, or CSV with ``url`` and ``note``
columns, as ``osint-archive capture --from-file`` reads). A job runs on the server's own
capture worker (``web.capture_worker``), or as a run of Airflow's ``capture_urls`` DAG when
Airflow is the scheduler (``web.airflow_runs``). A user sees their own jobs; custodians and
admins see everyone's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from osint_archive.adhoc.records import REQUESTED_KINDS, RequestedKind
from osint_archive.adhoc.url_lists import UrlList, UrlListError, parse_url_list
from web.accounts import Role
from web.airflow_runs import AirflowError, DagRun
from web.capture_queue import JOB_ID_CHARS, CaptureJob
from web.pages import Analyst, NotFoundError, Viewer, check_csrf, render, state_of

router = APIRouter()
JOB_ID = re.compile(rf"[0-9a-f]{{{JOB_ID_CHARS}}}")
MAX_URLS_PER_JOB = 500
MAX_NOTE_CHARS = 2000
REFRESH_SECONDS = 2
AIRFLOW_UNFINISHED = ("queued", "running")


@dataclass(frozen=True)
class JobLine:
    """One line of the pasted list as its job page shows it."""

    line: int | None
    url: str
    # captured, existing, failed; waiting (no result yet), airflow (Airflow's DAG captures
    # it), bad (not a URL that can be captured), repeat (a URL listed on an earlier line)
    status: str
    reason: str = ""
    capture_id: str | None = None
    kind: str = ""
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "url": self.url,
            "status": self.status,
            "reason": self.reason,
            "capture_id": self.capture_id,
            "kind": self.kind,
            "notes": list(self.notes),
        }


def lines_of(job: CaptureJob) -> list[JobLine]:
    """Every line of the job's list in order: results, bad lines and repeats."""
    lines: list[JobLine] = []
    for request in job.requests:
        result = job.results.get(request.url)
        if result is not None:
            lines.append(
                JobLine(
                    request.line,
                    request.url,
                    result.status,
                    result.reason,
                    result.capture_id,
                    result.kind,
                    tuple(result.notes),
                )
            )
        elif job.runner == "airflow":
            lines.append(JobLine(request.line, request.url, "airflow"))
        elif job.state == "done":
            reason = job.error or "not captured: the job ended before this URL"
            lines.append(JobLine(request.line, request.url, "failed", reason))
        else:
            lines.append(JobLine(request.line, request.url, "waiting"))
    lines += [JobLine(bad.line, bad.text, "bad", bad.reason) for bad in job.bad_lines]
    first_urls = {request.line: request.url for request in job.requests}
    lines += [
        JobLine(line, first_urls.get(first, ""), "repeat", f"repeats line {first}")
        for line, first in job.repeats.items()
    ]
    return sorted(lines, key=lambda line: line.line or 0)


def _may_see(viewer: Viewer, job: CaptureJob) -> bool:
    return job.requested_by == viewer.username or viewer.role.allows(Role.CUSTODIAN)


def _job_or_404(request: Request, viewer: Viewer, job_id: str) -> CaptureJob:
    """The job, when it exists and is the viewer's to see (else 404, saying nothing)."""
    job = state_of(request).jobs.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None or not _may_see(viewer, job):
        raise NotFoundError
    return job


def _archive_page(
    request: Request, viewer: Viewer, status: int = 200, error: str = "", **form: Any
) -> Response:
    """The form (with what was typed, after a refusal) and the recent jobs."""
    everyone = viewer.role.allows(Role.CUSTODIAN)
    jobs = state_of(request).jobs.recent(None if everyone else viewer.username)
    return render(
        request,
        "archive.html",
        viewer,
        status,
        kinds=REQUESTED_KINDS,
        jobs=jobs,
        everyone=everyone,
        airflow=state_of(request).settings.airflow is not None,
        error=error,
        form={"urls": "", "note": "", "kind": "auto", "force": False, **form},
    )


@router.get("/archive")
def archive_form(request: Request, viewer: Analyst) -> Response:
    return _archive_page(request, viewer)


def _pasted_list(text: str, note: str) -> UrlList:
    """The requests of the pasted text, each with the form's note unless its CSV row has one."""
    wanted = parse_url_list(text.encode("utf-8"), is_csv=False)
    wanted.requests = [r if r.note else replace(r, note=note) for r in wanted.requests]
    return wanted


def _form_problem(wanted: UrlList, note: str, kind: str) -> str | None:
    """Why the form cannot be queued as sent, or None."""
    if kind not in REQUESTED_KINDS:
        return f"unknown kind {kind!r}: use one of {', '.join(REQUESTED_KINDS)}"
    if len(note) > MAX_NOTE_CHARS:
        return f"the note is longer than {MAX_NOTE_CHARS} characters"
    if not wanted.requests:
        bad = "; ".join(f"line {b.line}: {b.reason}" for b in wanted.bad_lines[:5])
        return "no URL to capture" + (f" ({bad})" if bad else "")
    if len(wanted.requests) > MAX_URLS_PER_JOB:
        return f"{len(wanted.requests)} URLs: at most {MAX_URLS_PER_JOB} in one request"
    return None


@router.post("/archive")
async def request_captures(request: Request, viewer: Analyst) -> Response:
    form = await check_csrf(request, viewer)
    text, note = str(form.get("urls", "")), str(form.get("note", "")).strip()
    kind, force = str(form.get("kind", "auto")), form.get("force") == "1"
    entered = {"urls": text, "note": note, "kind": kind, "force": force}
    try:
        wanted = _pasted_list(text, note)
    except UrlListError as err:
        return _archive_page(request, viewer, 400, error=str(err), **entered)
    problem = _form_problem(wanted, note, kind)
    if problem is not None:
        return _archive_page(request, viewer, 400, error=problem, **entered)
    state = state_of(request)
    airflow = state.settings.airflow
    job = state.jobs.add(
        viewer.username,
        wanted,
        cast(RequestedKind, kind),
        force,
        note,
        runner="embedded" if airflow is None else "airflow",
    )
    if airflow is not None:
        conf = {
            "urls": [r.url for r in job.requests],
            "note": note,
            "kind": kind,
            "requested_by": viewer.username,
            "force": force,
        }
        try:
            run = await run_in_threadpool(airflow.trigger, conf)
            state.jobs.triggered(job.id, run.run_id)
        except AirflowError as err:
            state.jobs.triggered(job.id, None, str(err))
    return RedirectResponse(f"/archive/jobs/{job.id}", 303)


def _dag_run_of(request: Request, job: CaptureJob) -> tuple[DagRun | None, str]:
    """The job's DAG run as Airflow reports it now, or why that cannot be known."""
    airflow = state_of(request).settings.airflow
    if job.runner != "airflow" or job.dag_run_id is None:
        return None, ""
    if airflow is None:
        return None, "Airflow is no longer configured (OSINT_ARCHIVE_AIRFLOW_API_URL)"
    try:
        return airflow.dag_run(job.dag_run_id), ""
    except AirflowError as err:
        return None, str(err)


@router.get("/archive/jobs/{job_id}.json")
def job_json(request: Request, job_id: str, viewer: Analyst) -> Response:
    """The job page's data, for scripts and tests."""
    job = _job_or_404(request, viewer, job_id)
    dag_run, airflow_error = _dag_run_of(request, job)
    return JSONResponse(
        {
            "id": job.id,
            "state": job.state,
            "runner": job.runner,
            "requested_by": job.requested_by,
            "created_at": job.created_at,
            "finished_at": job.finished_at,
            "kind": job.kind,
            "force": job.force,
            "note": job.note,
            "error": job.error,
            "dag_run": None if dag_run is None else {"id": dag_run.run_id, "state": dag_run.state},
            "airflow_error": airflow_error,
            "lines": [line.to_json() for line in lines_of(job)],
        }
    )


@router.get("/archive/jobs/{job_id}")
def job_page(request: Request, job_id: str, viewer: Analyst) -> Response:
    job = _job_or_404(request, viewer, job_id)
    dag_run, airflow_error = _dag_run_of(request, job)
    if job.runner == "airflow":
        unfinished = dag_run is not None and dag_run.state in AIRFLOW_UNFINISHED
    else:
        unfinished = job.state != "done"
    return render(
        request,
        "archive_job.html",
        viewer,
        job=job,
        lines=lines_of(job),
        dag_run=dag_run,
        airflow_error=airflow_error,
        refresh_seconds=REFRESH_SECONDS if unfinished else None,
    )
