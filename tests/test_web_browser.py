"""The web UI in a real browser: system Chromium driven by Playwright against
``osint-archive serve`` on loopback, over copies of the demo archive and of an archived
hostile page.

What an investigator does, end to end: sign in through the form, search, open a spoken hit in
the player at its second, read a capture's custody badge (and see it break when an event file
is edited), open the sandboxed replay, and use the pages with the keyboard alone. Every
request the browser makes is recorded: none may leave the server (the archived sites' own
addresses are on loopback too, and are watched). Archived markup must show as text and never
run. Screenshots of each step are kept under ``build/test-artifacts/web/``.
"""

from __future__ import annotations

import json
import re
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Dialog, Page, Playwright, expect, sync_playwright

from collectors.browser_launch import BrowserOptions, default_chromium_path, launch_arguments
from tests.cli_runs import REPO, run_cli, write_web_source
from tests.hostile_site import (
    DOM_TEXT,
    HOSTILE_TITLE,
    IMG_TEXT,
    JS_LINK_TEXT,
    PWNED_TITLE,
    SCRIPT_TEXT,
    SEARCH_WORD,
    HostileSite,
)
from tests.speech_scoring import DEMO_SPOKEN_WORD, is_demo_spoken_start, seconds_of_range_label
from tests.web_fixtures import INVESTIGATOR, WebAccount, copy_home, web_server
from web.routes_replay import FRAME_SANDBOX

CHROMIUM = default_chromium_path()
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"NO CHROMIUM AT {CHROMIUM}: apt-get install chromium — web UI untested in a browser",
)

ARTIFACTS = REPO / "build" / "test-artifacts" / "web"
ACTION_MS = 15_000  # longest wait for one page or element
SPOKEN_WORD = DEMO_SPOKEN_WORD  # said in the demo video from about 1.78 s, written on no page
ARREST_QUERY = "задержание"
ARREST_TITLE = "В Минске задержали участников пикета"  # the page's heading
SEEK_TOLERANCE = 0.5
MARKUP_QUERY = "<img src=x onerror=alert(5)>"
H264 = 'video/mp4; codecs="avc1.42E01E"'
# Custody: verify chains in full on every view, so an edit shows on the next page load.
RECHECK_EVERY_VIEW = {"OSINT_ARCHIVE_WEB_CHAIN_RECHECK_SECONDS": "0"}


@dataclass
class BrowserSession:
    """One signed-in browser context: its page, and everything it asked for or opened."""

    page: Page
    base_url: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def foreign_requests(self) -> list[str]:
        """Requests to anywhere but the server under test."""
        own = urlsplit(self.base_url).netloc
        return [url for url in self.requests if urlsplit(url).netloc != own]


OpenSession = Callable[[str], BrowserSession]


