"""Custody that cannot be bypassed: every response carrying evidence bytes is recorded (any
range spelling, one event per session and object), replay grants open only their own capture
and die with their session, concurrent logins are throttled and bounded, and the server trusts
no Host header it was not told about. In process over a copy of the demo archive, and against
``osint-archive serve`` where concurrency or sockets are the point."""

from __future__ import annotations

import json
import logging
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient

from archive.custody import CustodyLog
from archive.local_store import LocalStore
from osint_archive.demo_site import DemoSite
from osint_archive.settings import SettingsError
from tests.cli_runs import run_cli, write_web_source
from tests.test_web_routes import (
    PASSWORDS,
    anonymous,
    first_capture,
    log_in,
    make_client,
    post_login,
    session_csrf,
    web_home,
)
from tests.web_fixtures import INVESTIGATOR, copy_home, web_server
from web.accounts import Accounts, Role
from web.app import GrantsOutOfAccessLog
from web.config import allowed_hosts_of
from web.custody_view import ACCESS_CHAIN
from web.replay_html import rewrite_archived_html
from web.routes_replay import follow_link_of, resource_link

__all__ = [
    "anonymous",
    "web_home",
]  # the module fixture: a copy of the demo archive with three accounts


def _access_log(home: Path) -> CustodyLog:
    return CustodyLog(LocalStore(home / "archive"), ACCESS_CHAIN)


def _new_events(home: Path, before: int) -> list[dict]:
    return list(_access_log(home).events(after_seq=before))


def _manifest_paths(home: Path) -> list[Path]:
    return sorted((home / "archive" / "captures").rglob("*.json"))


@pytest.fixture
def fresh(web_home: Path) -> Iterator[TestClient]:
    """A new session of ivan: receipts of earlier sessions do not count for it."""
    with make_client(web_home) as client:
        yield log_in(client, "ivan")


@pytest.fixture(scope="module")
def demo_media(web_home: Path) -> tuple[str, str]:
    """(capture id, SHA-256) of the demo video."""
    with make_client(web_home) as client:
        page = log_in(client, "ivan").get("/search", params={"q": "избили"})
    found = re.search(r"/captures/([0-9a-f-]{36})/play/([0-9a-f]{64})", page.text)
    assert found, page.text[:2000]
    return found.group(1), found.group(2)


# --- finding 1: every response with evidence bytes has a custody event ---------------------


@pytest.mark.parametrize("range_header", ["bytes=1-", "bytes=-100", "bytes=01-", "bytes=5-9", None])
@pytest.mark.parametrize(
    ("endpoint", "action", "part"),
    [
        ("media", "played", "media"),
        ("media?download=1", "downloaded", "media"),
        ("warc-record", "downloaded", "warc-record"),
        ("warc", "downloaded", "warc-file"),
    ],
)
def test_every_response_carrying_evidence_bytes_is_recorded(
    web_home: Path,
    fresh: TestClient,
    demo_media: tuple[str, str],
    endpoint: str,
    action: str,
    part: str,
    range_header: str | None,
) -> None:
    capture, sha = demo_media
    path = f"/captures/{capture}/" + (
        endpoint.replace("media", f"media/{sha}") if endpoint.startswith("media") else endpoint
    )
    before = _access_log(web_home).head()[0]
    headers = {"Range": range_header} if range_header else {}
    answer = fresh.get(path, headers=headers)
    assert answer.status_code in (200, 206) and answer.content
    events = _new_events(web_home, before)
    assert [(e["type"], e["details"]["part"], e["details"]["user"]) for e in events] == [
        (action, part, "ivan")
    ]
    details = events[0]["details"]
    if answer.status_code == 206:
        first, last = answer.headers["content-range"].split()[1].split("/")[0].split("-")
        assert (details["served"], details["first_range"]) == ("ranges", f"{first}-{last}")
    else:
        assert details["served"] == "whole" and "first_range" not in details


