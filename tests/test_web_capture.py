"""The web UI's "Archive a URL": analysts paste URLs, the server's capture worker preserves them
(real collectors, a site served on loopback), and the job page links to each capture, whose
page says who asked for it and why. With Airflow as the scheduler, the form triggers the
``capture_urls`` DAG through a loopback imitation of Airflow 3's REST API."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from osint_archive.adhoc.url_lists import parse_url_list
from tests.cli_runs import run_cli, unused_port
from tests.loopback_server import LoopbackSite, QuietHandler
from tests.test_web_routes import csrf_of, log_in, make_client
from web.accounts import Accounts, Role
from web.capture_queue import MAX_ATTEMPTS, CaptureQueue

ACCOUNTS = {
    "ana": (Role.ANALYST, "analyst-pass-word-1"),
    "olga": (Role.ANALYST, "another-analyst-pw-2"),
    "ivan": (Role.INVESTIGATOR, "investigator-pass-1"),
    "cora": (Role.CUSTODIAN, "custodian-pass-12"),
    "ada": (Role.ADMIN, "admin-password-123"),
}
# Loopback targets allowed; no pause between pages of one host; no speech model to load.
CAPTURE_ENV = {
    "OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1",
    "OSINT_ARCHIVE_CAPTURE_DELAY_SECONDS": "0",
    "OSINT_ARCHIVE_TRANSCRIBE": "0",
}
NOTE = 'Protest footage <script>alert("x")</script> & more'
JOB_LINK = re.compile(r"^/archive/jobs/([0-9a-f]{32})$")
CAPTURE_LINK = re.compile(r'href="/captures/([0-9a-f-]{36})"')
WAIT_SECONDS = 30.0


class ThreePageSite(LoopbackSite):
    """Three small news pages: ``/one.html``, ``/two.html``, ``/three.html``."""

    PAGES: ClassVar[dict[str, str]] = {
        "/one.html": "Detentions near the square",
        "/two.html": "Court hearing adjourned",
        "/three.html": "Volunteers collect testimony",
    }

    def make_server(self) -> ThreadingHTTPServer:
        pages = self.PAGES

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                title = pages.get(self.path.split("?")[0])
                body = f"<!doctype html><title>{title}</title><p>{title}.</p>".encode()
                self.send_body(200 if title else 404, body)

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        return server


class AirflowImitation(LoopbackSite):
    """What the form uses of Airflow 3's REST API: a token for a username and password, a new
    run of the ``capture_urls`` DAG, and that run's state. Records every run's conf."""

    USERNAME, PASSWORD, TOKEN = "osint", "airflow-secret", "jwt-for-osint"

    def __init__(self) -> None:
        super().__init__()
        self.confs: list[dict[str, Any]] = []

    def make_server(self) -> ThreadingHTTPServer:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path == "/auth/token":
                    if (body.get("username"), body.get("password")) != (
                        site.USERNAME,
                        site.PASSWORD,
                    ):
                        self.answer(401, {"detail": "Invalid credentials"})
                    else:
                        self.answer(201, {"access_token": site.TOKEN})
                elif self.path == "/api/v2/dags/capture_urls/dagRuns" and self.signed_in():
                    assert body["logical_date"] is None
                    site.confs.append(body["conf"])
                    self.answer(
                        200, {"dag_run_id": f"manual__{len(site.confs)}", "state": "queued"}
                    )

            def do_GET(self) -> None:
                prefix = "/api/v2/dags/capture_urls/dagRuns/"
                if self.path.startswith(prefix) and self.signed_in():
                    self.answer(200, {"dag_run_id": self.path[len(prefix) :], "state": "running"})

            def signed_in(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {site.TOKEN}":
                    return True
                self.answer(401, {"detail": "Not authenticated"})
                return False

            def answer(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer((self.host, 0), Handler)
        server.daemon_threads = True
        return server


@pytest.fixture(scope="module")
def site() -> Iterator[ThreePageSite]:
    with ThreePageSite() as served:
        yield served


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty archive's home with one account per role (two analysts)."""
    home = tmp_path_factory.mktemp("web-capture") / "home"
    accounts = Accounts(home / "web" / "accounts.sqlite")
    for name, (role, password) in ACCOUNTS.items():
        accounts.add(name, role, password)
    accounts.close()
    return home


