"""Build a held-out ru/be/uk/en sentence corpus for benchmarking language identification.

    python -m bench.langid_corpus [--locale-dir /usr/share/locale]
                                  [--output bench/data/langid_sentences.jsonl]

The sentences come from the gettext message catalogs (``.mo`` files) installed under
``<locale-dir>/{be,uk,ru}/LC_MESSAGES/``: the msgid is the English text and each msgstr is a
human translation, so one message gives the same sentence in four languages. A message is kept
when it is translated into all three of be, uk and ru (plural entries use form 0); should that
leave fewer than ``MIN_TEST`` test sentences in some language, the build is redone with the
relaxed rule "translated into be, plus whichever of uk/ru exist" and says so.

Every string is cleaned (placeholders, markup, mnemonics, escapes, code-like tokens and edge
punctuation removed; whitespace collapsed) and then dropped when too short (``MIN_WORDS``,
``MIN_LETTERS``) or too long (``MAX_CHARS``: multi-paragraph help texts),
untranslated (msgstr equal to the msgid, or a Cyrillic string whose letters are mostly Latin) or
a duplicate of an earlier kept string of the same language. The split is fixed by the SHA-256 of
the msgid (about 1/3 ``dev`` for tuning, 2/3 ``test`` held out), identical for the four
languages of one message; each split is capped (``TEST_CAP``/``DEV_CAP`` messages) by a
deterministic round-robin over the owning Debian packages so that no single catalog (GTK)
dominates.

Each output line is one JSON object::

    {"lang": "be", "text": "...", "split": "test", "domain": "gtk30",
     "package": "libgtk-3-common", "msgid_sha256": "..."}
"""

from __future__ import annotations

import argparse
import functools
import gettext
import hashlib
import html
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "bench" / "data" / "langid_sentences.jsonl"
DEFAULT_LOCALE_DIR = Path("/usr/share/locale")
CYRILLIC_LANGS = ("be", "uk", "ru")
ALL_LANGS = ("ru", "be", "uk", "en")
SCARCE_LANG = "be"
TEST_CAP = 600
DEV_CAP = 300
MIN_TEST = 300
MIN_WORDS = 4
MIN_LETTERS = 25
MAX_CHARS = 400
MAX_LATIN_SHARE = 0.5

# printf conversions: %s %d %1$s %'d %-10s %.*s %lu %zu %I64d %% ...; C99 <inttypes.h> macros
# as msgfmt writes them (%<PRIu64>); Python %(name)s; {name} / {0} / {0:>3}; ${VAR}, $(var), $var;
# Qt-style %1.
PLACEHOLDER_RES = (
    re.compile(r"%(?:\d+\$)?[-+#0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?<PRI\w+>"),
    re.compile(r"%\([^)\s]+\)[-+#0]*\d*(?:\.\d+)?[a-zA-Z]"),
    re.compile(
        r"%(?:\d+\$)?[-+#0']*(?:\*(?:\d+\$)?|\d+)?(?:\.(?:\*(?:\d+\$)?|\d+))?"
        r"(?:hh|ll|I64|I32|[hlLqjzZtI])?[diouxXeEfFgGaAcspnmCS%]"
    ),
    re.compile(r"%\d+"),
    re.compile(r"\$\{\w+\}|\$\(\w+\)|\$[A-Za-z_]\w*"),
    re.compile(r"\{[\w.:!<>^\-]*\}"),
)
MARKUP_RE = re.compile(r"</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>")
LITERAL_ESCAPE_RE = re.compile(r"\\+(?:[nrtabfv\"'`]|[0-7]{1,3}|x[0-9A-Fa-f]{2})")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# Code-like tokens: URLs, e-mail addresses, paths, command-line options, identifiers with
# underscores or dots between ASCII word characters (gtk_widget_show, org.gtk.Settings).
CODE_TOKEN_RES = (
    re.compile(r"\b(?:https?|ftp|file)://\S+"),
    re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[\w.~+-]+(?:/[\w.~+-]*)*"),
    re.compile(r"(?<![\w-])--?[A-Za-z0-9][\w-]*(?:=\S*)?"),
    re.compile(r"\b[A-Za-z0-9]+(?:[_.][A-Za-z0-9]+)*_[A-Za-z0-9_.]*\b"),
    re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+){2,}\b"),
)
MNEMONIC_RE = re.compile(r"(?<![\w&_])_(?=\w)|(?<=\w)_(?=\w)|&(?=\w)(?!\w+;)")
ARROW_RE = re.compile(r"\s(?:->|=>|<-)(?=\s|$)")
EMPTY_PAIR_RE = re.compile(
    r"“\s*”|„\s*“|«\s*»|‘\s*’|\"\s*\"|'\s*'|`\s*'|\(\s*\)|\[\s*\]|\{\s*\}|<\s*/?\s*>"
)
SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([,.;:!?)\]»”])")
LEADING_NOISE = " \t-–—*•·:;,.=>|/\\"
TRAILING_NOISE = " \t-–—*•·:;,=<|/\\…([{"
ELLIPSIS_RE = re.compile(r"(?:\.\.\.|…)+$")
WHITESPACE_RE = re.compile(r"\s+")
LATIN_RE = re.compile(r"[A-Za-z]")