def test_a_player_s_many_ranges_in_one_session_are_one_receipt(
    web_home: Path, fresh: TestClient, demo_media: tuple[str, str]
) -> None:
    capture, sha = demo_media
    before = _access_log(web_home).head()[0]
    for start in range(0, 20_000, 2_000):
        part = fresh.get(
            f"/captures/{capture}/media/{sha}", headers={"Range": f"bytes={start}-{start + 999}"}
        )
        assert part.status_code == 206
    events = _new_events(web_home, before)
    assert [(e["type"], e["details"]["first_range"]) for e in events] == [("played", "0-999")]
    # The whole object after some ranges is more than the ranges' event says: its own event.
    assert fresh.get(f"/captures/{capture}/media/{sha}").status_code == 200
    fresh.get(f"/captures/{capture}/media/{sha}")
    events = _new_events(web_home, before)
    assert [e["details"]["served"] for e in events] == ["ranges", "whole"]
    this_session = events[0]["details"]["session"]
    before = _access_log(web_home).head()[0]
    # Another session of the same user is a receipt of its own.
    with make_client(web_home) as other:
        log_in(other, "ivan").get(f"/captures/{capture}/media/{sha}", headers={"Range": "bytes=7-"})
    events = _new_events(web_home, before)
    assert len(events) == 1 and events[0]["details"]["session"] != this_session


def test_two_captures_in_one_warc_file_are_two_receipts(web_home: Path, fresh: TestClient) -> None:
    by_warc: dict[str, list[str]] = {}
    for path in _manifest_paths(web_home):
        manifest = json.loads(path.read_bytes())
        by_warc.setdefault(manifest["warc"]["key"], []).append(manifest["capture_id"])
    shared = next(captures for captures in by_warc.values() if len(captures) > 1)
    before = _access_log(web_home).head()[0]
    for capture in shared[:2]:
        assert fresh.get(f"/captures/{capture}/warc-record").status_code == 200
    events = _new_events(web_home, before)
    assert [e["details"]["capture_id"] for e in events] == shared[:2]


def test_an_unsatisfiable_range_sends_no_bytes_and_records_nothing(
    web_home: Path, fresh: TestClient, demo_media: tuple[str, str]
) -> None:
    capture, sha = demo_media
    before = _access_log(web_home).head()[0]
    beyond = fresh.get(f"/captures/{capture}/media/{sha}", headers={"Range": "bytes=999999999-"})
    assert beyond.status_code == 416 and not beyond.content
    assert _new_events(web_home, before) == []


# --- finding 4: views that showed evidence without an event -------------------------------


def test_captions_and_the_player_s_transcript_are_recorded(
    web_home: Path, fresh: TestClient, demo_media: tuple[str, str]
) -> None:
    capture, sha = demo_media
    before = _access_log(web_home).head()[0]
    player = fresh.get(f"/captures/{capture}/play/{sha}")
    assert player.status_code == 200
    track = re.search(r'<track kind="captions"[^>]*src="([^"]+)"', player.text)
    assert track, player.text[:3000]
    captions = fresh.get(track.group(1))
    assert captions.status_code == 200 and captions.text.startswith("WEBVTT")
    events = _new_events(web_home, before)
    assert [(e["type"], e["details"]["part"]) for e in events] == [
        ("viewed", "transcript"),
        ("viewed", "captions"),
    ]
    assert all(e["details"]["capture_id"] == capture for e in events)


def test_a_text_diff_records_both_captures(web_home: Path, fresh: TestClient) -> None:
    newer = next(
        manifest
        for manifest in map(json.loads, map(Path.read_bytes, _manifest_paths(web_home)))
        if manifest.get("changed")
    )
    capture, older = newer["capture_id"], newer["previous_capture"]["capture_id"]
    before = _access_log(web_home).head()[0]
    assert fresh.get(f"/captures/{capture}/diff/{older}").status_code == 200
    events = _new_events(web_home, before)
    assert sorted((e["type"], e["details"]["capture_id"]) for e in events) == sorted(
        [("compared", capture), ("compared", older)]
    )


def test_a_package_exported_from_a_capture_page_is_recorded(web_home: Path) -> None:
    with make_client(web_home) as cora:
        log_in(cora, "cora")
        capture = first_capture(cora, "задержание")
        before = _access_log(web_home).head()[0]
        package = cora.post(f"/captures/{capture}/export", data={"csrf": session_csrf(cora)})
        assert package.status_code == 200 and package.content[:2] == b"PK"
    events = _new_events(web_home, before)
    assert [(e["type"], e["details"]["user"], e["details"]["capture_id"]) for e in events] == [
        ("exported", "cora", capture)
    ]


# --- finding 3: nobody can lock an account's owner out ------------------------------------


def test_wrong_passwords_from_elsewhere_do_not_lock_the_owner_out(web_home: Path) -> None:
    with make_client(web_home, address="203.0.113.9") as stranger:
        for _ in range(5):
            assert post_login(stranger, "ada", "wrong-password-guess").status_code == 401
        assert post_login(stranger, "ada", "wrong-password-guess").status_code == 429
        assert post_login(stranger, "ada").status_code == 429  # even the right one, from there
    with make_client(web_home, address="198.51.100.7") as owner:
        assert post_login(owner, "ada").status_code == 303


