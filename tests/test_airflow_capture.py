"""The ``capture_urls`` DAG: on-demand captures triggered in Airflow (issue 22, part 3).

Its logic (``osint_archive/scheduling/adhoc.py``) is tried as plain functions; the DAG itself
with Airflow's ``dag.test()`` against the loopback test site, as in tests/test_airflow_dags.py.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.custody import CustodyLog
from osint_archive.adhoc import CaptureOptions, CaptureRequest
from osint_archive.adhoc.runner import capture_urls
from osint_archive.scheduling.adhoc import (
    RunOptions,
    UrlTarget,
    capture_one,
    load_state,
    read_conf,
    summarise,
    url_run_ids,
)
from osint_archive.scheduling.airflow_dags import task_settings
from osint_archive.scheduling.failures import PermanentFailure, TransientFailure
from osint_archive.settings import Settings
from tests.http_site import LocalHttpSite
from tests.media_site import MediaSite
from tests.test_airflow_dags import (
    REAL_CONFIG,
    _FlakySite,
    airflow_db,
    asset_event_extras,
    dag_bag,
)

__all__ = ["airflow_db"]  # a fixture of the DAG tests, used here too

WHEN = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


@pytest.fixture
def capture_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The archive home of the test; loopback targets allowed, no reuse window, quick retries."""
    home = tmp_path / "home"
    for name, value in {
        "OSINT_ARCHIVE_HOME": str(home),
        "OSINT_ARCHIVE_CONFIG": str(REAL_CONFIG),
        "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
        "OSINT_ARCHIVE_CAPTURE_DELAY_SECONDS": "0",
        # No reuse window: what keeps a re-run from capturing again is the run's own record.
        "OSINT_ARCHIVE_CAPTURE_REUSE_SECONDS": "0",
        "OSINT_ARCHIVE_RETRY_DELAY_SECONDS": "1",
        "OSINT_ARCHIVE_DEADLINE_ALERTS": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return home


def settings_of(home: Path) -> Settings:
    """What a task gets: the environment ``capture_env`` set."""
    settings = task_settings()
    assert settings.home == home
    return settings


def manifests(home: Path) -> list[Path]:
    """Every capture manifest of the ad-hoc source."""
    return sorted((home / "archive" / "captures" / "adhoc").rglob("*.json"))


@pytest.fixture
def flaky_site() -> Iterator[_FlakySite]:
    with _FlakySite() as site:
        yield site


# --- the conf --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        (None, "must be a JSON object"),
        ({}, 'no "urls"'),
        ({"url": ["https://example.org/"]}, "unknown key(s) 'url'"),
        ({"urls": "https://example.org/"}, '"urls" must be a list of URLs, got str'),
        ({"urls": []}, '"urls" is empty'),
        ({"urls": ["https://example.org/"] * 11}, '"urls" has 11 URLs, more than the 10'),
        ({"urls": ["https://example.org/", 7]}, '"urls"[1] is not a string: 7'),
        ({"urls": ["https://example.org/"], "kind": "pdf"}, '"kind" must be one of auto, web'),
        ({"urls": ["https://example.org/"], "force": "yes"}, '"force" must be true or false'),
        ({"urls": ["https://example.org/"], "note": 3}, '"note" must be a string'),
    ],
)
def test_a_bad_conf_is_refused_naming_the_problem(conf: Any, message: str) -> None:
    with pytest.raises(PermanentFailure, match=re.escape(message)):
        read_conf(conf, "manual__1", WHEN, max_urls=10)


def test_a_conf_becomes_one_target_per_url_with_a_run_id_of_its_own() -> None:
    conf = {
        "urls": ["https://example.org/a", "not a url", "HTTPS://EXAMPLE.ORG/a#top"],
        "note": "before it is taken down",
        "kind": "web",
    }
    plan = read_conf(conf, "manual__1", WHEN, default_requester="admin")
    assert [t.url for t in plan.targets] == ["https://example.org/a", "not a url"]
    assert plan.repeats == ["HTTPS://EXAMPLE.ORG/a#top"]
    assert plan.options == RunOptions("before it is taken down", "web", "admin", False)
    assert all(
        RUN_ID.match(t.run_id) and t.run_id.startswith("20260301T060000Z") for t in plan.targets
    )
    # The same run gives the same ids; another run other ids.
    assert read_conf(conf, "manual__1", WHEN).targets == plan.targets
    assert read_conf(conf, "manual__2", WHEN).targets[0].run_id != plan.targets[0].run_id
    assert read_conf({**conf, "requested_by": "alice"}, "m", WHEN).options.requested_by == "alice"
    named = read_conf({**conf, "requested_by": "alice"}, "m", WHEN, "web-ui").options
    assert named.requested_by == "alice (triggered by web-ui)"


