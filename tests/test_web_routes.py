"""The web UI's routes, in process (FastAPI's TestClient) over a copy of the demo archive:
access control, sessions and CSRF, search with facets, the capture page and its custody,
downloads, replay and the player; hostile input gets a clear answer and runs nothing."""

from __future__ import annotations

import hashlib
import json
import re
import stat
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from markupsafe import escape

from archive.custody import CustodyLog
from archive.local_store import LocalStore
from tests.speech_scoring import DEMO_SPOKEN_WORD, is_demo_spoken_start, seconds_of_range_label
from tests.web_fixtures import copy_home
from web.accounts import Accounts, Role
from web.app import create_app
from web.config import WebSettings
from web.custody_view import ACCESS_CHAIN

PASSWORDS = {
    "ivan": ("investigator", "investigator-pass-1"),
    "cora": ("custodian", "custodian-pass-12"),
    "ada": ("admin", "admin-password-123"),
}
CAPTURE_LINK = re.compile(r'href="/captures/([0-9a-f-]{36})"')


@pytest.fixture(scope="module")
def web_home(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("web-routes") / "home"
    copy_home(demo_archive, home)
    accounts = Accounts(home / "web" / "accounts.sqlite")
    for name, (role, password) in PASSWORDS.items():
        accounts.add(name, Role(role), password)
    accounts.close()
    return home


def make_client(
    home: Path, https: bool = False, address: str = "testclient", **env: str
) -> TestClient:
    settings = WebSettings.from_env(
        {
            "OSINT_ARCHIVE_HOME": str(home),
            "OSINT_ARCHIVE_WEB_CHAIN_RECHECK_SECONDS": "0",
            "OSINT_ARCHIVE_WEB_ALLOWED_HOSTS": "testserver",  # TestClient's Host
            **env,
        }
    )
    base = "https://testserver" if https else "http://testserver"
    return TestClient(
        create_app(settings), base_url=base, follow_redirects=False, client=(address, 50000)
    )


@pytest.fixture(scope="module")
def anonymous(web_home: Path) -> Iterator[TestClient]:
    with make_client(web_home) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def post_login(client: TestClient, name: str, password: str | None = None) -> Response:
    """Sign in through the form (its CSRF token first); the answer to the POST."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": name,
            "password": password or PASSWORDS[name][1],
            "csrf": csrf_of(form.text),
            "next": "/search",
        },
    )


def log_in(client: TestClient, name: str, password: str | None = None) -> TestClient:
    done = post_login(client, name, password)
    assert done.status_code == 303, done.text[:1000]
    return client


@pytest.fixture(scope="module")
def ivan(web_home: Path) -> Iterator[TestClient]:
    with make_client(web_home) as client:
        yield log_in(client, "ivan")


def session_csrf(client: TestClient) -> str:
    return csrf_of(client.get("/search").text)


def first_capture(client: TestClient, query: str) -> str:
    page = client.get("/search", params={"q": query})
    found = CAPTURE_LINK.search(page.text)
    assert found, page.text[:3000]
    return found.group(1)


# --- access control -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/search?q=суд",
        "/captures/00000000-0000-0000-0000-000000000000",
        "/captures/00000000-0000-0000-0000-000000000000/warc",
        "/admin/users",
    ],
)
def test_without_a_session_every_page_sends_to_the_login(anonymous: TestClient, path: str) -> None:
    answer = anonymous.get(path)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_a_post_without_a_session_is_refused(anonymous: TestClient) -> None:
    assert anonymous.post("/logout", data={"csrf": "x"}).status_code == 401


def test_session_cookie_is_httponly_and_samesite_and_secure_over_tls(web_home: Path) -> None:
    with make_client(web_home) as plain:
        log_in(plain, "ivan")
        cookie = _set_cookie(plain, "ivan")
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    with make_client(web_home, https=True) as tls:
        cookie = _set_cookie(tls, "ivan")
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def _set_cookie(client: TestClient, name: str) -> str:
    done = post_login(client, name)
    assert done.status_code == 303
    cookies = [v for k, v in done.headers.multi_items() if k == "set-cookie"]
    return next(c for c in cookies if c.startswith("oa_session=")).lower()


def test_wrong_passwords_are_throttled_per_account(web_home: Path) -> None:
    with make_client(web_home, OSINT_ARCHIVE_WEB_LOGIN_ATTEMPTS="3") as client:
        for _ in range(3):
            form = client.get("/login")
            wrong = client.post(
                "/login",
                data={
                    "username": "cora",
                    "password": "not-the-password",
                    "csrf": csrf_of(form.text),
                },
            )
            assert wrong.status_code == 401
            assert "Wrong username or password" in wrong.text
        form = client.get("/login")
        blocked = client.post(
            "/login",
            data={"username": "cora", "password": PASSWORDS["cora"][1], "csrf": csrf_of(form.text)},
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        assert "oa_session" not in blocked.headers.get("set-cookie", "")


def test_login_needs_its_own_csrf_token(anonymous: TestClient) -> None:
    anonymous.get("/login")
    forged = anonymous.post(
        "/login", data={"username": "ivan", "password": PASSWORDS["ivan"][1], "csrf": "forged"}
    )
    assert forged.status_code == 403


def test_login_never_redirects_off_site(web_home: Path) -> None:
    with make_client(web_home) as client:
        form = client.get("/login")
        done = client.post(
            "/login",
            data={
                "username": "ivan",
                "password": PASSWORDS["ivan"][1],
                "csrf": csrf_of(form.text),
                "next": "//evil.example/steal",
            },
        )
        assert done.headers["location"] == "/search"


def test_forms_refuse_a_missing_or_another_users_csrf_token(web_home: Path) -> None:
    with make_client(web_home) as cora, make_client(web_home) as ada:
        log_in(cora, "cora")
        log_in(ada, "ada")
        capture = first_capture(cora, "задержание")
        cora_token = session_csrf(cora)
        assert cora.post(f"/captures/{capture}/export", data={}).status_code == 403
        ada_token = session_csrf(ada)
        assert cora.post(f"/captures/{capture}/export", data={"csrf": ada_token}).status_code == 403
        assert ada.post("/logout", data={"csrf": cora_token}).status_code == 403
        assert ada.get("/search").status_code == 200  # still signed in


def test_roles_gate_export_and_accounts(web_home: Path, ivan: TestClient) -> None:
    capture = first_capture(ivan, "задержание")
    assert "Export WACZ" not in ivan.get(f"/captures/{capture}").text
    refused = ivan.post(f"/captures/{capture}/export", data={"csrf": session_csrf(ivan)})
    assert refused.status_code == 403
    assert ivan.get("/admin/users").status_code == 403
    with make_client(web_home) as cora:
        log_in(cora, "cora")
        package = cora.post(f"/captures/{capture}/export", data={"csrf": session_csrf(cora)})
        assert package.status_code == 200
        assert package.content[:2] == b"PK"
        assert cora.get("/admin/users").status_code == 403
    with make_client(web_home) as ada:
        log_in(ada, "ada")
        listed = ada.get("/admin/users")
        assert listed.status_code == 200 and "cora" in listed.text
        added = ada.post(
            "/admin/users",
            data={
                "csrf": session_csrf(ada),
                "username": "newbie",
                "password": "a-long-password-1",
                "role": "investigator",
            },
        )
        assert added.status_code == 303
        short = ada.post(
            "/admin/users",
            data={
                "csrf": session_csrf(ada),
                "username": "x2",
                "password": "short",
                "role": "admin",
            },
        )
        assert short.status_code == 400 and "at least 12" in short.text


def test_a_csrf_token_with_other_characters_is_refused_not_an_error(ivan: TestClient) -> None:
    assert ivan.post("/logout", data={"csrf": "токен"}).status_code == 403
    assert ivan.get("/search").status_code == 200


def test_logout_ends_the_session(web_home: Path) -> None:
    with make_client(web_home) as client:
        log_in(client, "ivan")
        assert client.post("/logout", data={"csrf": session_csrf(client)}).status_code == 303
        assert client.get("/search").status_code == 303


# --- search -----------------------------------------------------------------------------


def test_a_spoken_word_is_a_transcript_hit_with_its_seconds_and_a_player_link(
    ivan: TestClient,
) -> None:
    page = ivan.get("/search", params={"q": DEMO_SPOKEN_WORD})
    assert page.status_code == 200
    start, end = seconds_of_range_label(page.text)
    assert is_demo_spoken_start(start) and end > start, (start, end)
    link = re.search(r'/captures/[0-9a-f-]{36}/play/[0-9a-f]{64}\?t=([0-9.]+)"', page.text)
    assert link and is_demo_spoken_start(float(link.group(1))), page.text[:3000]
    assert f"<mark>{DEMO_SPOKEN_WORD}</mark>" in page.text


def test_facets_count_and_filter(ivan: TestClient) -> None:
    page = ivan.get("/search", params={"q": "суд"})
    kinds = dict(
        re.findall(r'(?:\?|&amp;)kind=(\w+)"[^>]*>[^<]+</a> <span class="count">(\d+)', page.text)
    )
    assert kinds, page.text[:3000]
    total = int(re.search(r"(\d+) found", page.text).group(1))  # type: ignore[union-attr]
    assert sum(map(int, kinds.values())) == total
    only_pages = ivan.get("/search", params={"q": "суд", "kind": "page"})
    shown = re.findall(r'class="hit hit-(\w+)"', only_pages.text)
    assert shown and set(shown) == {"page"}
    assert f"{kinds['page']} found" in only_pages.text


def test_language_filter_and_russian_interface(ivan: TestClient) -> None:
    page = ivan.get("/search", params={"q": "Минск", "lang": "be"})
    langs = re.findall(r'<span class="lang" title="[^"]+">(\w+)</span>', page.text)
    assert langs and set(langs) == {"be"}
    assert '<html lang="en">' in page.text
    russian = ivan.get("/search", params={"q": "Минск", "lang": "be", "ui": "ru"})
    assert '<html lang="ru">' in russian.text and "Поиск по архиву" in russian.text
    assert set(re.findall(r'<span class="lang" title="[^"]+">(\w+)</span>', russian.text)) == {"be"}
    assert "Поиск по архиву" in ivan.get("/search").text  # the choice is remembered
    ivan.get("/search", params={"ui": "en"})


@pytest.mark.parametrize(
    "query",
    ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)"],
)
def test_queries_with_markup_are_shown_escaped(ivan: TestClient, query: str) -> None:
    page = ivan.get("/search", params={"q": query})
    assert page.status_code in (200, 400)
    if any(c in query for c in '<>"'):
        assert query not in page.text
    assert f'value="{escape(query)}"' in page.text


def test_an_unsearchable_query_says_why(ivan: TestClient) -> None:
    page = ivan.get("/search", params={"q": "NOT суд"})
    assert page.status_code == 400
    assert 'class="error"' in page.text


def test_pages_of_results(ivan: TestClient) -> None:
    first = ivan.get("/search", params={"q": "суд OR Минск OR trial OR задержание"})
    assert first.status_code == 200
    assert ivan.get("/search", params={"q": "суд", "page": "999999"}).status_code == 200
    assert ivan.get("/search", params={"q": "суд", "since": "not-a-date"}).status_code == 200


# --- the capture page -------------------------------------------------------------------


def test_capture_page_shows_metadata_hashes_and_an_intact_chain(
    web_home: Path, ivan: TestClient
) -> None:
    capture = first_capture(ivan, "задержание")
    page = ivan.get(f"/captures/{capture}")
    assert page.status_code == 200
    assert 'data-chain="intact"' in page.text
    manifest_path = next((web_home / "archive" / "captures").rglob(f"{capture}.json"))
    manifest = json.loads(manifest_path.read_bytes())
    for digest in (
        hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        manifest["payload_sha256"],
        manifest["warc"]["sha256"],
    ):
        assert digest in page.text
    assert manifest["requested_url"] in page.text
    assert manifest["ip_address"] in page.text
    assert "warcio" in page.text  # tool versions


def test_every_view_and_download_is_a_custody_event(web_home: Path, ivan: TestClient) -> None:
    capture = first_capture(ivan, "задержание")
    log = CustodyLog(_store(web_home), ACCESS_CHAIN)
    before = log.head()[0]
    ivan.get(f"/captures/{capture}")
    record = ivan.get(f"/captures/{capture}/warc-record")
    assert record.status_code == 200
    events = list(log.events(after_seq=before))
    assert [(e["type"], e["details"]["capture_id"], e["details"]["user"]) for e in events] == [
        ("viewed", capture, "ivan"),
        ("downloaded", capture, "ivan"),
    ]
    assert events[0]["actor"] == "web:ivan"
    assert log.verify().intact
    again = ivan.get(f"/captures/{capture}")
    assert "ivan (investigator)" in again.text


def test_the_warc_record_download_is_the_stored_bytes(web_home: Path, ivan: TestClient) -> None:
    capture = first_capture(ivan, "задержание")
    manifest = json.loads(
        next((web_home / "archive" / "captures").rglob(f"{capture}.json")).read_bytes()
    )
    warc = manifest["warc"]
    whole = (web_home / "archive" / warc["key"]).read_bytes()
    record = ivan.get(f"/captures/{capture}/warc-record")
    assert record.content == whole[warc["offset"] : warc["offset"] + warc["length"]]
    assert "attachment" in record.headers["content-disposition"]
    assert ivan.get(f"/captures/{capture}/warc").content == whole


def test_a_tampered_custody_event_shows_where_the_chain_broke(
    demo_archive: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    copy_home(demo_archive, home)
    Accounts(home / "web" / "accounts.sqlite").add("ivan", Role.INVESTIGATOR, PASSWORDS["ivan"][1])
    event = home / "archive" / "custody" / "demo-news" / "0000000002.json"
    data = json.loads(event.read_bytes())
    data["actor"] = "someone-else@elsewhere"
    event.chmod(stat.S_IWUSR | stat.S_IRUSR)
    event.write_text(json.dumps(data), encoding="utf-8")
    with make_client(home) as client:
        log_in(client, "ivan")
        capture = first_capture(client, "задержание")
        page = client.get(f"/captures/{capture}")
        assert 'data-chain="broken"' in page.text
        assert "broken at event 2" in page.text


def test_versions_of_a_url_and_their_text_diff(ivan: TestClient, web_home: Path) -> None:
    changed = [
        json.loads(p.read_bytes())
        for p in (web_home / "archive" / "captures").rglob("*.json")
        if json.loads(p.read_bytes()).get("changed")
    ]
    assert changed, "the demo's second pass changes one page"
    newer = changed[0]
    page = ivan.get(f"/captures/{newer['capture_id']}")
    older = newer["previous_capture"]["capture_id"]
    assert f"/captures/{newer['capture_id']}/diff/{older}" in page.text
    diff = ivan.get(f"/captures/{newer['capture_id']}/diff/{older}")
    assert diff.status_code == 200
    assert "<ins>" in diff.text and "<del>" in diff.text


@pytest.mark.parametrize(
    "path",
    [
        "/captures/..%2F..%2Fetc%2Fpasswd",
        "/captures/../../etc/passwd",
        "/captures/{capture}/media/..%2F..%2F..%2Fetc%2Fpasswd",
        "/captures/{capture}/media/" + "0" * 64,
        "/captures/{capture}/diff/..%2Fsecrets",
        "/static/..%2F..%2Fweb%2Fapp.py",
        "/static/../pyproject.toml",
        "/captures/{capture}/captions/{sha}/..%2F..%2Fx.vtt",
    ],
)
def test_path_traversal_finds_nothing(ivan: TestClient, path: str) -> None:
    capture = first_capture(ivan, "задержание")
    answer = ivan.get(path.format(capture=capture, sha="0" * 64))
    assert answer.status_code in (400, 404)
    assert "root:" not in answer.text and "[project]" not in answer.text


# --- media, player, replay ----------------------------------------------------------------


def _store(home: Path) -> LocalStore:
    return LocalStore(home / "archive")


def _transcript_link(client: TestClient) -> str:
    page = client.get("/search", params={"q": "избили"})
    found = re.search(r'href="(/captures/[0-9a-f-]{36}/play/[0-9a-f]{64}\?t=[0-9.]+)"', page.text)
    assert found
    return found.group(1)


def test_the_player_opens_at_the_hit_with_the_transcript_beside(ivan: TestClient) -> None:
    link = _transcript_link(ivan)
    page = ivan.get(link)
    assert page.status_code == 200
    start = link.rsplit("?t=", 1)[1]
    assert f'data-start="{float(start):.2f}"' in page.text
    current = re.search(r'class="segment current"[^>]*>(.*?)</button>', page.text, re.S)
    assert current and "избили" in current.group(1)
    assert '<script src="/static/player.js" defer></script>' in page.text
    assert '<track kind="captions"' in page.text


def test_media_is_served_from_the_archive_with_ranges(web_home: Path, ivan: TestClient) -> None:
    link = _transcript_link(ivan)
    capture, sha = re.findall(r"/captures/([0-9a-f-]{36})/play/([0-9a-f]{64})", link)[0]
    stored = next((web_home / "archive" / "objects").rglob(sha)).read_bytes()
    whole = ivan.get(f"/captures/{capture}/media/{sha}")
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == sha
    part = ivan.get(f"/captures/{capture}/media/{sha}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == stored[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(stored)}"
    log = CustodyLog(_store(web_home), ACCESS_CHAIN)
    before = log.head()[0]
    for header in ("bytes=00-", "Bytes=0-", "bytes=1-1,2-2", "bytes=0-99", "bytes=100-199"):
        ivan.get(f"/captures/{capture}/media/{sha}", headers={"Range": header})
    # This session's first response for the object was recorded above; its later ranges are
    # the same receipt (tests/test_web_custody.py: any spelling, any session).
    assert [e["type"] for e in log.events(after_seq=before)] == []
    beyond = ivan.get(f"/captures/{capture}/media/{sha}", headers={"Range": "bytes=999999999-"})
    assert beyond.status_code == 416
    captions = ivan.get(link.split("/play/")[0] + f"/captions/{sha}/" + "x" * 3 + ".vtt")
    assert captions.status_code == 404


def test_replay_is_sandboxed_scriptless_and_points_only_into_the_archive(
    ivan: TestClient,
) -> None:
    capture = first_capture(ivan, "задержание")
    frame = ivan.get(f"/captures/{capture}/replay")
    assert frame.status_code == 200
    # Scripts never; a click may only take the top window to the app's follow route.
    sandbox = "allow-top-navigation-by-user-activation"
    src = re.search(rf'<iframe class="replay" sandbox="{sandbox}" [^>]*src="([^"]+)"', frame.text)
    assert src, frame.text[:3000]
    page = ivan.get(src.group(1))
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert policy.startswith(f"sandbox {sandbox};") and "default-src 'none'" in policy
    assert "script-src" not in policy  # falls back to default-src 'none'
    assert "<script" not in page.text.lower()
    links = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    own = (src.group(1).rsplit("/", 1)[0] + "/web/http", f"/captures/{capture}/follow?url=http")
    assert links and all(link.startswith(own) or link.startswith("#") for link in links)
    forged = src.group(1).replace("/replay/", "/replay/A")
    assert ivan.get(forged).status_code == 404


def test_replay_follows_a_link_to_another_archived_page(ivan: TestClient) -> None:
    capture = first_capture(ivan, "задержание")
    frame = ivan.get(f"/captures/{capture}/replay")
    src = re.search(r'src="(/replay/[^"]+)"', frame.text).group(1)  # type: ignore[union-attr]
    page = ivan.get(src)
    links = re.findall(
        rf'href="(/captures/{capture}/follow\?url=[^"]+\.html)" target="_top"', page.text
    )
    assert links, page.text[:3000]
    # Signed in, the link opens that page's own capture: its replay view, its own grant.
    followed = ivan.get(unescape(links[0]))
    assert followed.status_code == 303
    other = re.fullmatch(r"/captures/([0-9a-f-]{36})/replay", followed.headers["location"])
    assert other and other.group(1) != capture
    linked_frame = ivan.get(followed.headers["location"])
    linked_src = re.search(r'src="(/replay/[^"]+)"', linked_frame.text)
    assert linked_src and linked_src.group(1).split("/")[2] != src.split("/")[2]
    linked = ivan.get(linked_src.group(1))
    assert linked.status_code == 200 and "<html" in linked.text.lower()
    never = quote("http://127.0.0.1:1/never-archived", safe="")
    assert ivan.get(f"/captures/{capture}/follow?url={never}").status_code == 404
    missing = ivan.get(src.rsplit("/", 1)[0] + "/web/http://127.0.0.1:1/never-archived")
    assert missing.status_code == 404


def test_custodians_verify_a_captures_fixity_and_damage_shows(
    demo_archive: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    copy_home(demo_archive, home)
    accounts = Accounts(home / "web" / "accounts.sqlite")
    accounts.add("cora", Role.CUSTODIAN, PASSWORDS["cora"][1])
    accounts.add("ivan", Role.INVESTIGATOR, PASSWORDS["ivan"][1])
    with make_client(home) as cora, make_client(home) as ivan:
        log_in(cora, "cora")
        log_in(ivan, "ivan")
        capture = first_capture(cora, "задержание")
        refused = ivan.post(f"/captures/{capture}/verify", data={"csrf": session_csrf(ivan)})
        assert refused.status_code == 403
        checked = cora.post(f"/captures/{capture}/verify", data={"csrf": session_csrf(cora)})
        assert checked.status_code == 200 and 'data-fixity="intact"' in checked.text
        manifest = json.loads(
            next((home / "archive" / "captures").rglob(f"{capture}.json")).read_bytes()
        )
        text = home / "archive" / manifest["text"]["key"]
        text.chmod(stat.S_IWUSR | stat.S_IRUSR)
        text.write_bytes(text.read_bytes() + b" edited")
        damaged = cora.post(f"/captures/{capture}/verify", data={"csrf": session_csrf(cora)})
        assert 'data-fixity="damaged"' in damaged.text
        events = list(CustodyLog(_store(home), ACCESS_CHAIN).events())
        verified = [e["details"]["intact"] for e in events if e["type"] == "verified"]
        assert verified == [True, False]


def test_a_damaged_manifest_or_a_missing_object_gets_a_clear_page(
    demo_archive: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    copy_home(demo_archive, home)
    Accounts(home / "web" / "accounts.sqlite").add("ivan", Role.INVESTIGATOR, PASSWORDS["ivan"][1])
    with make_client(home) as client:
        log_in(client, "ivan")
        capture = first_capture(client, "задержание")
        manifest_path = next((home / "archive" / "captures").rglob(f"{capture}.json"))
        manifest = json.loads(manifest_path.read_bytes())
        warc = home / "archive" / manifest["warc"]["key"]
        warc.chmod(stat.S_IWUSR | stat.S_IRUSR)
        warc.unlink()
        missing = client.get(f"/captures/{capture}/warc")
        assert missing.status_code == 404 and "osint-archive audit" in missing.text
        manifest_path.chmod(stat.S_IWUSR | stat.S_IRUSR)
        manifest_path.write_text("{not json", encoding="utf-8")
        damaged = client.get(f"/captures/{capture}")
        assert damaged.status_code == 409 and "osint-archive audit" in damaged.text