def test_a_name_no_account_can_have_is_refused_without_counting(web_home: Path) -> None:
    with make_client(web_home, address="203.0.113.77") as client:
        for _ in range(8):
            assert post_login(client, "x" * 10_000, "whatever-it-is").status_code == 401
        assert post_login(client, "ivan").status_code == 303


@pytest.mark.parametrize(
    "value",
    ["archive.example.org:8443", "*example.org", "a*b", "*", "http://archive.example.org", "a b"],
)
def test_an_allowed_host_that_is_not_a_host_name_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="is not a host name"):
        allowed_hosts_of({"OSINT_ARCHIVE_WEB_ALLOWED_HOSTS": value})


def test_replay_grants_stay_out_of_the_access_log() -> None:
    path = "/replay/SECRETGRANT.mac/web/http%3A%2F%2Fexample.org%2F"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", path, "1.1", 200), None,
    )  # fmt: skip
    assert GrantsOutOfAccessLog().filter(record)
    assert "SECRETGRANT" not in record.getMessage()
    assert "/replay/…/web/" in record.getMessage()


# --- finding 2: a replay grant opens its own capture only, and dies with its session -------


def _grant_of(client: TestClient, capture: str) -> str:
    frame = client.get(f"/captures/{capture}/replay")
    src = re.search(r'src="/replay/([^/"]+)/page"', frame.text)
    assert src, frame.text[:3000]
    return src.group(1)


def _other_page_url(home: Path, capture: str) -> str:
    """The URL of a page captured by another capture, and not recorded by ``capture``."""
    manifests = [json.loads(path.read_bytes()) for path in _manifest_paths(home)]
    own = next(m for m in manifests if m["capture_id"] == capture)
    return next(
        m["final_url"]
        for m in manifests
        if m["final_url"] not in (own["final_url"], own["requested_url"])
        and m["final_url"].endswith(".html")
    )


def test_a_replay_grant_opens_no_other_capture(web_home: Path, fresh: TestClient) -> None:
    capture = first_capture(fresh, "задержание")
    grant = _grant_of(fresh, capture)
    other_url = _other_page_url(web_home, capture)
    with make_client(web_home) as stranger:  # no cookie at all
        assert stranger.get(f"/replay/{grant}/page").status_code == 200
        foreign = stranger.get(f"/replay/{grant}/web/{other_url}")
        assert foreign.status_code == 404 and "<html" not in foreign.text.lower()
    # Signed in, the same link is followed through the other page's own capture.
    followed = fresh.get(f"/captures/{capture}/follow", params={"url": other_url})
    assert followed.status_code == 303
    assert followed.headers["location"] != f"/captures/{capture}/replay"


@pytest.mark.parametrize("ending", ["logout", "password change", "disabled account"])
def test_a_replay_grant_dies_with_its_session(web_home: Path, ending: str) -> None:
    name = "dora"
    password = "grant-ending-passphrase-19"
    accounts = Accounts(web_home / "web" / "accounts.sqlite")
    if accounts.get(name) is None:
        accounts.add(name, Role.INVESTIGATOR, password)
    accounts.set_disabled(name, False)
    with make_client(web_home) as client, make_client(web_home) as stranger:
        log_in(client, name, password)
        grant = _grant_of(client, first_capture(client, "задержание"))
        assert stranger.get(f"/replay/{grant}/page").status_code == 200
        if ending == "logout":
            assert client.post("/logout", data={"csrf": session_csrf(client)}).status_code == 303
        elif ending == "password change":
            accounts.set_password(name, password)
        else:
            accounts.set_disabled(name, True)
        assert stranger.get(f"/replay/{grant}/page").status_code == 404
    accounts.close()


