"""`osint-archive capture`: single URLs and lists preserved now, through the real collectors,
Chromium, ffmpeg and the speech model, as captures of the built-in `adhoc` source."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser_site import JS_TEXT, BrowserTestSite
from tests.cli_runs import BIN, REPO, cli_env, custody_events, run_cli, stored_manifests
from tests.http_site import LocalHttpSite
from tests.loopback_server import LoopbackSite, QuietHandler
from tests.media_site import MediaSite
from tests.telegram_site import TelegramImitation


def results_of(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_page_video_and_telegram_post_are_captured_found_and_attributed(
    tmp_path: Path, media_site_root: Path
) -> None:
    with (
        BrowserTestSite() as web,
        TelegramImitation() as telegram,
        MediaSite(media_site_root) as media,
    ):
        telegram.add_channel("court", "Court watch", [f"Hearing {i} adjourned" for i in range(5)])
        post_url = f"{telegram.base_url}/court/3"
        home = tmp_path / "home"
        env = {"OSINT_ARCHIVE_TELEGRAM_HOSTS": f"127.0.0.1:{telegram.port}"}
        urls = [web.url("/js-page.html"), media.url("clip.mp4"), post_url]
        note = "may be deleted within the hour"
        done = run_cli(home, "capture", *urls, "--note", note, "--json", env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        page, video, post = results_of(done)
        assert [r["status"] for r in (page, video, post)] == ["captured"] * 3
        assert [r["kind"] for r in (page, video, post)] == ["browser", "video", "telegram"]
        assert all(r["capture_id"] and r["reason"] == "" for r in (page, video, post))
        assert video["notes"] == [f"transcribed: {media.url('clip.mp4')}"]

        archive = home / "archive"
        manifests = {m["capture_id"]: m for m in stored_manifests(archive, "adhoc")}
        assert (
            JS_TEXT
            in (archive / manifests[page["capture_id"]]["browser"]["dom"]["key"]).read_text()
        )
        assert manifests[video["capture_id"]]["media"][0]["has_audio"] is True
        record = manifests[post["capture_id"]]["post"]
        assert record is not None
        stored_post = json.loads((archive / record["key"]).read_bytes())
        assert stored_post["message_id"] == 3 and "Hearing 2 adjourned" in stored_post["text"]
        assert telegram.hits("/s/court?before=4") == 1

        found = results_of(run_cli(home, "search", "Bialiatski", "--json", env=env))
        assert page["capture_id"] in {hit["capture_id"] for hit in found}
        spoken = results_of(run_cli(home, "search", "volunteers", "--kind", "transcript", "--json"))
        assert video["capture_id"] in {hit["capture_id"] for hit in spoken}
        assert [hit["source"] for hit in spoken] == ["adhoc"] * len(spoken)

        requested = [e for e in custody_events(archive, "adhoc") if e["type"] == "requested"]
        by_capture = {e["details"]["capture_id"]: e for e in requested}  # type: ignore[index]
        for result in (page, video, post):
            details = by_capture[result["capture_id"]]["details"]
            assert details["note"] == note and details["via"] == "cli"  # type: ignore[index]
            assert details["requested_by"]  # type: ignore[index]
        assert run_cli(home, "audit").returncode == 0


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a URL that times out."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


@pytest.fixture(scope="module")
def bad_input_results(
    tmp_path_factory: pytest.TempPathFactory, silent_port: int
) -> Iterator[dict[str, dict[str, object]]]:
    """One `capture` over every kind of bad input (and one good page): results by label."""
    home = tmp_path_factory.mktemp("bad-input")
    with LocalHttpSite() as site, TelegramImitation() as telegram, BrowserTestSite() as web:
        telegram.add_channel("court", "Court watch", ["Hearing adjourned", "Verdict"])
        telegram.add_channel("closed", "Closed", ["Secret"])
        telegram.make_private("closed")
        urls = {
            "not a URL": "not a url",
            "no scheme": "example.org/page",
            "file scheme": "file:///etc/passwd",
            "ftp scheme": "ftp://example.org/file",
            "javascript scheme": "javascript:alert(1)",
            "times out": f"http://127.0.0.1:{silent_port}/slow",
            "404": site.url("/status/404"),
            "missing post": f"{telegram.base_url}/court/99",
            "private channel's post": f"{telegram.base_url}/closed/1",
            "never finishes loading": web.url("/never-finishes.html"),
            "good page": site.url("/page.html"),
        }
        env = {
            "OSINT_ARCHIVE_TELEGRAM_HOSTS": f"127.0.0.1:{telegram.port}",
            "OSINT_ARCHIVE_CAPTURE_TIMEOUT_SECONDS": "2",
            "OSINT_ARCHIVE_CAPTURE_PAGE_SECONDS": "4",
        }
        done = run_cli(home, "capture", *urls.values(), "--json", env=env, timeout=300)
        assert done.returncode == 1, done.stderr
        by_url = {r["url"]: r for r in results_of(done)}
        assert len(by_url) == len(urls), done.stdout + done.stderr
        yield {label: by_url[url] for label, url in urls.items()}


@pytest.mark.parametrize(
    ("label", "status", "reason"),
    [
        ("not a URL", "failed", "whitespace"),
        ("no scheme", "failed", "must start with http:// or https://"),
        ("file scheme", "failed", "scheme must be http or https, not 'file'"),
        ("ftp scheme", "failed", "scheme must be http or https, not 'ftp'"),
        ("javascript scheme", "failed", "not 'javascript'"),
        ("times out", "failed", "timed out after"),
        ("404", "captured", "HTTP 404: the answer is kept as evidence"),
        ("missing post", "failed", "post 99 is not on @court's public preview"),
        ("private channel's post", "failed", "not captured"),
        ("never finishes loading", "captured", ""),
        ("good page", "captured", ""),
    ],
)
def test_each_bad_input_gets_its_own_clear_result(
    bad_input_results: dict[str, dict[str, object]], label: str, status: str, reason: str
) -> None:
    result = bad_input_results[label]
    assert result["status"] == status, result
    assert reason in str(result["reason"]), result
    assert bool(result["capture_id"]) == (status == "captured")


def test_a_page_that_never_finishes_loading_says_where_it_was_cut(
    bad_input_results: dict[str, dict[str, object]],
) -> None:
    result = bad_input_results["never finishes loading"]
    assert result["kind"] == "browser"
    assert any("page_seconds" in note for note in result["notes"])  # type: ignore[attr-defined]


def test_a_plain_capture_that_times_out_says_so(tmp_path: Path, silent_port: int) -> None:
    url = f"http://127.0.0.1:{silent_port}/slow"
    env = {"OSINT_ARCHIVE_CAPTURE_TIMEOUT_SECONDS": "1"}
    done = run_cli(tmp_path, "capture", url, "--kind", "web", "--json", env=env)
    assert done.returncode == 1
    (result,) = results_of(done)
    assert result["status"] == "failed" and "timed out" in str(result["reason"]), result


def test_private_targets_are_refused_unless_the_operator_allows_them(tmp_path: Path) -> None:
    with LocalHttpSite() as site:
        env = {"OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "0"}
        done = run_cli(
            tmp_path, "capture", site.url("/page.html"), "--kind", "web", "--json", env=env
        )
        assert done.returncode == 1
        (result,) = results_of(done)
        assert result["status"] == "failed" and "127.0.0.1" in str(result["reason"])
        assert site.hits("/page.html") == 0


def test_a_list_reports_each_bad_line_and_captures_the_rest(tmp_path: Path) -> None:
    with LocalHttpSite() as site:
        listing = tmp_path / "urls.txt"
        lines = [
            "# preserved for the March hearing",
            site.url("/page.html"),
            "",
            "   ",
            "not a url",
            site.url("/base.html"),
            site.url("/page.html#comments"),  # the same page again
            "javascript:alert(1)",
            site.url("/status/404"),
        ]
        listing.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8"))
        done = run_cli(tmp_path, "capture", "--from-file", str(listing), "--kind", "web", "--json")
        assert done.returncode == 1, done.stderr
        by_line = {r["line"]: r for r in results_of(done)}
        assert sorted(by_line) == [2, 5, 6, 7, 8, 9]
        assert by_line[5]["status"] == "failed" and "whitespace" in str(by_line[5]["reason"])
        assert by_line[8]["status"] == "failed" and "javascript" in str(by_line[8]["reason"])
        assert [by_line[n]["status"] for n in (2, 6, 9)] == ["captured"] * 3
        assert by_line[7]["status"] == "existing" and by_line[7]["reason"] == "repeats line 2"
        assert by_line[7]["capture_id"] == by_line[2]["capture_id"]
        assert site.hits("/page.html") == 1
        assert len(stored_manifests(tmp_path / "archive", "adhoc")) == 3


def test_a_csv_list_gives_each_url_its_own_note(tmp_path: Path) -> None:
    with LocalHttpSite() as site:
        listing = tmp_path / "urls.csv"
        listing.write_text(
            f"note,url\nthe court's notice,{site.url('/page.html')}\n,{site.url('/base.html')}\n",
            encoding="utf-8",
        )
        done = run_cli(
            tmp_path, "capture", "--from-file", str(listing), "--note", "batch", "--kind", "web"
        )
        assert done.returncode == 0, done.stderr
        notes = {
            e["details"]["url"]: e["details"]["note"]  # type: ignore[index]
            for e in custody_events(tmp_path / "archive", "adhoc")
            if e["type"] == "requested"
        }
        assert notes == {
            site.url("/page.html"): "the court's notice",
            site.url("/base.html"): "batch",
        }


def test_a_list_of_ten_thousand_lines(tmp_path: Path) -> None:
    with LocalHttpSite() as site:
        distinct = [site.url(f"/status/{code}") for code in (200, 204, 404, 410)]
        lines = [distinct[n % 4] if n % 10 else "" for n in range(10_000)]
        listing = tmp_path / "many.txt"
        listing.write_text("\n".join(lines), encoding="utf-8")
        done = run_cli(tmp_path, "capture", "--from-file", str(listing), "--kind", "web", "--json")
        assert done.returncode == 0, done.stderr
        results = results_of(done)
        assert len(results) == sum(1 for line in lines if line)
        assert sorted(r["status"] for r in results).count("captured") == 4
        assert sum(site.hits(f"/status/{code}") for code in (200, 204, 404, 410)) == 4


def test_the_same_url_within_the_window_is_the_existing_capture_unless_forced(
    tmp_path: Path,
) -> None:
    with LocalHttpSite() as site:
        url = site.url("/page.html")
        first = results_of(run_cli(tmp_path, "capture", url, "--kind", "web", "--json"))[0]
        again = run_cli(tmp_path, "capture", url, "--kind", "web", "--json", "--note", "again")
        assert again.returncode == 0
        (second,) = results_of(again)
        assert second["status"] == "existing" and second["capture_id"] == first["capture_id"]
        assert "within the reuse window" in str(second["reason"])
        forced = results_of(run_cli(tmp_path, "capture", url, "--kind", "web", "--json", "--force"))
        assert forced[0]["status"] == "captured" and forced[0]["capture_id"] != first["capture_id"]
        manifests = {m["capture_id"]: m for m in stored_manifests(tmp_path / "archive", "adhoc")}
        previous = manifests[forced[0]["capture_id"]]["previous_capture"]
        assert previous["capture_id"] == first["capture_id"]  # type: ignore[index]
        # Asking again is itself recorded, with its own note.
        requested = [
            e for e in custody_events(tmp_path / "archive", "adhoc") if e["type"] == "requested"
        ]
        assert [e["details"]["note"] for e in requested] == ["", "again", ""]  # type: ignore[index]
        assert site.hits("/page.html") == 2


def test_an_interrupted_list_resumes_without_capturing_twice(tmp_path: Path) -> None:
    with LocalHttpSite() as site:
        urls = [site.url(f"/status/200?n={n}") for n in range(8)]
        listing = tmp_path / "list.txt"
        listing.write_text("\n".join(urls), encoding="utf-8")
        # The reuse window is off: only the list's own journal can tell what was done.
        env = cli_env(
            tmp_path,
            {
                "OSINT_ARCHIVE_CAPTURE_REUSE_SECONDS": "0",
                "OSINT_ARCHIVE_CAPTURE_DELAY_SECONDS": "1.5",
            },
        )
        args = [str(BIN / "osint-archive"), "capture", "--from-file", str(listing), "--kind", "web"]
        first = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while len(stored_manifests(tmp_path / "archive", "adhoc")) < 2:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.1)
        first.kill()
        first.wait()
        before = {
            m["requested_url"]: m["capture_id"]
            for m in stored_manifests(tmp_path / "archive", "adhoc")
        }
        assert 2 <= len(before) < len(urls)

        resumed = run_cli(
            tmp_path,
            "capture",
            "--from-file",
            str(listing),
            "--kind",
            "web",
            "--json",
            env={
                "OSINT_ARCHIVE_CAPTURE_REUSE_SECONDS": "0",
                "OSINT_ARCHIVE_CAPTURE_DELAY_SECONDS": "0",
            },
        )
        assert resumed.returncode == 0, resumed.stderr
        results = {r["url"]: r for r in results_of(resumed)}
        # What the first attempt preserved comes back as it was (`existing`, or `captured`
        # by resuming the URL's own run when the kill came between its manifest and its
        # ledger entry): never a second capture.
        for url, capture_id in before.items():
            assert results[url]["capture_id"] == capture_id
        assert [results[url]["status"] for url in before].count("existing") >= len(before) - 1
        manifests = stored_manifests(tmp_path / "archive", "adhoc")
        assert sorted(m["requested_url"] for m in manifests) == sorted(urls)
        assert run_cli(tmp_path, "audit").returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give one or more URLs"),
        (("--from-file", "/nonexistent/list.txt"), "No such file"),
        (("--kind", "ftp", "https://example.org/"), "Invalid value for '--kind'"),
    ],
)
def test_bad_usage_exits_2(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    done = run_cli(tmp_path, "capture", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_a_csv_without_a_url_column_is_bad_usage(tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text("link,note\nhttps://example.org/,x\n", encoding="utf-8")
    done = run_cli(tmp_path, "capture", "--from-file", str(listing))
    assert done.returncode == 2 and "no 'url' column" in done.stderr


class SlowSite(LoopbackSite):
    """One page that takes ``SLOW_SECONDS`` to answer, counting its requests."""

    thread_name = "slow-site"

    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def make_server(self) -> ThreadingHTTPServer:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                site.requests += 1
                time.sleep(SLOW_SECONDS)
                self.send_body(200, b"<html><head><title>Slow</title></head>slow</html>")

        return ThreadingHTTPServer((self.host, 0), Handler)


SLOW_SECONDS = 2.0


def test_two_requests_for_one_url_at_once_make_one_capture(tmp_path: Path) -> None:
    with SlowSite() as site:
        url = site.url("/notice.html")
        args = [str(BIN / "osint-archive"), "capture", url, "--kind", "web", "--json"]
        both = [
            subprocess.Popen(
                args, cwd=REPO, env=cli_env(tmp_path), stdout=subprocess.PIPE, text=True
            )
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=120)[0] for process in both]
        assert [process.returncode for process in both] == [0, 0]
        results = [json.loads(output) for output in outputs]
        assert sorted(r["status"] for r in results) == ["captured", "existing"]
        assert results[0]["capture_id"] == results[1]["capture_id"]
        assert site.requests == 1
        assert len(stored_manifests(tmp_path / "archive", "adhoc")) == 1
