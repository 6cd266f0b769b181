"""Language of a text: Russian, Belarusian and Ukrainian told apart by their alphabets,
lingua where the alphabet leaves a choice, langdetect for everything else.

langdetect has no Belarusian profile (it calls Belarusian Russian or Ukrainian) and confuses
the three East Slavic languages on short texts. Their alphabets tell them apart: each lacks
letters the others use.

========  =======================  ==========================
language  letters only it has       letters it never uses
========  =======================  ==========================
ru        ъ                         і ї є ґ ў
be        ў                         и щ ъ ї є ґ
uk        ї є ґ                     ы э ё ъ ў
========  =======================  ==========================

1. A mostly Cyrillic text gets the language whose alphabet its distinctive letters fit best
   (a quotation in another language is outvoted by the text around it). Most texts are
   settled here, in microseconds.
2. When two or three of them fit equally (a Belarusian line with ы and ё but no і or ў; a
   Ukrainian one with и but no і), lingua decides among just those, on word and letter
   n-grams (lingua knows Belarusian; its models for three languages load in milliseconds).
3. Latin script goes to lingua restricted to the languages a Belarus-focused team meets
   (English and the neighbours' and EU languages below), which on short technical lines
   is right more often than langdetect; when lingua is unsure, langdetect has the last word.
4. Other Cyrillic alphabets (Bulgarian, Serbian, Kazakh…) and other scripts: langdetect.

Texts too short to judge get ``und`` rather than a guess. ``bench/language.py`` measures
each step against plain langdetect on held-out sentences.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Literal

UNDETERMINED = "und"
MIN_LETTERS = 12  # below this, no language is claimed (a name, a date, a one-word reply)
MIN_DISTINCTIVE = 2  # distinctive letters needed for an orthographic decision
MIN_STATISTICAL_LETTERS = 20  # n-gram detectors are unreliable on less
MIN_LANGDETECT_PROBABILITY = 0.7
MIN_LINGUA_CONFIDENCE = 0.25  # of 1.0 spread over the ten; below it lingua has no clear view
# Latin-script languages lingua chooses among (ISO 639-1); others fall through to langdetect.
LATIN_LANGUAGES = ("en", "pl", "lt", "lv", "de", "fr", "es", "it", "nl", "pt")
SAMPLE_CHARS = 3000  # a long text is judged on its beginning

EAST_SLAVIC = ("ru", "be", "uk")
# Letter → the East Slavic languages that use it (only letters that tell them apart).
DISTINCTIVE: dict[str, tuple[str, ...]] = {
    "ў": ("be",),
    "ї": ("uk",),
    "є": ("uk",),
    "ґ": ("uk",),
    "ъ": ("ru",),
    "і": ("be", "uk"),
    "и": ("ru", "uk"),
    "щ": ("ru", "uk"),
    "ы": ("ru", "be"),
    "э": ("ru", "be"),
    "ё": ("ru", "be"),
}
# Letters of other Cyrillic alphabets (Serbian, Macedonian, Kazakh, Tatar, Bashkir, …).
OTHER_CYRILLIC = set("јљњћђџѓќѕәғқңөұүһҗҙҫӊӘҒҚҢӨҰҮҺ")
BULGARIAN_HARD_SIGN_SHARE = 0.005  # ъ as a vowel: ~2 % of Bulgarian letters, ~0.04 % of Russian
BULGARIAN_MIN_HARD_SIGNS = 2  # one ъ in a short Russian line («объекта») is no sign of Bulgarian

Method = Literal["orthography", "lingua", "langdetect", "too-short"]


@dataclass(frozen=True)
class LanguageGuess:
    """A language code (ISO 639-1, or ``und``), how sure, and how it was decided."""

    lang: str
    confidence: float
    method: Method


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _east_slavic_candidates(cyrillic: list[str]) -> list[LanguageGuess]:
    """The East Slavic languages whose alphabet fits the text best: one when the letters
    decide, two or three on a tie, all three when no letter tells them apart, none when the
    text is in another Cyrillic alphabet."""
    if any(ch in OTHER_CYRILLIC for ch in cyrillic):
        return []
    fits = dict.fromkeys(EAST_SLAVIC, 0)
    distinctive = 0
    for ch in cyrillic:
        users = DISTINCTIVE.get(ch)
        if users is not None:
            distinctive += 1
            for lang in users:
                fits[lang] += 1
    hard_signs = cyrillic.count("ъ")
    east_slavic_vowels = sum(cyrillic.count(ch) for ch in "ыэёіўїєґ")
    if (
        not east_slavic_vowels
        and hard_signs >= BULGARIAN_MIN_HARD_SIGNS
        and hard_signs > BULGARIAN_HARD_SIGN_SHARE * len(cyrillic)
    ):
        return []  # Bulgarian, most likely
    if distinctive < MIN_DISTINCTIVE:
        return [LanguageGuess(lang, 0.0, "orthography") for lang in EAST_SLAVIC]
    top = max(fits.values())
    return [
        LanguageGuess(lang, fits[lang] / distinctive, "orthography")
        for lang in EAST_SLAVIC
        if fits[lang] == top
    ]


class LanguageDetector:
    """Thread-safe. Models load on first use: langdetect's profiles (about a second), lingua's
    for the three East Slavic languages (milliseconds) and the Latin set (about a second,
    some 250 MB)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factory_ready = False
        self._lingua: dict[tuple[str, ...], Any] = {}

    def detect(self, text: str) -> LanguageGuess:
        sample = text[:SAMPLE_CHARS].lower()
        letters = [ch for ch in sample if ch.isalpha()]
        if len(letters) < MIN_LETTERS:
            return LanguageGuess(UNDETERMINED, 0.0, "too-short")
        cyrillic = [ch for ch in letters if _is_cyrillic(ch)]
        if len(cyrillic) * 2 >= len(letters):
            candidates = _east_slavic_candidates(cyrillic)
            if len(candidates) == 1:
                return candidates[0]
            if len(letters) < MIN_STATISTICAL_LETTERS:
                return LanguageGuess(UNDETERMINED, 0.0, "too-short")
            if candidates:
                return self._lingua_choice(sample, tuple(g.lang for g in candidates))
            return self._langdetect(sample)
        if len(letters) < MIN_STATISTICAL_LETTERS:
            return LanguageGuess(UNDETERMINED, 0.0, "too-short")
        latin = sum(1 for ch in letters if "a" <= ch <= "z" or "\u00c0" <= ch <= "\u024f")
        if latin * 2 >= len(letters):
            guess = self._lingua_choice(sample, LATIN_LANGUAGES)
            if guess.confidence >= MIN_LINGUA_CONFIDENCE:
                return guess
        return self._langdetect(sample)

    def _lingua_choice(self, sample: str, languages: tuple[str, ...]) -> LanguageGuess:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        with self._lock:
            detector = self._lingua.get(languages)
            if detector is None:
                chosen = [
                    Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper()))
                    for c in languages
                ]
                detector = self._lingua[languages] = LanguageDetectorBuilder.from_languages(
                    *chosen
                ).build()
        values = detector.compute_language_confidence_values(sample)
        best = values[0]
        return LanguageGuess(best.language.iso_code_639_1.name.lower(), float(best.value), "lingua")

    def _langdetect(self, sample: str) -> LanguageGuess:
        from langdetect import DetectorFactory, detect_langs
        from langdetect.lang_detect_exception import LangDetectException

        with self._lock:
            if not self._factory_ready:
                DetectorFactory.seed = 0  # the same text always gets the same answer
                self._factory_ready = True
        try:
            best = detect_langs(sample)[0]
        except LangDetectException:
            return LanguageGuess(UNDETERMINED, 0.0, "langdetect")
        if best.prob < MIN_LANGDETECT_PROBABILITY:
            return LanguageGuess(UNDETERMINED, float(best.prob), "langdetect")
        return LanguageGuess(str(best.lang), float(best.prob), "langdetect")


_DETECTOR = LanguageDetector()


def detect_language(text: str) -> str:
    """The language code of ``text``, or ``und`` when it is too short or unclear."""
    return _DETECTOR.detect(text).lang