@pytest.fixture(scope="module")
def browser_home(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo archive plus a capture of the demo's front page rendered in Chromium (it has
    a screenshot and a rendered DOM); the three accounts of the route tests."""
    folder = tmp_path_factory.mktemp("web-browser-capture")
    home = copy_home(demo_archive, folder / "home")
    with DemoSite() as site:
        config = write_web_source(
            folder / "sources.yaml", site.base_url, "rendered", browser=True, max_depth=0
        )
        done = run_cli(home, "run", "--config", str(config), timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    accounts = Accounts(home / "web" / "accounts.sqlite")
    for name, (role, password) in PASSWORDS.items():
        if accounts.get(name) is None:
            accounts.add(name, Role(role), password)
    accounts.close()
    return home


def _rendered_capture(home: Path) -> str:
    return next(
        manifest["capture_id"]
        for manifest in map(json.loads, map(Path.read_bytes, _manifest_paths(home)))
        if manifest.get("browser")
    )


def test_the_screenshot_is_recorded(browser_home: Path) -> None:
    capture = _rendered_capture(browser_home)
    with make_client(browser_home) as client:
        log_in(client, "ivan")
        before = _access_log(browser_home).head()[0]
        shot = client.get(f"/captures/{capture}/screenshot")
        assert shot.status_code == 200 and shot.content.startswith(b"\x89PNG")
    events = _new_events(browser_home, before)
    assert [(e["type"], e["details"]["part"]) for e in events] == [("viewed", "screenshot")]


def test_a_grant_opens_only_the_view_it_was_issued_for(browser_home: Path) -> None:
    capture = _rendered_capture(browser_home)
    with make_client(browser_home) as client:
        log_in(client, "ivan")
        frames = (
            client.get(f"/captures/{capture}/replay{view}").text for view in ("", "?view=dom")
        )
        response, dom = (re.search(r'src="(/replay/[^/"]+)/(?:page|dom)"', f) for f in frames)
        assert response and dom
        assert client.get(response.group(1) + "/page").status_code == 200
        assert client.get(response.group(1) + "/dom").status_code == 404  # not what was recorded
        assert client.get(dom.group(1) + "/dom").status_code == 200
        assert client.get(dom.group(1) + "/page").status_code == 404


# --- finding 10: Host headers, errors, replay attributes -----------------------------------


def test_a_request_naming_an_unknown_host_is_refused(web_home: Path) -> None:
    with make_client(web_home) as client:
        forged = client.get("/login", headers={"Host": "evil.example"})
        assert forged.status_code == 400 and "evil.example" not in forged.text
        assert forged.headers["x-content-type-options"] == "nosniff"
        assert client.get("/login").status_code == 200  # the configured name
    with make_client(web_home, OSINT_ARCHIVE_WEB_ALLOWED_HOSTS="archive.example.org") as named:
        assert named.get("/login", headers={"Host": "archive.example.org"}).status_code == 200
        assert named.get("/login", headers={"Host": "testserver"}).status_code == 400


def test_an_unexpected_error_answers_with_the_security_headers(web_home: Path) -> None:
    client = make_client(web_home)
    app = client.app

    def broken() -> None:
        # No input of the real routes is known to fail: a route made to fail stands for one.
        raise RuntimeError("a bug")

    app.add_api_route("/__broken", broken)  # type: ignore[attr-defined]
    with TestClient(app, base_url="http://testserver", raise_server_exceptions=False) as raw:
        answer = raw.get("/__broken")
    assert answer.status_code == 500
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    assert "a bug" not in answer.text


@pytest.mark.parametrize(
    "markup",
    [
        '<video poster="http://live.example/p.jpg" src="http://live.example/v.mp4"></video>',
        '<html manifest="http://live.example/app.appcache"><body>x</body></html>',
        '<a href="http://live.example/" ping="http://live.example/ping">x</a>',
        '<img srcset="http://live.example/a.jpg 2x" src="http://live.example/b.jpg">',
        '<svg><a xlink:href="https://x/../../../../captures/C/media/S?download=1">x</a></svg>',
        '<img src="https://x/../../../../captures/C/media/S?download=1">',
    ],
)
def test_replayed_html_points_nowhere_live(markup: str) -> None:
    cleaned = rewrite_archived_html(
        markup.encode(),
        "http://live.example/page.html",
        lambda url: resource_link("T", url),
        navigate_to=lambda url: follow_link_of("C", url),
    ).decode()
    values = re.findall(r'="([^"]*)"', cleaned)
    assert not any(value.startswith("http") for value in values), cleaned
    # Nothing archived can climb out of its path: a browser resolves every value in place.
    for value in values:
        if value.startswith("/"):
            resolved = urllib.parse.urljoin("http://app.example/replay/T/page", value)
            assert resolved.startswith(
                ("http://app.example/replay/T/", "http://app.example/captures/C/follow?")
            ), value


# --- finding 3 and the server's own limits: against `osint-archive serve` ----------------


def _login_form(base_url: str) -> tuple[str, str]:
    """(the login CSRF cookie, its form token)."""
    with urllib.request.urlopen(f"{base_url}/login", timeout=30) as answer:
        cookie = answer.headers["set-cookie"].split(";", 1)[0]
        token = re.search(r'name="csrf" value="([^"]+)"', answer.read().decode())
    assert token
    return cookie, token.group(1)


def _try_login(base_url: str, cookie: str, token: str, password: str) -> tuple[int, str]:
    """(status, page) of one sign-in through the form."""
    body = urllib.parse.urlencode(
        {"username": INVESTIGATOR.username, "password": password, "csrf": token}
    ).encode()
    request = urllib.request.Request(f"{base_url}/login", data=body, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _server_processes(base_url: str) -> list[psutil.Process]:
    port = str(urllib.parse.urlsplit(base_url).port)
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and port in cmdline:
            return [process, *process.children(recursive=True)]
    raise AssertionError(f"no server process for {base_url}")


def _peak_rss_mib(process: psutil.Process) -> float:
    status = Path(f"/proc/{process.pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert found
    return int(found.group(1)) / 1024


@pytest.fixture(scope="module")
def serve_home(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(demo_archive, tmp_path_factory.mktemp("web-limits") / "home")


def test_concurrent_wrong_passwords_cannot_pass_the_throttle(serve_home: Path) -> None:
    # Enough concurrent hashes for all twenty: only the attempt count can refuse them.
    with web_server(serve_home, env={"OSINT_ARCHIVE_WEB_LOGIN_HASHES": "20"}) as base_url:
        cookie, token = _login_form(base_url)
        with ThreadPoolExecutor(20) as pool:
            answers = list(
                pool.map(lambda i: _try_login(base_url, cookie, token, f"wrong-{i}"), range(20))
            )
    codes = [code for code, _ in answers]
    assert codes.count(401) == 5, codes  # the limit, however many arrive at once
    refused = [page for code, page in answers if code == 429]
    assert len(refused) == 15 and all("Too many failed attempts" in page for page in refused)


def test_a_burst_of_logins_keeps_the_server_s_memory_bounded(serve_home: Path) -> None:
    # A limit too high to matter here: the bound on concurrent hashes is what is tested.
    with web_server(serve_home, env={"OSINT_ARCHIVE_WEB_LOGIN_ATTEMPTS": "1000"}) as base_url:
        cookie, token = _login_form(base_url)
        processes = _server_processes(base_url)
        before = {p.pid: _peak_rss_mib(p) for p in processes}
        with ThreadPoolExecutor(30) as pool:
            answers = list(
                pool.map(lambda i: _try_login(base_url, cookie, token, f"wrong-{i}"), range(30))
            )
        growth = {p.pid: _peak_rss_mib(p) - before[p.pid] for p in processes}
    codes = [code for code, _ in answers]
    assert set(codes) <= {401, 429} and 429 in codes, codes
    busy = [page for code, page in answers if code == 429]
    assert all("Too many sign-ins at this moment" in page for page in busy)
    # Two hashes at a time per process, 64 MiB each; thirty at once took 1.3 GiB before.
    assert max(growth.values()) < 3 * 64 + 64, growth


@pytest.mark.parametrize(
    "unfinished",
    [
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",  # headers that never end
        b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\nu",  # a body
    ],
)
def test_a_request_that_never_finishes_arriving_is_closed(
    serve_home: Path, unfinished: bytes
) -> None:
    env = {"OSINT_ARCHIVE_WEB_HEADER_TIMEOUT_SECONDS": "1"}
    with web_server(serve_home, env=env) as base_url:
        address = urllib.parse.urlsplit(base_url)
        with socket.create_connection((address.hostname, address.port), timeout=30) as slow:
            slow.sendall(unfinished)
            # Ended by the server (our own 30 s timeout would raise instead): closed at once,
            # or after a refusal the app made of the cut-off request.
            received = b""
            while chunk := slow.recv(65536):
                received += chunk
            assert received == b"" or received.startswith(b"HTTP/1.1 4"), received[:200]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"username=ivan&password=" + b"x" * 100_000, 413),  # a form no sign-in needs
        (iter([b"username=ivan&", b"password=x"]), 411),  # chunked: no declared length
    ],
)
def test_a_body_too_large_or_of_unknown_length_is_refused_unread(
    anonymous: TestClient, body: object, status: int
) -> None:
    answer = anonymous.post(
        "/login", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )  # type: ignore[arg-type]
    assert answer.status_code == status
    assert answer.headers["x-frame-options"] == "DENY"