@dataclass
class Message:
    """One msgid with its (raw) translations, the domain it was read from and its sha256."""

    msgid: str
    domain: str
    package: str
    translations: dict[str, str] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.msgid.encode("utf-8")).hexdigest()


def load_catalog(path: Path) -> dict[str, str]:
    """msgid → msgstr of one .mo file; plural entries give form 0, message context is dropped."""
    with path.open("rb") as handle:
        catalog: dict[object, str] = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    entries: dict[str, str] = {}
    for key, value in catalog.items():
        if isinstance(key, tuple):
            if key[1] != 0:
                continue
            key = key[0]
        msgid = str(key).split("\x04", 1)[-1]
        if msgid and value:
            entries.setdefault(msgid, value)
    return entries


@functools.cache
def owning_package(path: Path) -> str:
    """The Debian package that ships ``path`` (``dpkg -S``), or ``"unknown"``."""
    try:
        result = subprocess.run(
            ["dpkg", "-S", str(path)], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    for line in result.stdout.splitlines():
        if line.startswith("diversion "):
            continue
        package, sep, _ = line.partition(": ")
        if sep:
            names = (name.strip().split(":", 1)[0] for name in package.split(","))
            return ", ".join(names)  # "libfoo:amd64" → "libfoo"
    return "unknown"


def catalog_path(locale_dir: Path, lang: str, domain: str) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{domain}.mo"


def discover_domains(locale_dir: Path) -> list[str]:
    """Text domains with a real (non-symlink) catalog for be and for at least one of uk/ru."""
    scarce_dir = locale_dir / SCARCE_LANG / "LC_MESSAGES"
    domains = []
    for path in sorted(scarce_dir.glob("*.mo"), key=lambda path: path.stem):
        if path.is_symlink():
            continue  # legacy alias of another domain (iso_3166.mo → iso_3166-1.mo)
        others = [catalog_path(locale_dir, lang, path.stem) for lang in CYRILLIC_LANGS]
        if sum(p.is_file() for p in others) >= 2:
            domains.append(path.stem)
    return domains


def read_messages(locale_dir: Path, domains: Iterable[str]) -> list[Message]:
    """Every msgid with a be translation, first domain (in name order) wins for repeated ones."""
    messages: dict[str, Message] = {}
    for domain in domains:
        catalogs = {}
        for lang in CYRILLIC_LANGS:
            path = catalog_path(locale_dir, lang, domain)
            if path.is_file():
                catalogs[lang] = load_catalog(path)
        package = owning_package(catalog_path(locale_dir, SCARCE_LANG, domain).resolve())
        for msgid, be_text in catalogs[SCARCE_LANG].items():
            if msgid in messages:
                continue
            message = Message(msgid, domain, package, {SCARCE_LANG: be_text})
            for lang, catalog in catalogs.items():
                if msgid in catalog:
                    message.translations[lang] = catalog[msgid]
            messages[msgid] = message
    return list(messages.values())


def remove_placeholders(text: str) -> str:
    for pattern in PLACEHOLDER_RES:
        text = pattern.sub(" ", text)
    return text


def remove_code_tokens(text: str) -> str:
    for pattern in CODE_TOKEN_RES:
        text = pattern.sub(" ", text)
    return text


def strip_edges(text: str) -> str:
    """Trim punctuation noise at both ends; a final ``.``, ``!`` or ``?`` stays."""
    previous = None
    while previous != text:
        previous = text
        text = ELLIPSIS_RE.sub("", text.strip(LEADING_NOISE).rstrip(TRAILING_NOISE))
    return text


def clean(text: str) -> str:
    """Plain prose from one catalog string (see the module docstring for the rules)."""
    text = CONTROL_RE.sub(" ", LITERAL_ESCAPE_RE.sub(" ", text))
    text = remove_placeholders(text)
    text = html.unescape(MARKUP_RE.sub(" ", text))
    text = remove_code_tokens(text)
    text = MNEMONIC_RE.sub("", text)
    text = ARROW_RE.sub(" ", text)
    text = EMPTY_PAIR_RE.sub(" ", text)
    text = WHITESPACE_RE.sub(" ", text)
    text = SPACE_BEFORE_PUNCT_RE.sub(r"\1", text)
    return strip_edges(text)


def letters(text: str) -> list[str]:
    return [char for char in text if char.isalpha()]


def long_enough(text: str) -> bool:
    words = [token for token in text.split() if any(char.isalpha() for char in token)]
    return len(words) >= MIN_WORDS and len(letters(text)) >= MIN_LETTERS and len(text) <= MAX_CHARS


def latin_share(text: str) -> float:
    chars = letters(text)
    return sum(bool(LATIN_RE.match(char)) for char in chars) / len(chars) if chars else 1.0


def usable_translation(raw: str, msgid: str, text: str) -> bool:
    """A cleaned Cyrillic-language string that is long enough and really translated."""
    return raw != msgid and long_enough(text) and latin_share(text) <= MAX_LATIN_SHARE


def split_of(sha256: str) -> str:
    return "dev" if int(sha256[:16], 16) % 3 == 0 else "test"


def cleaned_texts(message: Message, require_all: bool) -> dict[str, str] | None:
    """lang → cleaned text of one message, or None when it is not usable under the rule."""
    english = clean(message.msgid)
    if not long_enough(english) or latin_share(english) <= MAX_LATIN_SHARE:
        return None
    texts = {"en": english}
    for lang in CYRILLIC_LANGS:
        raw = message.translations.get(lang)
        if raw is None:
            continue
        text = clean(raw)
        if usable_translation(raw, message.msgid, text):
            texts[lang] = text
    if SCARCE_LANG not in texts:
        return None
    if require_all and len(texts) < len(ALL_LANGS):
        return None
    if len(texts) < 3:
        return None
    return texts


def deduplicate(
    candidates: list[tuple[Message, dict[str, str]]], require_all: bool
) -> list[tuple[Message, dict[str, str]]]:
    """Drop texts already seen in their language, in SHA-256 order; en/be or (strict) any."""
    seen: dict[str, set[str]] = defaultdict(set)
    kept = []
    for message, texts in sorted(candidates, key=lambda item: (item[0].sha256, item[0].domain)):
        duplicates = {lang for lang, text in texts.items() if text.casefold() in seen[lang]}
        if duplicates & {"en", SCARCE_LANG} or (require_all and duplicates):
            continue
        texts = {lang: text for lang, text in texts.items() if lang not in duplicates}
        if len(texts) < 3:
            continue
        for lang, text in texts.items():
            seen[lang].add(text.casefold())
        kept.append((message, texts))
    return kept


def round_robin(
    items: list[tuple[Message, dict[str, str]]], cap: int
) -> list[tuple[Message, dict[str, str]]]:
    """At most ``cap`` items, one per Debian package in turn (packages by name, items by sha).

    Going by package rather than by domain keeps GTK (four domains in two packages) and
    iso-codes (many domains in one package) from crowding out the smaller catalogs.
    """
    by_package: dict[str, list[tuple[Message, dict[str, str]]]] = defaultdict(list)
    for item in sorted(items, key=lambda item: item[0].sha256):
        by_package[item[0].package].append(item)
    queues = [by_package[package] for package in sorted(by_package)]
    chosen: list[tuple[Message, dict[str, str]]] = []
    depth = 0
    while len(chosen) < cap and any(depth < len(queue) for queue in queues):
        for queue in queues:
            if depth < len(queue) and len(chosen) < cap:
                chosen.append(queue[depth])
        depth += 1
    return chosen


def build_rows(messages: list[Message], require_all: bool) -> list[dict[str, str]]:
    """The corpus rows under one rule (all three translations required, or be plus uk/ru)."""
    candidates = []
    for message in messages:
        texts = cleaned_texts(message, require_all)
        if texts is not None:
            candidates.append((message, texts))
    kept = deduplicate(candidates, require_all)
    caps = {"test": TEST_CAP, "dev": DEV_CAP}
    rows = []
    for split, cap in caps.items():
        pool = [item for item in kept if split_of(item[0].sha256) == split]
        for message, texts in round_robin(pool, cap):
            for lang, text in texts.items():
                rows.append(
                    {
                        "lang": lang,
                        "text": text,
                        "split": split,
                        "domain": message.domain,
                        "package": message.package,
                        "msgid_sha256": message.sha256,
                    }
                )
    order = {lang: index for index, lang in enumerate(ALL_LANGS)}
    rows.sort(key=lambda row: (row["split"], row["msgid_sha256"], order[row["lang"]]))
    return rows


def too_few(rows: list[dict[str, str]]) -> list[str]:
    counts = Counter(row["lang"] for row in rows if row["split"] == "test")
    return [lang for lang in ALL_LANGS if counts[lang] < MIN_TEST]


def write_jsonl(rows: list[dict[str, str]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def print_summary(rows: list[dict[str, str]], output: Path) -> None:
    by_lang_split = Counter((row["lang"], row["split"]) for row in rows)
    print(f"wrote {len(rows)} sentences to {output}")
    print(f"{'lang':<6}{'dev':>6}{'test':>6}")
    for lang in ALL_LANGS:
        print(f"{lang:<6}{by_lang_split[lang, 'dev']:>6}{by_lang_split[lang, 'test']:>6}")
    by_domain = Counter((row["domain"], row["package"], row["split"]) for row in rows)
    domains = sorted({(row["domain"], row["package"]) for row in rows})
    print(f"\n{'domain':<22}{'package':<26}{'dev':>6}{'test':>6}  (sentences, all languages)")
    for domain, package in domains:
        dev, test = by_domain[domain, package, "dev"], by_domain[domain, package, "test"]
        print(f"{domain:<22}{package:<26}{dev:>6}{test:>6}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locale-dir", type=Path, default=DEFAULT_LOCALE_DIR)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    domains = discover_domains(args.locale_dir)
    if not domains:
        print(f"no {SCARCE_LANG} catalogs under {args.locale_dir}", file=sys.stderr)
        return 1
    messages = read_messages(args.locale_dir, domains)
    rows = build_rows(messages, require_all=True)
    short = too_few(rows)
    if short:
        print(
            f"fewer than {MIN_TEST} test sentences for {', '.join(short)} with all three "
            f"translations required; relaxing to '{SCARCE_LANG} plus whichever of uk/ru exist'"
        )
        rows = build_rows(messages, require_all=False)
        short = too_few(rows)
    else:
        print("rule: translated into all of be, uk and ru (four-way parallel)")
    write_jsonl(rows, args.output)
    print_summary(rows, args.output)
    if short:
        print(f"warning: fewer than {MIN_TEST} test sentences for {', '.join(short)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