@contextmanager
def signed_in(home: Path, name: str, **env: str) -> Iterator[TestClient]:
    """A client of a new server process over ``home``, its capture worker running (unless
    Airflow is named), signed in as ``name``."""
    with make_client(home, **CAPTURE_ENV, **env) as client:
        yield log_in(client, name, ACCOUNTS[name][1])


@pytest.fixture
def ana(home: Path) -> Iterator[TestClient]:
    with signed_in(home, "ana") as client:
        yield client


def ask(client: TestClient, urls: str, note: str = NOTE, kind: str = "web", **form: str) -> str:
    """Post the "Archive a URL" form; the job page it sends to."""
    token = csrf_of(client.get("/archive").text)
    sent = client.post(
        "/archive", data={"csrf": token, "urls": urls, "note": note, "kind": kind, **form}
    )
    assert sent.status_code == 303, sent.text[:2000]
    location = sent.headers["location"]
    assert JOB_LINK.match(location), location
    return str(location)


def finished(client: TestClient, job_page: str) -> dict[str, Any]:
    """The job's data once it is done (polled, for at most ``WAIT_SECONDS``)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        job: dict[str, Any] = client.get(job_page + ".json").json()
        if job["state"] == "done":
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_the_web_form_captures_a_pasted_list_of_three_urls_and_links_to_each(
    ana: TestClient, site: ThreePageSite
) -> None:
    pasted = [site.url(p) for p in ("/one.html", "/two.html")] + ["not a url at all", ""]
    job_page = ask(ana, "\r\n".join([*pasted, site.url("/three.html")]))
    running = ana.get(job_page)
    assert running.status_code == 200

    job = finished(ana, job_page)
    assert job["error"] == "" and job["requested_by"] == "ana"
    by_line = {line["line"]: line for line in job["lines"]}
    assert sorted(by_line) == [1, 2, 3, 5]
    assert [by_line[n]["status"] for n in (1, 2, 5)] == ["captured"] * 3
    assert by_line[3]["status"] == "bad" and by_line[3]["url"] == "not a url at all"
    assert by_line[3]["reason"]

    page = ana.get(job_page)
    assert 'http-equiv="refresh"' not in page.text  # done: it stops refreshing itself
    links = CAPTURE_LINK.findall(page.text)
    assert links == [by_line[n]["capture_id"] for n in (1, 2, 5)]
    assert re.search(r'<tr data-line="3" data-status="bad">\s*<td>3</td>', page.text)
    assert str(escape(by_line[3]["reason"])) in page.text
    for capture_id, title in zip(links, ThreePageSite.PAGES.values(), strict=True):
        capture = ana.get(f"/captures/{capture_id}")
        assert capture.status_code == 200
        assert title in capture.text
        assert f"Requested by ana via web: {escape(NOTE)}" in capture.text
        assert "<script>alert" not in capture.text


def test_the_job_page_refreshes_itself_until_the_job_is_done(
    home: Path, site: ThreePageSite
) -> None:
    # A server process whose worker is not started (the client is never entered): the job
    # stays queued.
    idle = make_client(home, **CAPTURE_ENV)
    log_in(idle, "ana", ACCOUNTS["ana"][1])
    job_page = ask(idle, site.url("/one.html?queued"))
    queued = idle.get(job_page)
    assert '<meta http-equiv="refresh" content="2">' in queued.text
    assert 'data-state="queued"' in queued.text
    with make_client(home, **CAPTURE_ENV):  # a server process with a worker takes the job
        assert finished(idle, job_page)["lines"][0]["status"] == "captured"


def test_investigators_may_not_archive(home: Path, ana: TestClient, site: ThreePageSite) -> None:
    job_page = ask(ana, site.url("/one.html?for-ivan"))
    with make_client(home, **CAPTURE_ENV) as ivan:
        log_in(ivan, "ivan", ACCOUNTS["ivan"][1])
        token = csrf_of(ivan.get("/search").text)
        assert 'href="/archive"' not in ivan.get("/search").text
        assert ivan.get("/archive").status_code == 403
        refused = ivan.post("/archive", data={"csrf": token, "urls": "https://example.org/"})
        assert refused.status_code == 403
        assert ivan.get(job_page).status_code == 403
    assert 'href="/archive"' in ana.get("/search").text


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_a_form_without_this_sessions_csrf_token_queues_nothing(
    ana: TestClient, token: str | None
) -> None:
    before = ana.get("/archive").text.count("/archive/jobs/")
    form = {"urls": "https://example.org/forged", "note": "", "kind": "web"}
    refused = ana.post("/archive", data=form if token is None else {**form, "csrf": token})
    assert refused.status_code == 403
    assert ana.get("/archive").text.count("/archive/jobs/") == before


def test_a_job_is_seen_by_its_requester_and_custodians_only(
    home: Path, ana: TestClient, site: ThreePageSite
) -> None:
    job_page = ask(ana, site.url("/two.html?private-lead"))
    with make_client(home, **CAPTURE_ENV) as olga:
        log_in(olga, "olga", ACCOUNTS["olga"][1])
        assert olga.get(job_page).status_code == 404
        assert olga.get(job_page + ".json").status_code == 404
        assert job_page not in olga.get("/archive").text
    with make_client(home, **CAPTURE_ENV) as cora:
        log_in(cora, "cora", ACCOUNTS["cora"][1])
        assert cora.get(job_page).status_code == 200
        assert job_page in cora.get("/archive").text


@pytest.mark.parametrize(
    ("urls", "kind", "says"),
    [
        ("not a url\nftp://example.org/x", "web", "no URL to capture (line 1: "),
        ("https://example.org/", "carrier-pigeon", "unknown kind &#39;carrier-pigeon&#39;"),
    ],
)
def test_a_form_with_nothing_to_capture_says_why(
    ana: TestClient, urls: str, kind: str, says: str
) -> None:
    token = csrf_of(ana.get("/archive").text)
    answer = ana.post("/archive", data={"csrf": token, "urls": urls, "note": "x", "kind": kind})
    assert answer.status_code == 400
    assert says in answer.text
    assert escape(urls.splitlines()[0]) in answer.text  # the form keeps what was typed


def test_a_job_interrupted_by_a_restart_runs_again_at_start_up(
    home: Path, site: ThreePageSite
) -> None:
    queue = CaptureQueue(home / "web" / "capture_jobs.sqlite", clock=lambda: 0.0)
    pasted = parse_url_list(site.url("/two.html?restarted").encode(), is_csv=False)
    job = queue.add("ana", pasted, "web", force=False, note="before the restart")
    assert queue.claim("a-worker-of-the-stopped-server") is not None  # heartbeat at time 0
    with make_client(home, **CAPTURE_ENV) as restarted:
        log_in(restarted, "ana", ACCOUNTS["ana"][1])
        done = finished(restarted, f"/archive/jobs/{job.id}")
    assert [line["status"] for line in done["lines"]] == ["captured"]
    again = queue.get(job.id)
    assert again is not None and again.attempts == 2  # the stopped server's run, and this one


@pytest.mark.parametrize(
    ("attempts", "state"), [(1, "queued"), (MAX_ATTEMPTS - 1, "queued"), (MAX_ATTEMPTS, "done")]
)
def test_a_job_interrupted_too_often_is_given_up(tmp_path: Path, attempts: int, state: str) -> None:
    now = [1000.0]
    queue = CaptureQueue(tmp_path / "jobs.sqlite", clock=lambda: now[0])
    job = queue.add("ana", parse_url_list(b"https://example.org/", False), "web", False, "")
    for _ in range(attempts):
        assert queue.claim("worker") is not None
        assert queue.requeue_stale(stale_seconds=30) == []  # alive: left alone
        now[0] += 31
        assert queue.requeue_stale(stale_seconds=30) == [job.id]
    again = queue.get(job.id)
    assert again is not None and again.state == state
    assert ("given up" in again.error) == (state == "done")


def test_each_queued_job_is_claimed_by_one_worker(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite"
    adding = CaptureQueue(path)
    wanted = {
        adding.add("ana", parse_url_list(b"https://example.org/", False), "web", False, "").id
        for _ in range(40)
    }
    claimed: list[str] = []

    def work(name: str) -> None:
        queue = CaptureQueue(path)  # a server process of its own
        while (job := queue.claim(name)) is not None:
            claimed.append(job.id)

    workers = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(claimed) == sorted(wanted)


def test_with_airflow_the_form_triggers_the_capture_urls_dag(
    home: Path, site: ThreePageSite
) -> None:
    with AirflowImitation() as airflow:
        env = {
            "OSINT_ARCHIVE_AIRFLOW_API_URL": airflow.base_url,
            "OSINT_ARCHIVE_AIRFLOW_USER": AirflowImitation.USERNAME,
            "OSINT_ARCHIVE_AIRFLOW_PASSWORD": AirflowImitation.PASSWORD,
        }
        with signed_in(home, "ana", **env) as client:
            job_page = ask(client, f"{site.url('/one.html')}\n\nnope", force="1", kind="auto")
            assert airflow.confs == [
                {
                    "urls": [site.url("/one.html")],
                    "note": NOTE,
                    "kind": "auto",
                    "requested_by": "ana",
                    "force": True,
                }
            ]
            job = client.get(job_page + ".json").json()
            assert job["dag_run"] == {"id": "manual__1", "state": "running"}
            page = client.get(job_page)
            assert 'data-dag-run="manual__1"' in page.text and 'data-state="running"' in page.text
            assert 'http-equiv="refresh"' in page.text
            assert 'data-line="3" data-status="bad"' in page.text


@pytest.mark.parametrize(
    ("password", "api_down", "says"),
    [
        ("wrong-password", False, "Airflow refused POST /auth/token (HTTP 401): check"),
        (AirflowImitation.PASSWORD, True, "cannot be reached"),
    ],
)
def test_an_airflow_that_refuses_or_is_down_is_reported_on_the_job_page(
    home: Path, password: str, api_down: bool, says: str
) -> None:
    with AirflowImitation() as airflow:
        env = {
            "OSINT_ARCHIVE_AIRFLOW_API_URL": (
                f"http://127.0.0.1:{unused_port()}" if api_down else airflow.base_url
            ),
            "OSINT_ARCHIVE_AIRFLOW_USER": AirflowImitation.USERNAME,
            "OSINT_ARCHIVE_AIRFLOW_PASSWORD": password,
        }
        with signed_in(home, "ana", **env) as client:
            job_page = ask(client, "https://example.org/refused")
            job = client.get(job_page + ".json").json()
            assert says in job["error"] and job["dag_run"] is None
            assert says in client.get(job_page).text
            assert airflow.confs == []


def test_the_analyst_role_is_offered_by_the_cli_and_the_accounts_page(home: Path) -> None:
    added = run_cli(home, "users", "add", "newcomer", "--generate-password")
    assert added.returncode == 0, added.stderr
    promoted = run_cli(home, "users", "role", "newcomer", "analyst")
    assert promoted.returncode == 0, promoted.stderr
    accounts = Accounts(home / "web" / "accounts.sqlite")
    newcomer = accounts.get("newcomer")
    accounts.close()
    assert newcomer is not None and newcomer.role is Role.ANALYST
    with make_client(home) as ada:
        log_in(ada, "ada", ACCOUNTS["ada"][1])
        roles = re.findall(r"<option>(\w+)</option>", ada.get("/admin/users").text)
        assert roles == ["investigator", "analyst", "custodian", "admin"]
