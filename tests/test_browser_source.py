"""`osint-archive run` over a `browser: true` web source: Chromium renders the page, the WARC
holds every request it made (the XHR too), the screenshot and DOM are kept, and the text that
only JavaScript writes is searchable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.browser_site import AFTER_DIALOGS_TEXT, JS_TEXT, BrowserTestSite
from tests.cli_runs import run_cli, stored_manifests, warcio_check


@pytest.fixture
def site() -> Iterator[BrowserTestSite]:
    with BrowserTestSite() as served:
        yield served


def write_sources(path: Path, entries: dict[str, str], browser: bool = True) -> Path:
    text = "sources:\n" + "".join(
        f"  - id: {source_id}\n    kind: web\n    url: {url}\n    schedule: '@daily'\n"
        f"    browser: {'true' if browser else 'false'}\n    max_depth: 0\n"
        "    delay_seconds: 0\n    robots: ignore\n    page_seconds: 20\n"
        for source_id, url in entries.items()
    )
    path.write_text(text, encoding="utf-8")
    return path


def warc_records(path: Path) -> list[tuple[str, str, bytes]]:
    """(type, target URI, payload) of every record."""
    with path.open("rb") as stream:
        return [
            (
                record.rec_type,
                record.rec_headers.get_header("WARC-Target-URI"),
                record.content_stream().read(),
            )
            for record in ArchiveIterator(stream)
        ]


def test_a_rendered_page_is_archived_with_everything_the_browser_loaded(
    tmp_path: Path, site: BrowserTestSite
) -> None:
    config = write_sources(
        tmp_path / "sources.yaml",
        {"rendered": site.url("/js-page.html"), "dialogs": site.url("/alert.html")},
    )
    home = tmp_path / "home"
    archive = home / "archive"

    done = run_cli(home, "run", "--config", str(config), timeout=240)
    assert done.returncode == 0, done.stderr
    (manifest,) = stored_manifests(archive, "rendered")
    browser = manifest["browser"]
    assert browser["browser"].startswith("Chromium ")
    assert manifest["tools"]["playwright"]
    # The XHR that built the page is in the WARC as a full response, listed in the manifest.
    records = warc_records(archive / manifest["warc"]["key"])
    xhr = [r for r in records if r[0] == "response" and r[1].endswith("/api/news.json")]
    assert len(xhr) == 1 and b"Ales Bialiatski" in xhr[0][2]
    assert any(r["url"].endswith("/api/news.json") for r in browser["resources"])
    # The screenshot and DOM: resource records and objects, the same bytes.
    screenshot = (archive / browser["screenshot"]["key"]).read_bytes()
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert ("resource", f"urn:view:{browser['final_url']}", screenshot) in records
    dom = (archive / browser["dom"]["key"]).read_text(encoding="utf-8")
    assert JS_TEXT in dom
    # The page's own text for the index comes from the rendered DOM.
    assert JS_TEXT in (archive / manifest["text"]["key"]).read_text(encoding="utf-8")
    assert warcio_check(archive, manifest["warc"]["key"]).returncode == 0
    found = run_cli(home, "search", "Bialiatski", "--json")
    hits = [json.loads(line) for line in found.stdout.splitlines()]
    assert [h["source"] for h in hits] == ["rendered"]

    (dialogs,) = stored_manifests(archive, "dialogs")
    assert any("alert" in note for note in dialogs["browser"]["notes"])
    dialog_dom = (archive / dialogs["browser"]["dom"]["key"]).read_text(encoding="utf-8")
    assert AFTER_DIALOGS_TEXT in dialog_dom

    audit = run_cli(home, "audit")
    assert audit.returncode == 0, audit.stdout


def test_without_chromium_browser_sources_fail_clearly_and_others_go_on(
    tmp_path: Path, site: BrowserTestSite
) -> None:
    config = tmp_path / "sources.yaml"
    write_sources(config, {"rendered": site.url("/js-page.html")})
    plain = write_sources(tmp_path / "plain.yaml", {"plain": site.url("/js-page.html")}, False)
    config.write_text(
        config.read_text() + plain.read_text().removeprefix("sources:\n"), encoding="utf-8"
    )
    home = tmp_path / "home"

    done = run_cli(
        home, "run", "--config", str(config), env={"OSINT_ARCHIVE_CHROMIUM": "/nonexistent/chrome"}
    )
    assert done.returncode == 1
    assert "/nonexistent/chrome" in done.stderr and "apt-get install chromium" in done.stderr
    assert len(stored_manifests(home / "archive", "plain")) == 1
    assert not stored_manifests(home / "archive", "rendered")