def screenshot(page: Page, name: str) -> None:
    """A full-page screenshot kept as a test artefact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """The system Chromium, headless, with the flags the capture browser gets, but for its
    host-resolver rule (it maps even 127.0.0.1 to nowhere, and this browser must reach the
    server); requests it should not make are caught by recording them, not by blocking."""
    args = [
        flag
        for flag in launch_arguments(BrowserOptions(executable_path=CHROMIUM))
        if not flag.startswith("--host-resolver-rules")
    ]
    # As in a browser the investigator has not yet clicked in: the player's ?t= seek stays
    # put instead of playing on, while a click on a segment plays.
    args.append("--autoplay-policy=user-gesture-required")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    yield launched
    launched.close()


@pytest.fixture
def open_session(browser: Browser) -> Iterator[OpenSession]:
    """``open_session(base_url)``: a fresh context recording requests and dialogs."""
    contexts = []

    def opener(base_url: str) -> BrowserSession:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
        context.set_default_timeout(ACTION_MS)
        contexts.append(context)
        page = context.new_page()
        session = BrowserSession(page, base_url)
        # The context sees the requests of every frame and of every page it opens.
        context.on("request", lambda request: session.requests.append(request.url))

        def on_dialog(dialog: Dialog) -> None:
            session.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        return session

    yield opener
    for context in contexts:
        context.close()


def sign_in(session: BrowserSession, account: WebAccount = INVESTIGATOR) -> Page:
    """Sign in through the login form, as a person would; ends on the search page."""
    page = session.page
    page.goto(session.base_url + "/search")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/search$"))
    return page


def search(page: Page, query: str) -> None:
    page.locator("#q").fill(query)
    page.locator("#q").press("Enter")
    expect(page.locator("#results-heading")).to_be_visible()


def open_arrest_capture(page: Page) -> None:
    """From the search page to the capture of the page that says «задержали»."""
    search(page, ARREST_QUERY)
    hit = page.locator("li.hit-page", has_text=ARREST_TITLE).first
    hit.get_by_role("link", name=re.compile(ARREST_TITLE)).click()
    expect(page).to_have_url(re.compile(r"/captures/[0-9a-f-]{36}$"))
    expect(page.locator("main h1")).to_have_text(re.compile(ARREST_TITLE))


def unlabelled_fields(page: Page) -> list[str]:
    """Form fields (hidden ones aside) without a label, aria-label or aria-labelledby."""
    fields = page.locator("input:not([type=hidden]), select, textarea")
    missing: list[str] = fields.evaluate_all(
        """fields => fields
            .filter(f => !(f.labels && f.labels.length) && !f.getAttribute('aria-label')
                         && !f.getAttribute('aria-labelledby'))
            .map(f => f.outerHTML)"""
    )
    return missing


def tab_to(page: Page, selector: str, most: int = 60) -> None:
    """Press Tab until ``selector`` has the focus (at most ``most`` times)."""
    for _ in range(most):
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} never got the focus in {most} presses of Tab")


class PortWatch:
    """A listener on an archived site's old address: any connection to it is a leak."""

    def __init__(self, port: int) -> None:
        self.listener = socket.socket()
        # The demo's own connections may linger in TIME_WAIT on that port.
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(16)
        self.listener.setblocking(False)

    def connections(self) -> int:
        count = 0
        while True:
            try:
                accepted, _ = self.listener.accept()
            except BlockingIOError:
                return count
            accepted.close()
            count += 1

    def close(self) -> None:
        self.listener.close()


# The demo archive: one copy for the tests that only read it (their views are recorded).


