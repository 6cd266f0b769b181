"""The Elasticsearch index: analyzers that reduce words exactly as :mod:`index.analysis` does
for the embedded index, and the mappings of the per-language fields.

Each document fills the title and text fields of its language (``title_ru``, ``text_ru``, …);
other languages, and ``und``, go to the ``*_und`` fields. Words are reduced per language:

- ``ru`` and ``en`` (the same chain, as in :class:`index.analysis.WordForms`): Cyrillic words
  by the Snowball Russian stemmer, Latin words by Snowball English (``porter2``); Snowball
  Russian leaves Latin words alone and Snowball English Cyrillic ones.
- ``be`` and ``uk``: the light stemmer of :mod:`index.analysis` written as regular
  expressions generated from its ending lists (the lazy stem takes the longest ending that
  leaves a stem of three letters with a vowel), then Snowball English for Latin words.
- all Cyrillic chains then take the derivational step and the ``FOLD`` spelling table.
- ``und``: every Cyrillic chain at once (a ``multiplexer``), the alternatives at one
  position, as the embedded index does for words of unknown language.

Queries use that multi-language analyzer too, unless a language filter picks one, so «Мінску»
(be) finds «Минске» (ru) as it does on the embedded index. Stop words are kept, as there.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from typing import Any

from index.analysis import (
    APOSTROPHES,
    BELARUSIAN_ENDINGS,
    CYRILLIC_LANGUAGES,
    FOLD,
    MIN_STEM,
    REFLEXIVE,
    STEMMED_LANGUAGES,
    UKRAINIAN_ENDINGS,
    VOWELS,
)
from index.backend import MAX_LIMIT, MAX_OFFSET

UNDETERMINED_GROUP = "und"
LANGUAGE_GROUPS: tuple[str, ...] = (*STEMMED_LANGUAGES, UNDETERMINED_GROUP)
ANY_LANGUAGE_ANALYZER = "osint_any"
TEMPLATE_PRIORITY = 200
MAX_WORD_CHARS = 255  # longer "words" (base64, hashes of hashes) are not indexed
URL_MAX_CHARS = 8191  # Lucene's term limit is 32766 bytes; longer URLs stay in _source only

# Words as SQLite's unicode61 tokenizer sees them in the embedded index: letters, digits and
# private-use characters, with apostrophes kept inside words (Belarusian «сям'я»).
WORD_SEPARATORS = "[^\\p{L}\\p{N}\\p{Co}" + APOSTROPHES + "]+"

# The derivational step of index.analysis._derivational, in Java regex form.
DERIVED_N = "^(?=.{6})(.*[аяе])нн?$"
THEMATIC_VOWEL = "^(?=.{5})(.*)[аяеиіы]$"


def field_group(lang: str | None) -> str:
    """The field suffix a document of language ``lang`` is indexed under."""
    return lang if lang in STEMMED_LANGUAGES else UNDETERMINED_GROUP


def title_field(group: str) -> str:
    return f"title_{group}"


def text_field(group: str) -> str:
    return f"text_{group}"


def analyzer_name(group: str) -> str:
    """The index analyzer of a field group (``osint_ru`` …, ``osint_any`` for ``und``)."""
    return ANY_LANGUAGE_ANALYZER if group == UNDETERMINED_GROUP else f"osint_{group}"


def split_words(text: str) -> list[str]:
    """Split ``text`` as the ``osint_words`` tokenizer does (for query-side checks)."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if category[0] in "LN" or category == "Co" or ch in APOSTROPHES:
            current.append(ch)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _by_length(words: Iterable[str]) -> list[str]:
    return sorted(set(words), key=lambda w: (-len(w), w))


def stem_with_vowel(min_length: int) -> str:
    """A lazy regex for a stem of at least ``min_length`` letters containing a vowel: the
    shapes differ by where the first vowel is, so exactly one applies to a word."""
    vowel = "[" + "".join(sorted(VOWELS)) + "]"
    other = "[^" + vowel[1:]

    def repeat(part: str, times: int) -> str:
        return "" if times == 0 else part if times == 1 else f"{part}{{{times}}}"

    shapes = [f"{other}{{{min_length - 1},}}{vowel}"]
    shapes += [
        repeat(other, k) + vowel + repeat(".", min_length - 1 - k) for k in range(min_length - 1)
    ]
    return "(?:" + "|".join(shapes) + ").*?"


def ending_pattern(endings: Iterable[str]) -> str:
    """The light stemmer of :class:`index.analysis.LightStemmer` as one regex: the lazy stem
    is the shortest that leaves one of ``endings`` (longest first), i.e. the longest ending
    keeping ``MIN_STEM`` letters with a vowel."""
    return f"^({stem_with_vowel(MIN_STEM)})(?:{'|'.join(_by_length(endings))})$"


def reflexive_pattern(suffixes: Iterable[str]) -> str:
    """The reflexive suffix stripped first when ``MIN_STEM + 1`` letters remain."""
    return f"^(.{{{MIN_STEM + 1},}}?)(?:{'|'.join(_by_length(suffixes))})$"


def _fold_filters() -> dict[str, dict[str, Any]]:
    """``index.analysis.FOLD`` as ``pattern_replace`` filters, one per replacement."""
    by_target: dict[str, list[str]] = {}
    for source, target in FOLD.items():
        by_target.setdefault(target or "", []).append(chr(source))
    return {
        f"osint_fold_{index}": {
            "type": "pattern_replace",
            "pattern": "[" + "".join(sorted(sources)) + "]",
            "replacement": target,
        }
        for index, (target, sources) in enumerate(sorted(by_target.items()))
    }


