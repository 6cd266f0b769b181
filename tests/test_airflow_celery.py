"""The distributed shape for real: Airflow with two Celery workers, PostgreSQL and Redis,
the archive on an S3-protocol server, and the worker running a crawl lost mid-crawl.

The scheduler must notice the dead task by its missing heartbeat, the retry must run on the
other worker and resume the same archive run, nothing may be captured twice, and the asset
event of the crawl must start the ``transcribe`` and ``index`` DAGs (issue 6, item 6).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from archive.manifest import iter_manifest_keys, read_manifest
from archive.s3_store import S3Config, S3Store
from osint_archive.scheduling.pools import pool_specs
from osint_archive.scheduling.runs import scheduled_run_id
from osint_archive.sources import load_sources
from tests.airflow_cluster import AirflowCluster, airflow_cluster, missing_prerequisites
from tests.cli_runs import run_cli, search_json
from tests.loopback_server import LoopbackSite
from tests.s3_server import S3TestServer

MISSING = missing_prerequisites()
pytestmark = [
    pytest.mark.airflow_cluster,
    pytest.mark.skipif(
        bool(MISSING),
        reason="NO AIRFLOW CLUSTER: missing " + "; ".join(MISSING) + " (make test installs them)",
    ),
]

SOURCE_ID = "cluster-news"
DAG_ID = "crawl_cluster_news"  # crawl_<source id, "-" as "_">: what operators rely on
ARTICLES = 16
PAGE_SECONDS = 0.7  # one crawl takes ~12 s: time to kill its worker in the middle
SEARCH_WORD = "checkpoint"
WORKERS = ("w1", "w2")


def article_path(number: int) -> str:
    return f"/news/{number:02d}.html"


def article_html(number: int) -> bytes:
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Report {number}: checkpoint on the river road</title>
</head><body><article>
<h1>Report {number}: a new checkpoint on the river road</h1>
<p>Residents of district {number} described a checkpoint that appeared overnight on the
river road. Soldiers stopped every car, checked documents and photographed the passengers.</p>
<p>Volunteers compared the accounts with videos posted on the same morning and with the
satellite images published two days later; report {number} lists the sources they used.</p>
</article></body></html>
""".encode()


START_HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>Regional reports</title></head>"
    "<body><h1>Regional reports</h1><ul>"
    + "".join(
        f"<li><a href='{article_path(n)}'>Report {n}</a></li>" for n in range(1, ARTICLES + 1)
    )
    + "</ul></body></html>"
).encode()


class SlowNewsSite(LoopbackSite):
    """A start page linking ``ARTICLES`` pages, each answered after ``PAGE_SECONDS``."""

    thread_name = "slow-news-site"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.hits: Counter[str] = Counter()

    def article_urls(self) -> set[str]:
        return {self.url(article_path(n)) for n in range(1, ARTICLES + 1)}

    def articles_served(self) -> int:
        with self._lock:
            return sum(n for path, n in self.hits.items() if path.startswith("/news/"))

    def make_server(self) -> ThreadingHTTPServer:
        site = self
        pages = {"/": START_HTML} | {
            article_path(n): article_html(n) for n in range(1, ARTICLES + 1)
        }

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reports what matters."""

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body = pages.get(path)
                if body is not None and path != "/":
                    time.sleep(PAGE_SECONDS)
                status = 200 if body is not None else 404
                body = body if body is not None else b"not found\n"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the crawler's worker was killed while we slept
                    self.close_connection = True
                    return
                with site._lock:
                    site.hits[path] += 1

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        return server


@pytest.fixture
def news_site() -> Iterator[SlowNewsSite]:
    with SlowNewsSite() as site:
        yield site


class Stopwatch:
    """Seconds spent in each phase, printed with the cluster's own."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings
        self.last = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.timings[phase] = round(now - self.last, 1)
        self.last = now


def write_sources(path: Path, url: str) -> Path:
    # A schedule whose last fire (29 February 2024) precedes the DAGs' start date and whose
    # next is in 2028: no scheduled run starts during the test (a yearly cron would start
    # one for 1 January), yet the DAG carries a deadline alert, so the scheduler's success
    # path clears one (dag.test() cannot).
    path.write_text(
        f"sources:\n  - id: {SOURCE_ID}\n    kind: web\n    url: {url}\n"
        '    schedule: "0 0 29 2 *"\n'
        "    max_depth: 1\n    max_pages: 100\n    delay_seconds: 0.05\n    concurrency: 1\n",
        encoding="utf-8",
    )
    return path


def s3_env(config: S3Config) -> dict[str, str]:
    """The ``OSINT_ARCHIVE_*`` settings of the S3 backend on ``config``'s bucket."""
    return {
        "OSINT_ARCHIVE_STORE": "s3",
        "OSINT_ARCHIVE_S3_ENDPOINT": config.endpoint,
        "OSINT_ARCHIVE_S3_ACCESS_KEY": config.access_key,
        "OSINT_ARCHIVE_S3_SECRET_KEY": config.secret_key,
        "OSINT_ARCHIVE_S3_BUCKET": config.bucket,
        "OSINT_ARCHIVE_S3_SECURE": "1" if config.secure else "0",
        "OSINT_ARCHIVE_S3_REGION": config.region or "",
        "OSINT_ARCHIVE_S3_RETENTION_DAYS": str(config.retention_days),
    }


def finished_run(cluster: AirflowCluster, dag_id: str) -> dict[str, Any] | None:
    """The first finished run of ``dag_id``, if any."""
    runs = cluster.dag_runs(dag_id)
    return next((r for r in runs if r["state"] in ("success", "failed")), None)