@pytest.fixture(scope="module")
def demo_server(demo_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = copy_home(demo_archive, tmp_path_factory.mktemp("web-demo") / "home")
    with web_server(home, env=RECHECK_EVERY_VIEW) as base_url:
        yield base_url


def test_a_spoken_hit_opens_the_player_at_its_second(
    open_session: OpenSession, demo_server: str
) -> None:
    session = open_session(demo_server)
    page = sign_in(session)
    search(page, SPOKEN_WORD)
    hits = page.locator("li.hit")
    expect(hits).to_have_count(1)
    hit = hits.first
    expect(hit.locator(".kind")).to_have_text("transcript")
    range_start, range_end = seconds_of_range_label(hit.locator(".range").inner_text())
    assert is_demo_spoken_start(range_start) and range_end > range_start
    expect(hit.locator(".snippet mark")).to_have_text(SPOKEN_WORD)
    screenshot(page, "search-results")
    link = hit.locator("h3 a")
    expect(link).to_have_attribute("href", re.compile(r"/play/[0-9a-f]{64}\?t=[0-9.]+$"))
    spoken_start = float((link.get_attribute("href") or "").rsplit("?t=", 1)[1])
    assert is_demo_spoken_start(spoken_start), spoken_start

    link.click()
    expect(page).to_have_url(re.compile(rf"\?t={re.escape(str(spoken_start))}$"))
    media = page.locator("video#media")
    expect(media).to_have_attribute("data-start", f"{spoken_start:.2f}")
    segments = page.locator("button.segment")
    assert segments.count() >= 2
    current = page.locator("button.segment.current")
    expect(current).to_have_count(1)
    expect(current).to_contain_text(SPOKEN_WORD)
    expect(current).to_have_attribute("data-start", f"{spoken_start:.2f}")
    expect(current).to_have_attribute("aria-current", "true")
    expect(page.locator("track[kind=captions]")).to_have_count(1)

    # Whether this Chromium decodes H.264: Debian's does (its proprietary codecs are built
    # in); one without them reports an error on the demo's MP4 and never seeks.
    can_play = page.evaluate("type => document.getElementById('media').canPlayType(type)", H264)
    if not can_play:
        screenshot(page, "player")
        pytest.skip("this Chromium cannot play H.264 MP4 (canPlayType ''): no seek to check")
    state = page.wait_for_function(
        """() => { const m = document.getElementById('media');
            if (m.error) return {error: m.error.code};
            if (m.readyState >= 2 && !m.seeking && m.currentTime > 0)
                return {position: m.currentTime};
            return false; }"""
    ).json_value()
    screenshot(page, "player")
    if "error" in state:
        pytest.skip(f"this Chromium cannot decode the demo's H.264 MP4 (media error {state})")
    assert abs(state["position"] - spoken_start) <= SEEK_TOLERANCE, state
    other = segments.nth(1)
    other_start = float(other.get_attribute("data-start") or "nan")
    other.click()
    # The click plays on from the new position: read it as soon as the seek is done.
    moved = page.wait_for_function(
        "start => { const m = document.getElementById('media');"
        " return !m.seeking && m.currentTime >= start - 0.1 ? m.currentTime : false; }",
        arg=other_start,
    ).json_value()
    assert abs(moved - other_start) <= SEEK_TOLERANCE, (moved, other_start)
    expect(other).to_have_class(re.compile(r"\bcurrent\b"))
    expect(page.locator("button.segment.current")).to_have_count(1)
    assert session.dialogs == []
    assert session.foreign_requests() == []


def test_the_capture_page_shows_the_custody_chain_intact(
    open_session: OpenSession, demo_server: str
) -> None:
    session = open_session(demo_server)
    page = sign_in(session)
    open_arrest_capture(page)
    badge = page.locator("[data-chain]")
    expect(badge).to_have_attribute("data-chain", "intact")
    expect(badge).to_contain_text("chain intact")
    expect(page.locator("table.hashes")).to_contain_text("payload")
    expect(page.locator("pre.text")).to_contain_text("задержали")
    screenshot(page, "capture")
    assert session.foreign_requests() == []


def test_the_replay_is_sandboxed_and_never_leaves_the_server(
    open_session: OpenSession, demo_server: str
) -> None:
    session = open_session(demo_server)
    page = sign_in(session)
    open_arrest_capture(page)
    archived_url = page.locator("dd code.url").nth(1).inner_text()  # the final URL
    archived_port = urlsplit(archived_url).port
    assert urlsplit(archived_url).hostname == "127.0.0.1" and archived_port
    assert archived_port != urlsplit(demo_server).port
    # The demo site is gone; listen where it was, so even a request the browser does not
    # report (a preconnect) would be seen.
    watch = PortWatch(archived_port)
    try:
        page.get_by_role("link", name="Open the preserved page").click()
        frame_element = page.locator("iframe.replay")
        # No scripts; a click may only take the top window (to the app's follow route).
        expect(frame_element).to_have_attribute("sandbox", FRAME_SANDBOX)
        frame = page.frame_locator("iframe.replay")
        expect(frame.locator("h1")).to_have_text(ARREST_TITLE)
        page.wait_for_load_state("networkidle")
        screenshot(page, "replay")
        first_frame = frame_element.get_attribute("src")
        # A link in the archived page opens that page's own capture, replayed with its grant.
        frame.get_by_role("link", name="Home").click()
        expect(page).to_have_url(re.compile(r"/captures/[0-9a-f-]{36}/replay$"))
        expect(frame.locator("h1")).to_have_text("Minsk Rights Watch")  # the front page
        replay = next(f for f in page.frames if f.parent_frame is not None)
        assert replay.url.startswith(demo_server + "/replay/"), replay.url
        assert page.locator("iframe.replay").get_attribute("src") != first_frame
        page.wait_for_load_state("networkidle")
        assert watch.connections() == 0
    finally:
        watch.close()
    assert session.requests, "no request was recorded at all"
    assert session.foreign_requests() == []
    assert session.dialogs == []


def test_the_interface_speaks_russian_on_request(
    open_session: OpenSession, demo_server: str
) -> None:
    session = open_session(demo_server)
    page = sign_in(session)
    search(page, ARREST_QUERY)
    page.locator("header nav a[lang=ru]").click()
    expect(page).to_have_url(re.compile(r"[?&]ui=ru"))
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("main h1")).to_have_text("Поиск")
    expect(page.get_by_label("Поиск по архиву")).to_have_value(ARREST_QUERY)
    expect(page.locator("#results-heading")).to_contain_text("Результаты")
    screenshot(page, "search-results-ru")
    # The choice is remembered for the pages that follow.
    page.goto(demo_server + "/search")
    expect(page.locator("main h1")).to_have_text("Поиск")
    assert unlabelled_fields(page) == []