def test_run_ids_stay_distinct_among_thousands_of_urls() -> None:
    urls = [f"https://example.org/{i}" for i in range(10_000)]
    run_ids = url_run_ids("manual__big", WHEN, urls)
    assert len(set(run_ids)) == len(urls)
    assert run_ids == url_run_ids("manual__big", WHEN, urls)


# --- one URL, as a task runs it --------------------------------------------------------------


def test_a_transient_answer_is_retried_in_a_run_of_its_own_and_a_rerun_fetches_nothing(
    capture_env: Path, flaky_site: _FlakySite
) -> None:
    settings = settings_of(capture_env)
    url = flaky_site.url("/statement")
    (target,) = read_conf({"urls": [url], "kind": "web"}, "manual__1", WHEN).targets
    options = RunOptions(kind="web")
    with pytest.raises(TransientFailure, match="HTTP 503"):
        capture_one(settings, target, options, "manual__1")
    flaky_site.status = 200
    done = capture_one(settings, target, options, "manual__1")
    assert done.result["status"] == "captured" and done.result["http_status"] == 200
    assert done.result["run_id"] != target.run_id and done.media_run is None
    assert len(manifests(capture_env)) == 2  # the 503 answer is evidence of the first try

    assert capture_one(settings, target, options, "manual__1").result == done.result
    assert len(manifests(capture_env)) == 2
    state = load_state(settings.open_store(), "manual__1", url)
    assert state is not None and state.run_ids[0] == target.run_id and len(state.run_ids) == 2

    # Another DAG run of the same URL is another request: captured again.
    (other,) = read_conf({"urls": [url]}, "manual__2", WHEN).targets
    assert capture_one(settings, other, options, "manual__2").result["status"] == "captured"
    assert len(manifests(capture_env)) == 3


def test_a_task_lost_after_its_capture_finished_does_not_fetch_again(
    capture_env: Path, http_site: LocalHttpSite
) -> None:
    settings = settings_of(capture_env)
    url = http_site.url("/page.html")
    (target,) = read_conf({"urls": [url]}, "manual__1", WHEN).targets
    # The task's capture ran to the end, then its worker was lost before it said so.
    options = CaptureOptions("alice", via="airflow", kind="web", run_ids={url: target.run_id})
    (lost,) = asyncio.run(capture_urls(settings, [CaptureRequest(url)], options))
    assert lost.status == "captured" and http_site.hits("/page.html") == 1

    retried = capture_one(settings, target, RunOptions(kind="web"), "manual__1")
    assert retried.result["capture_id"] == lost.capture_id
    assert retried.result["run_id"] == target.run_id
    assert http_site.hits("/page.html") == 1 and len(manifests(capture_env)) == 1


@pytest.mark.parametrize(
    ("path", "error", "reason"),
    [
        ("ftp://example.org/file", PermanentFailure, "scheme must be http or https"),
        ("/loop/a", PermanentFailure, "redirect loop"),  # a loop stays a loop: not retried
    ],
)
def test_a_url_that_cannot_be_captured_fails_with_its_reason(
    capture_env: Path, http_site: LocalHttpSite, path: str, error: type[Exception], reason: str
) -> None:
    url = path if "://" in path else http_site.url(path)
    target = UrlTarget(url, url_run_ids("manual__1", WHEN, [url])[0])
    with pytest.raises(error, match=reason):
        capture_one(settings_of(capture_env), target, RunOptions(kind="web"), "manual__1")
    summary = summarise(settings_of(capture_env), "manual__1", [target])
    assert summary["counts"] == {"captured": 0, "existing": 0, "failed": 1}
    assert reason in summary["failed"][0]["reason"]


# --- the DAG -------------------------------------------------------------------------------


def task_states(run: Any) -> dict[tuple[str, int], str]:
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