def test_a_crawl_survives_losing_its_worker(
    tmp_path: Path, s3_server: S3TestServer, news_site: SlowNewsSite
) -> None:
    timings: dict[str, float] = {}
    s3 = s3_server.config_for_new_bucket()
    S3Store(s3)  # creates the bucket with object lock, as the backend requires
    home = tmp_path / "osint-home"
    config = write_sources(tmp_path / "sources.yaml", news_site.url("/"))
    store_env = s3_env(s3)
    osint_env = {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_CONFIG": str(config),
        "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
        "OSINT_ARCHIVE_RETRIES": "3",
        "OSINT_ARCHIVE_RETRY_DELAY_SECONDS": "2",
        **store_env,
    }
    pools = pool_specs(load_sources(config))
    try:
        with airflow_cluster(tmp_path / "cluster", osint_env, pools, WORKERS, timings) as cluster:
            clock = Stopwatch(timings)
            for dag_id in (DAG_ID, "transcribe", "index"):
                cluster.wait_dag(dag_id)
                cluster.unpause(dag_id)
            clock.lap("DAGs parsed and unpaused")

            run_id = cluster.trigger(DAG_ID)["dag_run_id"]

            def crawl_running() -> dict[str, Any] | None:
                ti = cluster.task_instance(DAG_ID, run_id, "crawl")
                return ti if ti and ti["state"] == "running" and ti["hostname"] else None

            first = cluster.wait(crawl_running, 120, "the crawl task to run on a worker")
            cluster.wait(
                lambda: news_site.articles_served() >= 3, 60, "the crawl to fetch 3 articles"
            )
            clock.lap("first attempt crawling")

            lost = first["hostname"]
            assert lost in WORKERS, first
            (survivor,) = set(WORKERS) - {lost}
            killed = cluster.kill_worker(lost)
            assert first["pid"] in killed, (first["pid"], killed)  # the task itself is gone
            served_before_kill = news_site.articles_served()
            clock.lap("worker killed")

            run = cluster.wait_run_finished(DAG_ID, run_id, 240)
            clock.lap("retried to success on the other worker")
            assert run["state"] == "success", run
            final = cluster.task_instance(DAG_ID, run_id, "crawl")
            assert final is not None
            assert final["try_number"] > 1, final
            assert final["hostname"] == survivor, final
            tries = cluster.tries(DAG_ID, run_id, "crawl")
            assert (tries[0]["hostname"], tries[0]["state"]) == (lost, "failed"), tries
            summary = cluster.xcom(DAG_ID, run_id, "crawl")
            # The retry resumed the archive run that the lost attempt had opened.
            archive_run = scheduled_run_id(run_id, datetime.fromisoformat(run["run_after"]))
            assert summary["run_id"] == archive_run and summary["resumed"] is True, summary

            downstream = {
                dag_id: cluster.wait(
                    lambda dag_id=dag_id: finished_run(cluster, dag_id),
                    120,
                    f"a finished run of {dag_id}",
                )
                for dag_id in ("transcribe", "index")
            }
            clock.lap("transcribe and index runs")
            # One asset event, from the try that succeeded, naming the archive run; it
            # started both downstream runs.
            (event,) = [e for e in cluster.asset_events() if e["source_dag_id"] == DAG_ID]
            assert event["name"] == "osint_archive_captures", event
            assert event["extra"]["run_id"] == archive_run, event
            started = {(r["dag_id"], r["run_id"]) for r in event["created_dagruns"]}
            assert started == {(d, r["dag_run_id"]) for d, r in downstream.items()}, event
            assert downstream["index"]["state"] == "success", downstream
            # No media in the crawl: the mapped transcribe task expands to nothing, skipped.
            transcribe_run = downstream["transcribe"]["dag_run_id"]
            assert downstream["transcribe"]["state"] == "success", downstream
            states = {
                ti["task_id"]: ti["state"]
                for ti in cluster.task_instances("transcribe", transcribe_run)
            }
            assert states == {"list_media": "success", "transcribe": "skipped"}, states
            assert cluster.xcom("transcribe", transcribe_run, "list_media") == []

        clock = Stopwatch(timings)  # after the cluster's teardown, which it timed itself
        # The archive, read with the project's own code: every page once, in that one run.
        store = S3Store(s3)
        manifests = [read_manifest(store, key) for key in iter_manifest_keys(store, SOURCE_ID)]
        assert {m.run_id for m in manifests} == {archive_run}
        capture_ids = Counter(m.capture_id for m in manifests)
        urls = Counter(m.requested_url for m in manifests)
        assert max(capture_ids.values()) == 1, capture_ids
        assert max(urls.values()) == 1, urls
        assert news_site.article_urls() | {news_site.url("/")} <= set(urls)
        assert news_site.articles_served() > served_before_kill  # the retry fetched the rest

        audit = run_cli(home, "audit", "--json", env=store_env)
        assert audit.returncode == 0, audit.stdout + audit.stderr

        # The index DAG's run filled the SQLite index under OSINT_ARCHIVE_HOME.
        hits = search_json(home, SEARCH_WORD, "--limit", "100")
        assert {h["url"] for h in hits} >= news_site.article_urls(), hits
        assert {h["source"] for h in hits} == {SOURCE_ID}
        clock.lap("archive, audit and search checked")
    finally:
        print("phase timings (s):", ", ".join(f"{k} {v:g}" for k, v in timings.items()))