FOLD_FILTERS = _fold_filters()
DERIVATIONAL = ["osint_derived_n", "osint_thematic_vowel"]
# Apostrophes go where WordForms drops them: before English stemming of a Latin word and
# before the light stemmer, but after Russian stemming and the derivational step.
RUSSIAN_CHAIN = ["osint_yo", "osint_russian", *DERIVATIONAL, "osint_drop_apostrophes"]
CHAINS: dict[str, list[str]] = {
    "ru": [*RUSSIAN_CHAIN, "osint_english", *FOLD_FILTERS],
    "en": [*RUSSIAN_CHAIN, "osint_english", *FOLD_FILTERS],
    **{
        lang: [
            "osint_drop_apostrophes",
            f"osint_{lang}_reflexive",
            f"osint_{lang}_endings",
            "osint_english",
            *DERIVATIONAL,
            *FOLD_FILTERS,
        ]
        for lang in ("be", "uk")
    },
}
HEAD = ["lowercase", "osint_long_words"]
TAIL = ["osint_nonempty"]


def _replace(pattern: str, replacement: str = "$1") -> dict[str, Any]:
    return {"type": "pattern_replace", "pattern": pattern, "replacement": replacement}


def token_filters() -> dict[str, dict[str, Any]]:
    filters: dict[str, dict[str, Any]] = {
        "osint_long_words": {"type": "length", "max": MAX_WORD_CHARS},
        "osint_drop_apostrophes": _replace(f"[{APOSTROPHES}]", ""),
        "osint_yo": _replace("ё", "е"),
        "osint_russian": {"type": "stemmer", "language": "russian"},
        "osint_english": {"type": "stemmer", "language": "porter2"},
        "osint_be_reflexive": _replace(reflexive_pattern(REFLEXIVE["be"])),
        "osint_be_endings": _replace(ending_pattern(BELARUSIAN_ENDINGS)),
        "osint_uk_reflexive": _replace(reflexive_pattern(REFLEXIVE["uk"])),
        "osint_uk_endings": _replace(ending_pattern(UKRAINIAN_ENDINGS)),
        "osint_derived_n": _replace(DERIVED_N),
        "osint_thematic_vowel": _replace(THEMATIC_VOWEL),
        **FOLD_FILTERS,
        "osint_nonempty": {"type": "length", "min": 1},
        "osint_cyrillic_alternatives": {
            "type": "multiplexer",
            "filters": [", ".join(CHAINS[lang]) for lang in CYRILLIC_LANGUAGES],
            "preserve_original": False,
        },
    }
    return filters


def analyzers() -> dict[str, dict[str, Any]]:
    defined: dict[str, dict[str, Any]] = {
        analyzer_name(lang): {
            "type": "custom",
            "tokenizer": "osint_words",
            "filter": [*HEAD, *CHAINS[lang], *TAIL],
        }
        for lang in STEMMED_LANGUAGES
    }
    defined[ANY_LANGUAGE_ANALYZER] = {
        "type": "custom",
        "tokenizer": "osint_words",
        "filter": [*HEAD, "osint_cyrillic_alternatives", *TAIL],
    }
    return defined


def index_settings() -> dict[str, Any]:
    return {
        "index": {"max_result_window": MAX_OFFSET + MAX_LIMIT},
        "analysis": {
            "tokenizer": {"osint_words": {"type": "pattern", "pattern": WORD_SEPARATORS}},
            "filter": token_filters(),
            "analyzer": analyzers(),
        },
    }


def _text(group: str) -> dict[str, Any]:
    # Offsets in the postings let the highlighter cut snippets without re-analysing.
    return {
        "type": "text",
        "analyzer": analyzer_name(group),
        "search_analyzer": ANY_LANGUAGE_ANALYZER,
        "index_options": "offsets",
    }


def _properties() -> dict[str, Any]:
    keyword = {"type": "keyword"}
    properties: dict[str, Any] = {
        "id": keyword,
        "kind": keyword,
        "source": keyword,
        "capture_id": keyword,
        "lang": keyword,
        "tags": keyword,
        "media_sha256": keyword,
        "url": {"type": "keyword", "ignore_above": URL_MAX_CHARS},
        "captured_at": {"type": "date"},
        "published_at": {"type": "date"},
        "start": {"type": "float"},
        "end": {"type": "float"},
    }
    for group in LANGUAGE_GROUPS:
        properties[title_field(group)] = _text(group)
        properties[text_field(group)] = _text(group)
    return properties


def schema_format() -> str:
    """A label naming this schema: changes whenever settings or fields do, so an index made
    by another version is noticed and rebuilt (``osint-archive reindex``)."""
    body = {"settings": index_settings(), "properties": _properties()}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()
    return f"osint-archive-es/1+{digest[:12]}"


def index_mappings() -> dict[str, Any]:
    return {"dynamic": "strict", "_meta": {"format": schema_format()}, "properties": _properties()}


def index_pattern(alias: str) -> str:
    """The names of the concrete indices behind ``alias`` (``<alias>-<UTC timestamp>``).
    Only names that go on with a year's digit match, so aliases that extend one another
    (``osint-archive``, ``osint-archive-test``) get templates that do not overlap, which
    Elasticsearch refuses at equal priority."""
    return f"{alias}-2*"


def index_template(alias: str) -> dict[str, Any]:
    """The body of the index template named after ``alias`` (``put_index_template``)."""
    return {
        "index_patterns": [index_pattern(alias)],
        "priority": TEMPLATE_PRIORITY,
        "template": {"settings": index_settings(), "mappings": index_mappings()},
        "_meta": {"format": schema_format(), "managed_by": "osint-archive"},
    }
