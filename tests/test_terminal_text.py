"""Archived text printed on a terminal keeps no escape sequence and no control character."""

from __future__ import annotations

import pytest
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from osint_archive.terminal_text import safe_for_terminal

# (id, archived text, what a terminal may be given)
TERMINAL_CASES = [
    ("plain", "Суд над волонтёрами", "Суд над волонтёрами"),
    ("window-title-osc0-bel", "\x1b]0;pwned\x07Title", "Title"),
    ("window-title-osc2-st", "\x1b]2;pwned\x1b\\Title", "Title"),
    ("clear-screen-csi-2j", "\x1b[2J\x1b[HTitle", "Title"),
    ("colour-sgr", "\x1b[1;31mred\x1b[0m", "red"),
    ("private-mode-csi", "\x1b[?1049hTitle", "Title"),
    (
        "osc8-hyperlink",
        "\x1b]8;;https://evil.example/\x1b\\https://court.example/\x1b]8;;\x1b\\",
        "https://court.example/",
    ),
    ("c1-csi-9b", "\x9b2JTitle", "Title"),
    ("c1-osc-9d-st-9c", "\x9d0;pwned\x9cTitle", "Title"),
    ("dcs-string", "\x1bPq#0;2;0;0;0\x1b\\Title", "Title"),
    ("unterminated-osc", "Title\x1b]0;pwned forever", "Title"),
    ("osc-aborted-by-csi", "\x1b]0;pwned\x1b[2JTitle", "Title"),
    ("reset-esc-c", "\x1bcTitle", "Title"),
    ("charset-esc-paren", "\x1b(0Title", "Title"),
    ("lone-esc", "Title\x1b", "Title"),
    ("bel", "Title\x07\x07", "Title"),
    ("backspace-overwrite", "safe\x08\x08\x08\x08EVIL", "safeEVIL"),
    ("carriage-return-overwrite", "innocent\rEVIL", "innocent EVIL"),
    ("newlines-and-tabs", "a\nb\tc\r\nd", "a b c d"),
    ("nul-and-del", "a\x00b\x7fc", "abc"),
    ("c1-controls", "a\x85b\x8dc\x80d", "a bcd"),
    ("c1-apc-string", "Title\x9fhidden\x9c", "Title"),
    ("line-separator", "a\u2028b", "a b"),
    ("rich-markup-is-text", "[bold]x[/bold] [link=https://evil.example/]y[/link]", None),
]


@pytest.mark.parametrize(
    ("archived", "shown"),
    [case[1:] for case in TERMINAL_CASES],
    ids=[case[0] for case in TERMINAL_CASES],
)
def test_safe_for_terminal(archived: str, shown: str | None) -> None:
    safe = safe_for_terminal(archived)
    assert safe == (archived if shown is None else shown)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in safe)


def test_newlines_and_tabs_may_be_kept_outside_tables() -> None:
    assert safe_for_terminal("a\r\nb\tc\rd\x1b[2J", keep_newlines=True) == "a\nb\tc d"


@pytest.mark.parametrize("render", ["text", "escaped-markup"])
def test_rich_markup_in_archived_text_is_printed_as_text(render: str) -> None:
    # A terminal console: rich's own styles are ANSI here, the archived markup must not be.
    console = Console(force_terminal=True, color_system="truecolor", width=200)
    archived = "[link=https://evil.example/]court[/link] [bold]x[/bold]\x1b]8;;https://e/\x07"
    safe = safe_for_terminal(archived)
    with console.capture() as captured:
        console.print(Text(safe) if render == "text" else escape(safe), highlight=False)
    out = captured.get()
    assert "[link=https://evil.example/]court[/link] [bold]x[/bold]" in out
    assert "\x1b]8" not in out and "evil.example/\x1b" not in out
