"""On-demand captures as scheduled tasks: the ``capture_urls`` DAG's work, without Airflow.

- ``read_conf``: a triggered run's conf checked, and each URL given its archive run id;
- ``capture_one``: one URL captured (one mapped task), retried and re-run without duplicates;
- ``summarise``: what came of every URL of the run.

Idempotent per (URL, DAG run): a URL's first archive run id is derived from the DAG run and
the URL, and what each attempt did is kept in ``state/adhoc/airflow/…``. A retry after a lost
worker resumes that run; a retry after the URL gave a transient answer (a network error, HTTP
429 or 5xx) captures in a run of its own, so the failed answer stays evidence of its attempt; a
re-run of a task that succeeded returns its result again and fetches nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel

from archive.manifest import read_manifest
from archive.store import ObjectNotFoundError, ObjectStore
from collectors.urls import normalise_url
from osint_archive.adhoc import (
    ADHOC_SOURCE_ID,
    CaptureOptions,
    CaptureRequest,
    CaptureResult,
)
from osint_archive.adhoc.ledger import lane_of, load_capture
from osint_archive.adhoc.records import REQUESTED_KINDS, RequestedKind
from osint_archive.adhoc.runner import capture_urls
from osint_archive.pipeline import is_transient_status, load_journal, run_manifests
from osint_archive.scheduling.failures import PermanentFailure, TransientFailure
from osint_archive.scheduling.runs import RunRef, scheduled_run_id
from osint_archive.settings import Settings

MAX_URLS = 10_000  # one mapped task each; Airflow's [core] max_map_length must allow as many
CONF_KEYS = ("urls", "note", "kind", "requested_by", "force")
Verdict = Literal["done", "transient", "permanent"]


@dataclass(frozen=True)
class UrlTarget:
    """One URL of a run, as its mapped task gets it: the URL and its first archive run id."""

    url: str
    run_id: str


@dataclass(frozen=True)
class RunOptions:
    """What every URL of one DAG run shares (from its conf)."""

    note: str = ""
    kind: RequestedKind = "auto"
    requested_by: str = "airflow"
    force: bool = False


@dataclass
class CapturePlan:
    """A checked conf: the URLs to map (repeats dropped), and the options they share."""

    targets: list[UrlTarget]
    options: RunOptions
    repeats: list[str] = field(default_factory=list)


def url_run_ids(dag_run_id: str, run_after: datetime, urls: Sequence[str]) -> list[str]:
    """The first archive run id of each URL: ``YYYYmmddTHHMMSSZ-<6 hex>`` of the DAG run's time
    and a hash of (DAG run, URL), the same on every retry, distinct within the run (six hex
    digits can collide among thousands of URLs; a colliding URL hashes again)."""
    taken: set[str] = set()
    run_ids = []
    for url in urls:
        salt = 0
        run_id = scheduled_run_id(f"{dag_run_id}\n{url}", run_after)
        while run_id in taken:
            salt += 1
            run_id = scheduled_run_id(f"{dag_run_id}\n{url}\n{salt}", run_after)
        taken.add(run_id)
        run_ids.append(run_id)
    return run_ids


def read_conf(
    conf: Mapping[str, Any] | None,
    dag_run_id: str,
    run_after: datetime,
    default_requester: str = "airflow",
    max_urls: int = MAX_URLS,
) -> CapturePlan:
    """The plan of a triggered run, or a ``PermanentFailure`` naming every problem of its conf.

    Each URL is only checked to be a string here: a URL that cannot be captured fails its own
    task, never the others."""
    if not isinstance(conf, Mapping):
        raise PermanentFailure(
            f'the run\'s conf must be a JSON object like {{"urls": ["https://…"]}}, got {conf!r}'
        )
    problems = []
    unknown = sorted(set(conf) - set(CONF_KEYS))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(map(repr, unknown))} (known: {CONF_KEYS})")
    urls = conf.get("urls")
    if urls is None:
        problems.append('no "urls": give the URLs to capture, {"urls": ["https://…"]}')
    elif not isinstance(urls, list):
        problems.append(f'"urls" must be a list of URLs, got {type(urls).__name__}: {urls!r:.200}')
    elif not urls:
        problems.append('"urls" is empty: give at least one URL')
    elif len(urls) > max_urls:
        problems.append(
            f'"urls" has {len(urls)} URLs, more than the {max_urls} one run may capture '
            f"(one mapped task each; split the list or raise Airflow's [core] max_map_length, "
            f"at most {MAX_URLS})"
        )
    else:
        problems += [
            f'"urls"[{i}] is not a string: {u!r:.200}'
            for i, u in enumerate(urls)
            if not isinstance(u, str)
        ][:10]
    for key in ("note", "requested_by"):
        if not isinstance(conf.get(key, ""), str):
            problems.append(f'"{key}" must be a string, got {conf[key]!r:.200}')
    kind = conf.get("kind", "auto")
    if kind not in REQUESTED_KINDS:
        problems.append(f'"kind" must be one of {", ".join(REQUESTED_KINDS)}, not {kind!r:.100}')
    if not isinstance(conf.get("force", False), bool):
        problems.append(f'"force" must be true or false, got {conf["force"]!r:.100}')
    if problems:
        raise PermanentFailure("the run's conf was refused: " + "; ".join(problems))
    assert isinstance(urls, list)
    unique: dict[str, str] = {}
    repeats = []
    for url in (u.strip() for u in urls):
        if normalise_url(url) in unique:
            repeats.append(url)
        else:
            unique[normalise_url(url)] = url
    wanted = list(unique.values())
    run_ids = url_run_ids(dag_run_id, run_after, wanted)
    targets = [UrlTarget(u, r) for u, r in zip(wanted, run_ids, strict=True)]
    return CapturePlan(targets, read_options(conf, default_requester), repeats)


def read_options(conf: Mapping[str, Any], default_requester: str = "airflow") -> RunOptions:
    """The options of a conf that ``read_conf`` accepted (each task reads them from the conf:
    Airflow maps over a task's whole result only, and that is the list of URLs)."""
    named = conf.get("requested_by") or ""
    # Whoever may trigger a run may name anyone: the account that triggered it is kept too.
    requested_by = (
        f"{named} (triggered by {default_requester})"
        if named and default_requester not in (named, "airflow")
        else named or default_requester
    )
    return RunOptions(
        note=conf.get("note", ""),
        kind=conf.get("kind", "auto"),
        requested_by=requested_by,
        force=conf.get("force", False),
    )


# --- one URL ---------------------------------------------------------------------------------


class UrlRunState(BaseModel):
    """What one URL's task has done in one DAG run: the archive runs it tried (the last is
    current), its result once done, or its last failure."""

    dag_run_id: str
    url: str
    run_ids: list[str]
    result: dict[str, Any] | None = None
    failure: str = ""


def state_key(dag_run_id: str, url: str) -> str:
    run = hashlib.sha256(dag_run_id.encode("utf-8")).hexdigest()
    target = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return f"state/adhoc/airflow/{run[:2]}/{run}/{target}.json"


def load_state(store: ObjectStore, dag_run_id: str, url: str) -> UrlRunState | None:
    try:
        return UrlRunState.model_validate_json(store.read_bytes(state_key(dag_run_id, url)))
    except (ObjectNotFoundError, ValueError):
        return None


def _save_state(store: ObjectStore, state: UrlRunState) -> None:
    key = state_key(state.dag_run_id, state.url)
    store.put_state(key, state.model_dump_json().encode("utf-8"))


@dataclass(frozen=True)
class UrlOutcome:
    """A mapped task's return value (the result as ``osint-archive capture --json`` gives it,
    with the archive run) and, for a new capture holding media, the run to transcribe."""

    result: dict[str, Any]
    media_run: RunRef | None = None


def verdict_of(result: CaptureResult) -> Verdict:
    """Whether the URL is done, may succeed later, or will not.

    An answer that may pass (HTTP 408/425/429/5xx) is retried although it is kept as evidence;
    a 404 is evidence of the 404 and done; a failure says itself whether it may pass (a
    network error) or not (a bad URL, a refused target, a redirect loop)."""
    if result.status != "failed":
        transient = result.http_status is not None and is_transient_status(result.http_status)
        return "transient" if transient else "done"
    return "transient" if result.retryable else "permanent"


def _run_status(store: ObjectStore, url: str, run_id: str) -> str | None:
    """``running`` or ``complete`` when ``run_id`` is the latest run of the URL's lane."""
    journal = load_journal(store, f"{ADHOC_SOURCE_ID}.{lane_of(normalise_url(url))}")
    return journal.status if journal is not None and journal.run_id == run_id else None


def _committed_result(store: ObjectStore, target: UrlTarget, run_id: str) -> CaptureResult | None:
    """The capture a finished run of this URL committed, when its task was lost before saying
    so (running it again under the same id would capture the URL a second time)."""
    wanted = {target.url, normalise_url(target.url)}
    seeds = [m for m in run_manifests(store, ADHOC_SOURCE_ID, run_id) if m.requested_url in wanted]
    if not seeds:
        return None
    capture = seeds[0]
    kind = "browser" if capture.browser is not None else capture.kind
    result = CaptureResult(target.url, "captured", capture.capture_id, kind)
    result.http_status = capture.status
    result.notes.append("captured by an earlier try of this task")
    return result


def _next_run_id(state: UrlRunState, now: datetime) -> str:
    """A run of its own for the next attempt, dated when it is chosen (an attempt's id, once
    saved, is resumed by a retry)."""
    attempt = len(state.run_ids) + 1
    return scheduled_run_id(f"{state.dag_run_id}\n{state.url}\n#attempt-{attempt}", now)


def _media_run(store: ObjectStore, result: CaptureResult, run_id: str) -> RunRef | None:
    """The run to hand to transcription: a capture made now that holds media."""
    if result.status != "captured" or result.capture_id is None:
        return None
    entry = load_capture(store, normalise_url(result.url))
    if entry is None or entry.capture_id != result.capture_id:
        return None
    manifest = read_manifest(store, entry.manifest_key)
    return RunRef(ADHOC_SOURCE_ID, run_id) if manifest.media else None


def capture_one(
    settings: Settings,
    target: UrlTarget,
    options: RunOptions,
    dag_run_id: str,
    operator: str = "",
    now: datetime | None = None,
) -> UrlOutcome:
    """Capture one URL of a DAG run; ``TransientFailure`` when trying again later may succeed,
    ``PermanentFailure`` when it will not, each with the reason."""
    store = settings.open_store()
    state = load_state(store, dag_run_id, target.url) or UrlRunState(
        dag_run_id=dag_run_id, url=target.url, run_ids=[target.run_id]
    )
    if state.result is not None:
        return UrlOutcome(state.result)
    run_id = state.run_ids[-1]
    result = None
    if _run_status(store, target.url, run_id) == "complete":
        result = _committed_result(store, target, run_id)
    if result is None:
        capture_options = CaptureOptions(
            requested_by=options.requested_by,
            via="airflow",
            kind=options.kind,
            # A retry after a transient answer must not be handed that answer again.
            force=options.force or len(state.run_ids) > 1,
            parallel=1,
            transcribe=False,  # the transcribe DAG does it, in the speech pool
            run_ids={target.url: run_id},
        )
        request = CaptureRequest(target.url, options.note)
        (result,) = asyncio.run(capture_urls(settings, [request], capture_options, operator))
    answer = {**result.to_json(), "run_id": run_id if result.status == "captured" else None}
    verdict = verdict_of(result)
    if verdict == "done":
        state.result = answer
        _save_state(store, state)
        return UrlOutcome(answer, _media_run(store, result, run_id))
    state.failure = result.reason or "nothing captured"
    if result.status != "failed":
        state.failure = f"{state.failure} (capture {result.capture_id} kept as evidence)"
    if _run_status(store, target.url, run_id) != "running":
        # The attempt's run is over: the next attempt captures in a run of its own.
        state.run_ids.append(_next_run_id(state, now or datetime.now(UTC)))
    _save_state(store, state)
    failure = TransientFailure if verdict == "transient" else PermanentFailure
    raise failure(f"{target.url}: {state.failure}")


# --- the run ---------------------------------------------------------------------------------

SUMMARY_FIELDS = ("url", "capture_id", "kind", "http_status", "run_id", "reason")


def summarise(settings: Settings, dag_run_id: str, targets: Sequence[UrlTarget]) -> dict[str, Any]:
    """Every URL of the run under ``captured``, ``existing`` or ``failed`` (with the reason its
    task gave, or that it did not finish), then the counts; read from what each task recorded."""
    store = settings.open_store()
    summary: dict[str, Any] = {"captured": [], "existing": [], "failed": []}
    for target in targets:
        state = load_state(store, dag_run_id, target.url)
        if state is not None and state.result is not None:
            row = {k: state.result.get(k) for k in SUMMARY_FIELDS}
            summary[str(state.result["status"])].append(row)
        else:
            reason = state.failure if state is not None else ""
            reason = reason or "no result: its task did not finish (its log says why)"
            summary["failed"].append({"url": target.url, "reason": reason})
    summary["counts"] = {s: len(summary[s]) for s in ("captured", "existing", "failed")}
    return summary
