"""The project's Airflow DAGs, built from the sources file; ``dags/`` only calls these.

Nothing heavy runs at parse time: reading and validating the sources file is the only work,
and each task imports the pipeline when it runs.

- ``crawl_<source>``: one per source, on its schedule; publishes ``CAPTURES``.
- ``transcribe``: on ``CAPTURES``; one task per media file; publishes ``TRANSCRIPTS``.
- ``index``: on ``CAPTURES`` or ``TRANSCRIPTS``; indexes what those runs stored.
- ``audit``: weekly fixity audit.
- ``capture_urls``: triggered with URLs in its conf; one task per URL (on-demand captures).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import textwrap
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from airflow.sdk import DAG, Asset, AssetAlias, TriggerRule, task
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from osint_archive.scheduling.failures import PermanentFailure, TransientFailure
from osint_archive.scheduling.health import schedule_interval
from osint_archive.scheduling.pools import BROWSER_POOL, SPEECH_POOL, crawl_pool
from osint_archive.scheduling.runs import RunRef
from osint_archive.settings import Settings
from osint_archive.sources import Source, SourcesConfig, load_sources

PROJECT_ROOT = Path(__file__).resolve().parents[2]
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

CAPTURES = Asset(name="osint_archive_captures", uri="osint-archive://archive/captures")
TRANSCRIPTS = Asset(name="osint_archive_transcripts", uri="osint-archive://archive/transcripts")
# On-demand captures publish CAPTURES events through an alias: only those holding media do.
ADHOC_CAPTURES = AssetAlias(name="osint_archive_adhoc_captures")

# Below Airflow's [core] max_map_length (1024): a longer list of media is batched instead.
MAX_MAPPED_TASKS = 1000

P = ParamSpec("P")
R = TypeVar("R")


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """The sources file: ``OSINT_ARCHIVE_CONFIG``, relative paths taken from the project root
    (Airflow's processes do not start in it)."""
    path = Path(environ.get("OSINT_ARCHIVE_CONFIG", "config/sources.yaml"))
    return path if path.is_absolute() else PROJECT_ROOT / path


def task_settings() -> Settings:
    """Settings for a task: the environment, with the home and sources file anchored at the
    project root when given as relative paths."""
    environ = dict(os.environ)
    environ["OSINT_ARCHIVE_CONFIG"] = str(config_path(environ))
    home = Path(environ.get("OSINT_ARCHIVE_HOME", "data"))
    environ["OSINT_ARCHIVE_HOME"] = str(home if home.is_absolute() else PROJECT_ROOT / home)
    return Settings.from_env(environ)


def scheduler_failures(function: Callable[P, R]) -> Callable[P, R]:
    """Turn the pipeline's failures into Airflow's: a permanent one fails the task at once
    (no retries), a transient one is retried with backoff."""

    @functools.wraps(function)
    def translated(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except PermanentFailure as err:
            raise AirflowFailException(str(err)) from err
        except TransientFailure as err:
            raise AirflowException(str(err)) from err

    return translated


def default_args(owner: str = "osint-archive") -> dict[str, Any]:
    """Retries with exponential backoff: 5, 10, 20 min … capped at an hour (the first delay is
    ``OSINT_ARCHIVE_RETRY_DELAY_SECONDS``)."""
    return {
        "owner": owner,
        "retries": int(os.environ.get("OSINT_ARCHIVE_RETRIES", "3")),
        "retry_delay": timedelta(
            seconds=float(os.environ.get("OSINT_ARCHIVE_RETRY_DELAY_SECONDS", "300"))
        ),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(hours=1),
    }


def runs_named(
    triggering_asset_events: Mapping[Any, Iterable[Any]] | None, conf: Mapping[str, Any] | None
) -> tuple[list[RunRef], list[str]]:
    """The runs and transcript records that triggered a DAG run (from its asset events, or a
    manual run's conf ``{"runs": [{"source_id", "run_id"}], "record_keys": [...]}``)."""
    runs: dict[RunRef, None] = {}
    records: dict[str, None] = {}
    extras: list[Mapping[str, Any]] = [
        event.extra or {} for events in (triggering_asset_events or {}).values() for event in events
    ]
    named_runs = (conf or {}).get("runs", [])
    named_records = (conf or {}).get("record_keys", [])
    if not isinstance(named_runs, list) or not all(
        isinstance(r, dict) and RunRef.from_extra(r) for r in named_runs
    ):
        raise PermanentFailure(
            'the run\'s conf "runs" must be a list of {"source_id": …, "run_id": …} objects, '
            f"got {named_runs!r}"
        )
    if not isinstance(named_records, list):
        raise PermanentFailure(
            f'the run\'s conf "record_keys" must be a list, got {named_records!r}'
        )
    for extra in [*extras, *named_runs]:
        run = RunRef.from_extra(dict(extra))
        if run is not None:
            runs[run] = None
        records.update(dict.fromkeys(str(k) for k in extra.get("record_keys", [])))
    records.update(dict.fromkeys(str(k) for k in named_records))
    return list(runs), list(records)


# --- tasks (run on workers; the pipeline is imported only here) ----------------------------


@task(task_id="crawl", outlets=[CAPTURES])
@scheduler_failures
def crawl(source_id: str, *, dag_run: Any = None, outlet_events: Any = None) -> dict[str, Any]:
    """Crawl the source into the archive; the asset event names the run for the next stages."""
    from osint_archive.scheduling.crawl import crawl_source

    summary = crawl_source(task_settings(), source_id, dag_run.run_id, dag_run.run_after)
    outlet_events[CAPTURES].extra = summary.event_extra()
    return summary.event_extra()


@task(task_id="list_media")
@scheduler_failures
def list_media(
    *, triggering_asset_events: Any = None, dag_run: Any = None
) -> list[list[dict[str, str]]]:
    """The media files of the runs that triggered this DAG run (all archived media when a run
    names none), in batches: one file each up to ``MAX_MAPPED_TASKS`` files."""
    from osint_archive.scheduling.media import media_batches, media_tasks

    runs, _ = runs_named(triggering_asset_events, dag_run.conf if dag_run else None)
    batches = media_batches(media_tasks(task_settings(), runs), MAX_MAPPED_TASKS)
    return [[t.as_dict() for t in batch] for batch in batches]


@task(
    task_id="transcribe",
    pool=SPEECH_POOL,
    outlets=[TRANSCRIPTS],
)
@scheduler_failures
def transcribe(media: list[dict[str, str]], *, outlet_events: Any = None) -> dict[str, Any]:
    """Transcribe a batch of media files (a transcript that exists is kept, not redone)."""
    from osint_archive.scheduling.media import MediaTask, transcribe_batch

    extra = transcribe_batch(task_settings(), [MediaTask(**m) for m in media])
    outlet_events[TRANSCRIPTS].extra = extra
    return extra


@task(task_id="index_documents")
@scheduler_failures
def index_documents(*, triggering_asset_events: Any = None, dag_run: Any = None) -> dict[str, int]:
    """Index what the triggering runs captured and transcribed (everything when none named)."""
    from osint_archive.scheduling.indexing import index_runs

    runs, records = runs_named(triggering_asset_events, dag_run.conf if dag_run else None)
    return dict(index_runs(task_settings(), runs, records))


@task(task_id="audit_fixity", execution_timeout=timedelta(hours=24))
@scheduler_failures
def audit_fixity() -> dict[str, object]:
    """Re-hash every stored object against its manifest; fails listing what is not intact."""
    from osint_archive.scheduling.audit import audit_fixity as audit

    return audit(task_settings())


def requester(dag_run: Any) -> str:
    """On whose behalf a capture run was triggered when its conf does not say: the user who
    triggered it."""
    return getattr(dag_run, "triggering_user_name", None) or "airflow"


@task(task_id="validate_conf")
@scheduler_failures
def validate_conf(*, dag_run: Any = None) -> list[dict[str, str]]:
    """Check the run's conf; every URL gets its archive run id. A bad conf fails the run."""
    from airflow.sdk.configuration import conf

    from osint_archive.scheduling.adhoc import MAX_URLS, read_conf

    plan = read_conf(
        dag_run.conf,
        dag_run.run_id,
        dag_run.run_after,
        default_requester=requester(dag_run),
        max_urls=min(MAX_URLS, conf.getint("core", "max_map_length", fallback=1024)),
    )
    print(f"{len(plan.targets)} URL(s) to capture, {plan.options}")
    for url in plan.repeats:
        print(f"listed more than once, captured once: {url}")
    return [dataclasses.asdict(t) for t in plan.targets]


@task(
    task_id="capture_url",
    pool=BROWSER_POOL,  # `auto` renders in Chromium; one pool bounds ad-hoc load on the cluster
    outlets=[ADHOC_CAPTURES],
    map_index_template="{{ task.op_kwargs['target']['url'] | truncate(200) }}",
)
@scheduler_failures
def capture_url(
    target: dict[str, str], *, dag_run: Any = None, outlet_events: Any = None
) -> dict[str, Any]:
    """Capture one URL; its result as ``osint-archive capture --json`` gives it, with the run."""
    from osint_archive.adhoc.runner import configured_operator
    from osint_archive.scheduling.adhoc import UrlTarget, capture_one, read_options

    settings = task_settings()
    options = read_options(dag_run.conf, requester(dag_run))
    done = capture_one(
        settings, UrlTarget(**target), options, dag_run.run_id, configured_operator(settings)
    )
    print(f"{done.result['status']}: {done.result['url']} {done.result['reason']}".rstrip())
    if done.media_run is not None:
        outlet_events[ADHOC_CAPTURES].add(CAPTURES, extra=done.media_run.as_dict())
    return done.result


@task(task_id="summary", trigger_rule=TriggerRule.ALL_DONE)
@scheduler_failures
def capture_summary(targets: list[dict[str, str]] | None, *, dag_run: Any = None) -> dict[str, Any]:
    """What came of every URL of the run: captured, existing, failed (with the reason)."""
    from osint_archive.scheduling.adhoc import UrlTarget, summarise

    if targets is None:
        raise AirflowSkipException("no URLs to list: validate_conf refused the run's conf")
    summary = summarise(task_settings(), dag_run.run_id, [UrlTarget(**t) for t in targets])
    for status in ("captured", "existing", "failed"):
        for row in summary[status]:
            print(f"{status:<8} {row['url']} {row.get('capture_id') or row['reason'] or ''}")
    print(", ".join(f"{n} {status}" for status, n in summary["counts"].items()))
    return summary


@task(task_id="fail_run_if_any_failed", trigger_rule=TriggerRule.ONE_FAILED)
def fail_run_if_any_failed() -> None:
    """Fail the run when a URL's task failed (skipped when none did): Airflow judges a run by
    its last tasks, and ``summary`` succeeds whatever became of the URLs."""
    raise AirflowFailException(
        "a URL was not captured, or the conf was refused: summary or validate_conf says why"
    )


# --- DAGs ----------------------------------------------------------------------------------


def crawl_dag_id(source_id: str) -> str:
    return "crawl_" + source_id.replace("-", "_")


def _source_doc(source: Source, path: Path) -> str:
    tags = ", ".join(source.tags) or "none"
    return textwrap.dedent(
        f"""\
        ### {source.id}

        {source.description or "(no description in the sources file)"}

        | | |
        |---|---|
        | kind | {source.kind}{" (rendered in Chromium)" if source.browser else ""} |
        | URL | <{source.url}> |
        | schedule | `{source.schedule}` (UTC) |
        | politeness | {source.delay_seconds:g} s between requests, {source.concurrency} at once |
        | limits | {source.max_pages} pages, depth {source.max_depth}, \
{source.max_run_seconds:g} s a run |
        | tags | {tags} |

        Defined in `{path}`; check it with `osint-archive sources validate`. A failed run is
        retried with backoff when the failure may pass (network, HTTP 429/5xx, storage); a
        blocked URL, robots.txt or an HTTP 4xx fails at once. An alert fires when the source
        has not succeeded within twice its schedule interval.
        """
    )


def deadline_alerts_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Deadline alerts are on unless ``OSINT_ARCHIVE_DEADLINE_ALERTS=0``: they are marked
    experimental in Airflow, and Airflow 3.3.2's ``dag.test()`` fails on a DAG run with
    one that succeeds (it looks the alert up by its serialised form instead of its id)."""
    return environ.get("OSINT_ARCHIVE_DEADLINE_ALERTS", "1").strip().lower() not in (
        "0",
        "false",
        "no",
    )


def crawl_dag(source: Source, path: Path) -> DAG:
    """One source's crawl DAG."""
    interval = schedule_interval(source.schedule)
    deadline = None
    if interval is not None and deadline_alerts_enabled():
        deadline = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=2 * interval,
            callback=AsyncCallback(
                "osint_archive.scheduling.alerts.source_overdue",
                kwargs={"source_id": source.id, "interval_seconds": interval.total_seconds()},
            ),
        )
    with DAG(
        dag_id=crawl_dag_id(source.id),
        description=f"{source.kind} capture of {source.url}",
        schedule=source.schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=list(dict.fromkeys([source.kind, *source.tags])),
        doc_md=_source_doc(source, path),
        default_args=default_args(source.owner),
        deadline=deadline,
    ) as dag:
        crawl.override(
            pool=crawl_pool(source),
            execution_timeout=timedelta(seconds=source.max_run_seconds) + timedelta(minutes=30),
        )(source.id)
    return dag


def crawl_dags(path: Path | None = None) -> dict[str, DAG]:
    """Every source's crawl DAG by dag_id. An invalid sources file raises
    ``SourcesConfigError`` naming the file, line and field: Airflow shows it as this file's
    import error while the other DAG files still load."""
    path = path or config_path()
    config: SourcesConfig = load_sources(path)
    return {crawl_dag_id(s.id): crawl_dag(s, path) for s in config.sources}


def transcribe_dag() -> DAG:
    with DAG(
        dag_id="transcribe",
        description="speech recognition of the media that crawls captured",
        schedule=CAPTURES,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # one task per media file, never two runs on one file
        tags=["transcription"],
        doc_md=__doc__,
        default_args=default_args(),
    ) as dag:
        transcribe.expand(media=list_media())
    return dag


def index_dag() -> DAG:
    with DAG(
        dag_id="index",
        description="search index of pages, posts and transcripts",
        schedule=CAPTURES | TRANSCRIPTS,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["index"],
        doc_md=__doc__,
        default_args=default_args(),
    ) as dag:
        index_documents()
    return dag


def audit_dag() -> DAG:
    with DAG(
        dag_id="audit",
        description="weekly fixity audit: every stored object re-hashed",
        schedule="@weekly",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=["preservation"],
        doc_md=__doc__,
        default_args=default_args("preservation"),
    ) as dag:
        audit_fixity()
    return dag


# As for a crawl: the source's max_run_seconds (a one-page source's default), plus time to commit.
ONE_PAGE_RUN = timedelta(seconds=Source.model_fields["max_run_seconds"].default)
CAPTURE_URL_TIMEOUT = ONE_PAGE_RUN + timedelta(minutes=30)

CAPTURE_URLS_DOC = """\
### capture_urls

Preserve given URLs now, as captures of the built-in `adhoc` source (what
`osint-archive capture` does), one mapped `capture_url` task per URL. Triggered, never
scheduled: with ▶ and a configuration, through the REST API, or

```
airflow dags trigger capture_urls --conf '{"urls": ["https://example.org/a"],
  "note": "statement before it is taken down", "kind": "auto", "requested_by": "alice",
  "force": false}'
```

| conf key | meaning | default |
|---|---|---|
| `urls` | the URLs, a list (at most 10,000, and Airflow's `[core] max_map_length`) | required |
| `note` | why they are preserved (kept in the custody log) | none |
| `kind` | `auto`, `web`, `browser`, `telegram` or `video` | `auto` |
| `requested_by` | on whose behalf (kept in the custody log) | the triggering user |
| `force` | capture again even if captured within the reuse window | `false` |

`validate_conf` refuses a bad conf (the run fails at once, naming every problem). A URL that
cannot be captured fails its own task only; a network error or an HTTP 429/5xx answer is
retried with backoff in an archive run of its own (the answer kept as evidence); a 404 is
captured, as evidence of the 404. Each task's XCom is its result (`url`, `status`,
`capture_id`, `kind`, `reason`, …); `summary` lists what was captured, already existing
or failed, and `fail_run_if_any_failed` fails the run when a URL failed. Retries and re-runs
of a run never capture a URL twice. More in `docs/capturing-urls.md` ("From Airflow").
"""


def capture_urls_dag() -> DAG:
    """The on-demand capture DAG: triggered with URLs in its conf, one task per URL."""
    with DAG(
        dag_id="capture_urls",
        description="on-demand captures of the URLs given in the run's conf",
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        tags=["capture", "adhoc"],
        doc_md=CAPTURE_URLS_DOC,
        default_args=default_args(),
    ) as dag:
        targets = validate_conf()
        captured = capture_url.override(execution_timeout=CAPTURE_URL_TIMEOUT).expand(
            target=targets
        )
        captured >> [capture_summary(cast(Any, targets)), fail_run_if_any_failed()]
    return dag
