"""Archived text made safe to print on an investigator's terminal.

Titles, snippets, URLs and failure reasons come from the sites being archived, and a hostile
site can put terminal control sequences in them: retitle the window (OSC 0), clear the screen
(CSI 2J), plant a hyperlink whose text lies about its target (OSC 8), rewrite what was printed
before with a carriage return or backspaces. The archive keeps them as evidence; what is shown
on a terminal keeps none of them. ``--json`` output needs nothing of this: JSON escapes them.
"""

from __future__ import annotations

import re

__all__ = ["safe_for_terminal"]

# ECMA-48 forms, 7-bit (ESC …) and 8-bit (a C1 byte). Control strings (OSC, DCS, SOS, PM, APC)
# run to BEL or ST (or the next ESC, which aborts them); an unterminated one is dropped to the
# end, as a terminal would swallow it.
_CONTROL_STRING = (
    r"(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x9c\x1b]*(?:\x07|\x9c|\x1b\\|(?=\x1b)|$)"
)
_CSI = r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
_OTHER_ESCAPE = r"\x1b[\x20-\x2f]*[\x30-\x7e]?"
_SEQUENCE = re.compile(f"{_CONTROL_STRING}|{_CSI}|{_OTHER_ESCAPE}")
# What is left: C0 controls, DEL, C1 controls; line and paragraph separators too (some
# terminals break lines on them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SPACING = frozenset("\t\n\v\f\r\x85\u2028\u2029")


def safe_for_terminal(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without escape sequences or control characters, for printing on a terminal.

    Whitespace controls (tab, line breaks, carriage return) become a space, so words stay
    apart; with ``keep_newlines``, ``\\n`` and ``\\t`` are kept for multi-line messages (never
    in a table cell). Every other control character is removed. The result is plain text, not
    rich markup: print it as ``rich.text.Text``, with ``markup=False``, or through
    ``rich.markup.escape``, so ``[link=…]`` in archived text stays text.
    """
    text = _SEQUENCE.sub("", text.replace("\r\n", "\n"))

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if keep_newlines and char in "\n\t":
            return char
        return " " if char in _SPACING else ""

    return _CONTROL.sub(replace, text)