def test_login_and_search_work_from_the_keyboard_and_every_field_is_labelled(
    open_session: OpenSession, demo_server: str
) -> None:
    session = open_session(demo_server)
    page = session.page
    page.goto(demo_server + "/login")
    assert unlabelled_fields(page) == []
    tab_to(page, "#username")
    page.keyboard.type(INVESTIGATOR.username)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "password"
    page.keyboard.type(INVESTIGATOR.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search$"))

    tab_to(page, "#q")
    page.keyboard.type(ARREST_QUERY)
    page.keyboard.press("Enter")
    expect(page.locator("li.hit").first).to_be_visible()
    assert unlabelled_fields(page) == []
    tab_to(page, "li.hit h3 a")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/captures/[0-9a-f-]{36}$"))
    assert unlabelled_fields(page) == []


# Custody broken by an edit: a copy of its own, since the test changes the archive.


def tamper_with_event(home: Path, chain: str, seq: int) -> None:
    """Rewrite one field of a stored custody event, leaving its recorded hash as it was."""
    path = home / "archive" / "custody" / chain / f"{seq:010d}.json"
    event = json.loads(path.read_bytes())
    event["actor"] = "someone-else@elsewhere"
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    path.write_text(json.dumps(event, ensure_ascii=False, sort_keys=True), encoding="utf-8")
    path.chmod(0o444)


def test_an_edited_custody_event_shows_as_a_broken_chain(
    open_session: OpenSession, demo_archive: Path, tmp_path: Path
) -> None:
    home = copy_home(demo_archive, tmp_path / "home")
    events = sorted((home / "archive" / "custody" / "demo-news").glob("*.json"))
    assert len(events) >= 3
    edited = len(events) // 2 + 1  # one in the middle: neither the first nor the head
    with web_server(home, env=RECHECK_EVERY_VIEW) as base_url:
        session = open_session(base_url)
        page = sign_in(session)
        open_arrest_capture(page)
        expect(page.locator("[data-chain]")).to_have_attribute("data-chain", "intact")

        tamper_with_event(home, "demo-news", edited)
        page.reload()
        badge = page.locator("[data-chain]")
        expect(badge).to_have_attribute("data-chain", "broken")
        expect(badge).to_contain_text(f"broken at event {edited}")
        expect(badge).to_have_attribute("role", "alert")
        expect(page.locator("#custody-heading + p.meta")).to_contain_text(
            f"{edited:010d}.json was altered"
        )
        screenshot(page, "capture-chain-broken")


# A hostile page, archived from a live loopback site that stays up: any contact is counted.


@dataclass(frozen=True)
class HostileArchive:
    base_url: str
    site: HostileSite
    requests_after_capture: int


@pytest.fixture(scope="module")
def hostile_archive(
    demo_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileArchive]:
    """The demo archive (source ``demo-news``) plus the hostile site as source ``hostile``."""
    folder = tmp_path_factory.mktemp("web-hostile")
    home = copy_home(demo_archive, folder / "home")
    with HostileSite() as site:
        config = write_web_source(folder / "sources.yaml", site.url("/"), "hostile", max_depth=0)
        done = run_cli(home, "run", "--config", str(config), timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
        with web_server(home) as base_url:
            yield HostileArchive(base_url, site, site.requests())


def assert_nothing_ran(session: BrowserSession) -> None:
    page = session.page
    assert session.dialogs == []
    assert page.evaluate("() => window.__pwned") is None
    assert PWNED_TITLE not in page.title()


def test_archived_markup_shows_as_text_and_never_runs(
    open_session: OpenSession, hostile_archive: HostileArchive
) -> None:
    session = open_session(hostile_archive.base_url)
    page = sign_in(session)
    search(page, SEARCH_WORD)
    hit = page.locator("li.hit")
    expect(hit).to_have_count(1)
    expect(hit.locator("h3 a")).to_have_text(HOSTILE_TITLE)
    expect(hit.locator(".snippet")).to_contain_text(SCRIPT_TEXT)
    assert page.locator("main script, main img, main svg, main iframe").count() == 0
    assert_nothing_ran(session)

    hit.locator("h3 a").click()
    expect(page.locator("main h1")).to_have_text(HOSTILE_TITLE)
    text = page.locator("pre.text")
    for shown in (SCRIPT_TEXT, IMG_TEXT, JS_LINK_TEXT):
        expect(text).to_contain_text(shown)
    assert HOSTILE_TITLE in page.title()
    assert page.locator("main script, main iframe, main svg, a[href^='javascript']").count() == 0
    screenshot(page, "hostile-capture")
    assert_nothing_ran(session)

    page.get_by_role("link", name="Open the preserved page").click()
    frame_locator = page.frame_locator("iframe.replay")
    expect(frame_locator.locator("h1")).to_have_text(HOSTILE_TITLE)
    page.wait_for_load_state("networkidle")
    frame = next(f for f in page.frames if f.parent_frame is not None)
    # The archived page as served, before any script: its title, its first paragraph.
    assert frame.evaluate("() => [window.__pwned, document.title]") == [None, HOSTILE_TITLE]
    expect(frame_locator.locator("#victim")).not_to_contain_text(DOM_TEXT)
    for shown in (SCRIPT_TEXT, IMG_TEXT, JS_LINK_TEXT):
        expect(frame_locator.locator("body")).to_contain_text(shown)
    leftovers = frame.evaluate(
        """() => Array.from(document.querySelectorAll('*')).flatMap(e =>
            Array.from(e.attributes).filter(a => /^on/i.test(a.name)
                || /^\\s*javascript:/i.test(a.value)).map(a => e.tagName + ' ' + a.name)
        ).concat(Array.from(document.querySelectorAll('script, iframe, object, embed'))
            .map(e => e.tagName))"""
    )
    assert leftovers == []
    frame_locator.get_by_text(JS_LINK_TEXT).click()
    page.wait_for_timeout(300)  # a dialog, had one opened, is reported by now
    screenshot(page, "hostile-replay")
    assert_nothing_ran(session)
    assert frame.evaluate("() => [window.__pwned, document.title]") == [None, HOSTILE_TITLE]
    assert session.foreign_requests() == []
    assert hostile_archive.site.requests() == hostile_archive.requests_after_capture


def test_markup_in_a_query_is_shown_back_as_text(
    open_session: OpenSession, hostile_archive: HostileArchive
) -> None:
    session = open_session(hostile_archive.base_url)
    page = sign_in(session)
    page.locator("#q").fill(MARKUP_QUERY)
    with page.expect_response(re.compile(r"/search\?q=")) as answered:
        page.locator("#q").press("Enter")
    body = answered.value.text()
    assert "&lt;img src=x onerror=alert(5)&gt;" in body
    assert MARKUP_QUERY not in body
    expect(page.locator("#q")).to_have_value(MARKUP_QUERY)
    assert page.title().startswith(MARKUP_QUERY)
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)
    assert_nothing_ran(session)
    assert session.foreign_requests() == []


def test_a_replay_link_opens_no_other_source_and_dies_at_logout(
    browser: Browser, open_session: OpenSession, hostile_archive: HostileArchive
) -> None:
    session = open_session(hostile_archive.base_url)
    page = sign_in(session)
    open_arrest_capture(page)  # a capture of the source demo-news
    page.get_by_role("link", name="Open the preserved page").click()
    expect(page.frame_locator("iframe.replay").locator("h1")).to_have_text(ARREST_TITLE)
    grant = (
        hostile_archive.base_url
        + (page.locator("iframe.replay").get_attribute("src") or "").rsplit("/", 1)[0]
    )
    # The link alone, in a browser with no session: its own capture only.
    stranger = browser.new_context()
    try:
        other = stranger.new_page()
        own = other.goto(grant + "/page")
        assert own is not None and own.status == 200
        expect(other.locator("h1")).to_have_text(ARREST_TITLE)
        foreign = other.goto(grant + "/web/" + hostile_archive.site.url("/"))
        assert foreign is not None and foreign.status == 404
        assert HOSTILE_TITLE not in other.content()
        screenshot(other, "replay-grant-other-source")
        page.get_by_role("button", name="Log out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        after = other.goto(grant + "/page")
        assert after is not None and after.status == 404
        assert ARREST_TITLE not in other.content()
    finally:
        stranger.close()
