"""The web UI's small parts on their own: passwords and sessions, login throttling, snippet
and archived-HTML sanitising, byte ranges, replay grants."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from web.accounts import AccountError, Accounts, Role
from web.downloads import parse_range
from web.markup import safe_snippet, seconds_label
from web.replay_html import rewrite_archived_html
from web.routes_replay import ReplayGrant, read_grant, replay_media_type, sign_grant
from web.state import replay_key
from web.throttle import LoginThrottle, address_group, login_limits


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    return Accounts(tmp_path / "accounts.sqlite")


def test_passwords_are_stored_as_argon2id_hashes_only(accounts: Accounts) -> None:
    accounts.add("alice", Role.INVESTIGATOR, "correct horse battery")
    rows = sqlite3.connect(accounts.path).execute("SELECT password_hash FROM users").fetchall()
    assert rows[0][0].startswith("$argon2id$")
    assert "correct horse" not in rows[0][0]
    assert accounts.authenticate("alice", "correct horse battery") is not None
    assert accounts.authenticate("alice", "wrong horse battery") is None
    assert accounts.authenticate("nobody", "correct horse battery") is None


def test_accounts_refuse_bad_names_short_passwords_and_duplicates(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="at least 12"):
        accounts.add("bob", Role.ADMIN, "short")
    with pytest.raises(AccountError, match="invalid username"):
        accounts.add("../etc", Role.ADMIN, "long enough password")
    accounts.add("bob", Role.ADMIN, "long enough password")
    with pytest.raises(AccountError, match="exists already"):
        accounts.add("bob", Role.INVESTIGATOR, "another long password")


def test_sessions_end_on_logout_password_change_disable_and_expiry(accounts: Accounts) -> None:
    user = accounts.add("carol", Role.CUSTODIAN, "a long password!")
    token, session = accounts.open_session(user, hours=1)
    assert accounts.session(token) == session
    stored = sqlite3.connect(accounts.path).execute("SELECT token_sha256 FROM sessions").fetchall()
    assert token not in {row[0] for row in stored}  # only the token's digest is kept
    accounts.close_session(token)
    assert accounts.session(token) is None
    token, _ = accounts.open_session(user, hours=1)
    accounts.set_password("carol", "another long password")
    assert accounts.session(token) is None
    token, _ = accounts.open_session(user, hours=1)
    accounts.set_disabled("carol", True)
    assert accounts.session(token) is None
    assert accounts.authenticate("carol", "another long password") is None
    accounts.set_disabled("carol", False)
    token, _ = accounts.open_session(user, hours=0.0001)
    time.sleep(0.5)
    assert accounts.session(token) is None


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.INVESTIGATOR, {Role.INVESTIGATOR}),
        (Role.ANALYST, {Role.INVESTIGATOR, Role.ANALYST}),
        (Role.CUSTODIAN, {Role.INVESTIGATOR, Role.ANALYST, Role.CUSTODIAN}),
        (Role.ADMIN, set(Role)),
    ],
)
def test_roles_include_the_ones_before(role: Role, allowed: set[Role]) -> None:
    assert {needed for needed in Role if role.allows(needed)} == allowed


def test_login_throttle_counts_attempts_in_a_sliding_window(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "accounts.sqlite"
    throttle = LoginThrottle(path, attempts=3, window_seconds=60, clock=lambda: now[0])
    a_at_x = {"user:a": 3, "addr:x": 3}
    for _ in range(3):
        assert throttle.retry_after(a_at_x) == 0
        assert throttle.begin(a_at_x) is not None  # counted before any hashing
    assert throttle.begin(a_at_x) is None
    assert throttle.retry_after({"user:a": 3}) == pytest.approx(60)
    assert throttle.retry_after({"user:b": 3, "addr:x": 3}) == pytest.approx(60)  # same address
    assert throttle.begin({"user:b": 3, "addr:x": 3}) is None
    assert throttle.begin({"user:b": 3, "addr:x": 4}) is not None  # a looser limit
    now[0] += 30
    assert throttle.retry_after({"user:a": 3}) == pytest.approx(30)
    now[0] += 31
    assert throttle.retry_after(a_at_x) == 0
    attempt = throttle.begin({"user:a": 3, "addr:y": 3})
    assert attempt is not None
    throttle.succeeded(attempt, "user:a")
    assert throttle.retry_after({"user:a": 3}) == 0


def test_a_successful_attempt_takes_its_count_back(tmp_path: Path) -> None:
    throttle = LoginThrottle(tmp_path / "accounts.sqlite", attempts=2, window_seconds=60)
    for _ in range(5):
        attempt = throttle.begin({"user:a": 2, "addr:x": 2})
        assert attempt is not None
        throttle.succeeded(attempt, "user:a")
    assert throttle.retry_after({"user:a": 2, "addr:x": 2}) == 0


def test_login_attempts_are_shared_by_server_processes(tmp_path: Path) -> None:
    path = tmp_path / "accounts.sqlite"
    first = LoginThrottle(path, attempts=2, window_seconds=60)
    second = LoginThrottle(path, attempts=2, window_seconds=60)
    first.begin({"user:a": 2})
    second.begin({"user:a": 2})
    assert first.begin({"user:a": 2}) is None and second.begin({"user:a": 2}) is None
    assert first.retry_after({"user:a": 2}) > 0 and second.retry_after({"user:a": 2}) > 0


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),  # the same subscriber's network
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unknown", "unknown"),
    ],
)
def test_addresses_are_counted_per_ipv4_host_or_ipv6_64(address: str, group: str) -> None:
    assert address_group(address) == group


def test_an_account_guessed_from_elsewhere_is_not_locked_out_for_its_owner() -> None:
    stranger = login_limits("ivan", "203.0.113.9", 5)
    owner = login_limits("ivan", "198.51.100.7", 5)
    shared = set(stranger) & set(owner)
    assert shared == {"user:ivan"} and owner["user:ivan"] == 50  # ten times the pair's limit


def test_replay_key_is_made_once_and_kept(tmp_path: Path) -> None:
    key = replay_key(tmp_path / "web" / "replay.key")
    assert len(key) == 32 and replay_key(tmp_path / "web" / "replay.key") == key
    assert oct((tmp_path / "web" / "replay.key").stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in (tmp_path / "web").iterdir()] == ["replay.key"]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("plain <mark>word</mark> text", "plain <mark>word</mark> text"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("&lt;b&gt; <mark>x</mark>", "&lt;b&gt; <mark>x</mark>"),
        ("<mark>open", "<mark>open</mark>"),
        ("stray </mark> close", "stray  close"),
        ('<img src=x onerror="a()">', "&lt;img src=x onerror=&quot;a()&quot;&gt;"),
    ],
)
def test_snippets_keep_only_balanced_marks(snippet: str, expected: str) -> None:
    assert str(safe_snippet(snippet)) == expected


def test_seconds_labels() -> None:
    assert seconds_label(1.78) == "0:01.8"
    assert seconds_label(6.44) == "0:06.4"
    assert seconds_label(59.96) == "1:00.0"
    assert seconds_label(3725.25) == "1:02:05.2"


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("bytes=0-", 100, (0, 99)),
        ("bytes=10-19", 100, (10, 19)),
        ("bytes=90-200", 100, (90, 99)),
        ("bytes=-10", 100, (90, 99)),
        ("bytes=0-1,5-6", 100, None),  # several ranges: the whole object
        ("items=0-1", 100, None),
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(ValueError):
        parse_range(header, 100)


def test_archived_html_loses_scripts_handlers_refreshes_and_live_links() -> None:
    page = b"""<html><head><meta http-equiv="refresh" content="0;url=http://live.example/">
    <base href="http://site.example/a/"><script src="app.js"></script>
    <style>body { background: url(bg.png) }</style></head>
    <body onload="steal()"><h1 onclick="x()">Title</h1>
    <a href="javascript:alert(1)">js</a> <a href="next.html">next</a> <a href="mailto:x@y">m</a>
    <img src="i.png" srcset="big.png 2x" onerror="alert(2)">
    <iframe src="http://tracker.example/"></iframe><object data="x.swf"></object>
    <form action="http://site.example/post"><input name="q"></form></body></html>"""
    out = rewrite_archived_html(page, "http://site.example/a/page.html", lambda u: f"/r/web/{u}")
    text = out.decode()
    for banned in (
        "<script",
        "onload",
        "onclick",
        "onerror",
        "javascript:",
        "refresh",
        "<iframe",
        "<object",
        "srcset",
        "mailto:",
        "live.example",
        "tracker",
    ):
        assert banned not in text, banned
    assert 'href="/r/web/http://site.example/a/next.html"' in text
    assert 'src="/r/web/http://site.example/a/i.png"' in text
    assert "url(/r/web/http://site.example/a/bg.png)" in text
    assert "Title" in text


def test_svg_animation_cannot_retarget_a_link_and_bogus_charsets_are_guessed() -> None:
    page = (
        b'<html><body><svg><a href="x.html"><set attributeName="href" to="https://live/"/>'
        b'<animate attributeName="href" values="https://live/"/><text>t</text></a></svg>'
        b"</body></html>"
    )
    out = rewrite_archived_html(page, "http://site/p", lambda u: f"/r/web/{u}", "x-bogus")
    assert b"live" not in out and b"<set" not in out and b"<animate" not in out
    assert b'href="/r/web/http://site/x.html"' in out


@pytest.mark.parametrize(
    ("archived", "dest", "served"),
    [
        ("text/html; charset=koi8-r", "iframe", "text/html"),
        ("application/xhtml+xml", "document", "text/html"),
        ("image/png", "image", "image/png"),
        ("text/css", "style", "text/css"),
        ("image/svg+xml", "image", "image/svg+xml"),
        ("image/svg+xml", "document", "text/plain; charset=utf-8"),
        ("application/xml", "document", "text/plain; charset=utf-8"),
        ("application/javascript", "script", "text/plain; charset=utf-8"),
        ("", "document", "text/plain; charset=utf-8"),
    ],
)
def test_replay_serves_only_cleaned_html_and_passive_media(
    archived: str, dest: str, served: str
) -> None:
    assert replay_media_type(archived, dest) == served


def test_replay_grants_are_signed_and_expire() -> None:
    key = b"k" * 32
    session = "5e" * 32
    grant = ReplayGrant(
        "c0ffee00-0000-0000-0000-000000000000", "alice.b", int(time.time()) + 60, session, "dom"
    )
    token = sign_grant(key, grant)
    assert read_grant(key, token) == grant
    assert read_grant(b"x" * 32, token) is None
    forged = sign_grant(key, grant).replace(token[:4], "AAAA", 1)
    assert read_grant(key, forged) is None
    assert read_grant(key, "garbage") is None
    expired = sign_grant(
        key, ReplayGrant(grant.capture_id, "alice.b", int(time.time()) - 1, session, "page")
    )
    assert read_grant(key, expired) is None
