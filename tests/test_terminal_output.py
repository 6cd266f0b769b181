"""A page whose title and text carry terminal escape sequences, archived and searched through
the real CLI: the human-readable output holds none of them, ``--json`` holds them exactly."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_runs import run_cli, write_web_source
from tests.loopback_server import LoopbackSite

SEARCH_WORD = "kingfisherdossier"
# Window title (OSC 0), clear screen (CSI 2J), a hyperlink lying about its target (OSC 8),
# 8-bit CSI, BEL, backspaces, a carriage return, and rich markup.
HOSTILE_TITLE = (
    f"\x1b]0;pwned\x07{SEARCH_WORD} \x1b[2J\x1b[Hverdict "
    "\x1b]8;;https://evil.example/\x1b\\https://court.example/\x1b]8;;\x1b\\"
    " \x9b31mred\x07 safe\x08\x08\x08\x08EVIL innocent\rEVIL [link=https://evil.example/]x[/link]"
)
HOSTILE_TEXT = (
    f"The {SEARCH_WORD} report \x1b[2J\x1b]2;retitled\x1b\\ says \x9d0;pwned\x9c"
    " [bold]nothing[/bold] \x1b[31mred\x1b[0m."
)
# What no byte of the human-readable output may be: ESC, BEL, BS, CR and the C1 controls.
FORBIDDEN = ["\x1b", "\x07", "\x08", "\r", *(chr(c) for c in range(0x80, 0xA0))]


def hostile_page() -> bytes:
    body = f"<p>{HOSTILE_TEXT}</p>" * 3  # long enough for the text extractor to keep it
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{HOSTILE_TITLE}</title>'
        f"</head><body><article>{body}</article></body></html>"
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the test reports what matters."""

    def do_GET(self) -> None:
        found = self.path == "/"
        body = hostile_page() if found else b"not found\n"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class EscapeSequenceSite(LoopbackSite):
    """One page at ``/`` whose title and text carry terminal escape sequences."""

    thread_name = "escape-sequence-site"

    def make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((self.host, 0), _Handler)
        server.daemon_threads = True
        return server


@pytest.fixture(scope="module")
def archived_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the hostile page, archived and indexed by ``osint-archive run``."""
    home = tmp_path_factory.mktemp("terminal-output")
    with EscapeSequenceSite() as site:
        config = write_web_source(
            home / "sources.yaml", f"{site.base_url}/", "hostile", max_depth=0
        )
        done = run_cli(home, "run", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert not [c for c in FORBIDDEN if c in done.stdout + done.stderr], done.stderr
    return home


def test_search_json_keeps_the_archived_text_exactly(archived_home: Path) -> None:
    done = run_cli(archived_home, "search", SEARCH_WORD, "--json")
    assert done.returncode == 0, done.stderr
    (hit,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert hit["title"] == HOSTILE_TITLE.replace("\r", "\n")  # HTML parsing reads CR as LF


def test_search_prints_no_escape_sequence_or_control_character(archived_home: Path) -> None:
    done = run_cli(archived_home, "search", SEARCH_WORD)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert SEARCH_WORD in out
    assert [c for c in FORBIDDEN if c in out] == []
    # The title as the terminal gets it: rich markup in archived text printed as text.
    assert out.splitlines()[0] == (
        f"1. {SEARCH_WORD} verdict https://court.example/ red safeEVIL innocent EVIL"
        " [link=https://evil.example/]x[/link]"
    )
    assert "[bold]nothing[/bold]" in out