def xcom(run: Any, task_id: str, map_index: int = -1) -> Any:
    """What a task of ``run`` returned."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    query = XComModel.get_many(
        run_id=run.run_id,
        key="return_value",
        dag_ids=run.dag_id,
        task_ids=task_id,
        map_indexes=map_index,
    )
    with create_session() as session:
        (entry,) = session.scalars(query).all()
        return XComModel.deserialize_value(entry)


def test_dag_captures_each_url_in_its_own_task_and_a_rerun_captures_nothing_twice(
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
    capture_env: Path,
    http_site: LocalHttpSite,
) -> None:
    bag = dag_bag(monkeypatch, REAL_CONFIG)
    dag = bag.dags["capture_urls"]
    assert dag.schedule is None and dag.catchup is False and "capture" in dag.tags
    capture = dag.get_task("capture_url")
    assert capture.retries == 3 and capture.pool == "browser"
    assert dag.get_task("summary").trigger_rule == "all_done"

    page, missing = http_site.url("/page.html"), http_site.url("/status/404")
    conf = {
        "urls": [page, "ftp://example.org/file", missing],
        "note": "statement before it is taken down",
        "kind": "web",
        "requested_by": "alice",
    }
    events_before = asset_event_extras("capture_urls")
    run = dag.test(run_conf=conf, logical_date=WHEN, run_after=WHEN)
    assert run.state == "failed"  # one URL failed
    assert task_states(run) == {
        ("validate_conf", -1): "success",
        ("capture_url", 0): "success",
        ("capture_url", 1): "failed",
        ("capture_url", 2): "success",
        ("summary", -1): "success",
        ("fail_run_if_any_failed", -1): "failed",
    }
    summary = xcom(run, "summary")
    assert [r["url"] for r in summary["captured"]] == [page, missing]
    assert summary["captured"][1]["http_status"] == 404  # evidence of the 404
    ((bad),) = summary["failed"]
    assert bad["url"] == "ftp://example.org/file"
    assert "scheme must be http or https" in bad["reason"]
    first = xcom(run, "capture_url", 0)
    assert first["status"] == "captured" and RUN_ID.match(first["run_id"])
    assert len(manifests(capture_env)) == 2
    requested = [
        e["details"]
        for e in CustodyLog(task_settings().open_store(), "adhoc").events()
        if e["type"] == "requested"
    ]
    # The conf names alice; the account that triggered the run (dag.test's) is kept too.
    assert {(r["url"], r["requested_by"], r["via"]) for r in requested} == {
        (page, "alice (triggered by dag_test)", "airflow"),
        (missing, "alice (triggered by dag_test)", "airflow"),
    }
    assert asset_event_extras("capture_urls") == events_before  # no media: nothing to transcribe

    # The same DAG run again (same run id): every task re-run, no URL captured twice.
    again = dag.test(run_conf=conf, logical_date=WHEN, run_after=WHEN)
    assert again.run_id == run.run_id
    assert xcom(again, "capture_url", 0) == first
    assert xcom(again, "summary")["counts"] == {"captured": 2, "existing": 0, "failed": 1}
    assert len(manifests(capture_env)) == 2
    assert http_site.hits("/page.html") == 1 and http_site.hits("/status/404") == 1


def test_dag_with_a_bad_conf_fails_in_validation_and_captures_nothing(
    airflow_db: None, monkeypatch: pytest.MonkeyPatch, capture_env: Path
) -> None:
    dag = dag_bag(monkeypatch, REAL_CONFIG).dags["capture_urls"]
    run = dag.test(run_conf={"urls": "https://example.org/"})
    assert run.state == "failed"
    assert task_states(run) == {
        ("validate_conf", -1): "failed",
        ("capture_url", -1): "upstream_failed",
        ("summary", -1): "skipped",
        ("fail_run_if_any_failed", -1): "failed",
    }
    assert manifests(capture_env) == []


def test_dag_hands_a_capture_holding_media_to_transcription(
    airflow_db: None,
    monkeypatch: pytest.MonkeyPatch,
    capture_env: Path,
    tmp_path: Path,
    silent_video_no_audio_mp4: Path,
) -> None:
    root = tmp_path / "media"
    root.mkdir()
    shutil.copyfile(silent_video_no_audio_mp4, root / "silent.mp4")
    dag = dag_bag(monkeypatch, REAL_CONFIG).dags["capture_urls"]
    with MediaSite(root) as media:
        run = dag.test(run_conf={"urls": [media.url("silent.mp4")], "kind": "video"})
    assert run.state == "success"
    result = xcom(run, "capture_url", 0)
    assert result["status"] == "captured" and result["kind"] == "video"
    # The transcribe and index DAGs are scheduled on this asset.
    assert asset_event_extras("capture_urls")[-1] == {
        "source_id": "adhoc",
        "run_id": result["run_id"],
    }
