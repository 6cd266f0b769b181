"""Word forms for search: the stem a word is indexed and searched under, per language.

- **Russian and English**: the Snowball stemmers (PyStemmer, C).
- **Belarusian and Ukrainian**, which Snowball lacks: a light stemmer that strips the longest
  inflectional ending from the lists below (nouns, adjectives, verbs, participles), keeping a
  stem of at least three letters with a vowel in it.
- **Derived forms** (all Cyrillic): a verbal noun and its verb share a stem, so «задержание»
  finds «задержали», «затрыманне» finds «затрымалі». A stem ending in ``-ан/-ен/-ян`` (or
  ``-анн…``) loses the ``н``, then a final thematic vowel goes.
- **Spelling folded across the three languages** after stemming: ``і ї → и``, ``є ё → е``,
  ``ў → в``, ``ґ → г``, soft sign and apostrophes dropped; so «Мінску» (be), «Мінську» (uk)
  and «Минске» (ru) meet at «минск».

The same functions serve the SQLite tokenizer and the Elasticsearch query side, so a word is
reduced the same way wherever it is indexed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import Stemmer

STEMMED_LANGUAGES = ("ru", "be", "uk", "en")
CYRILLIC_LANGUAGES = ("ru", "be", "uk")
APOSTROPHES = "'’ʼ"
FOLD = str.maketrans(
    {"і": "и", "ї": "и", "є": "е", "ё": "е", "ў": "в", "ґ": "г", "ь": None}
    | {a: None for a in APOSTROPHES}
)
VOWELS = set("аеёиіїоуўыэюяє")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def _endings(text: str) -> tuple[str, ...]:
    """Endings written as a block of words (order does not matter: the stemmer tries every
    ending and keeps the longest that leaves a valid stem)."""
    return tuple(dict.fromkeys(text.split()))


BELARUSIAN_ENDINGS = _endings("""
    а я о ё е э ы і у ю ь й ў
    ам ям ах ях ой ёй ою ёю ом ём ем ей аў яў оў ёў еў ых іх ым ім ая яя ае ое ее ую юю
    амі ямі ымі імі ага яга ога ому аму яму
    ць ці аць яць ыць іць эць ець уць юць аюць яюць ем ём еш ёш ам ім іш аш ыш
    ла ло лі ала алі ялі ілі ылі ела елі ёла ёлі
    аны ены аная еная аныя еныя анае енае аных еных аным еным аную еную анага енага
    анне енне янне аннем енем ання ення яння аннях еннях аннямі
    ючы ячы учы ачы ўшы
""")
UKRAINIAN_ENDINGS = _endings("""
    а я о е є и і ї у ю ь й
    ам ям ах ях ою єю ом ем ей ів їв ові еві єві ої ій їй им ім их іх ий ая яя ую юю
    ами ями ими іми ого ому
    ти ть ати яти ити іти ють уть ать ять еш ить імо имо єте ете ите
    в ла ло ли ав ала ало али ив ила ило или ів іла іло іли яв яла яли
    аний ений яний ана ена яна ане ене яне ані ені яні аних ених аним еним
    ання ення яння анням енням ань ень ннями нням
    учи ючи ачи ячи вши
""")
REFLEXIVE = {"be": ("цца", "ся", "ца"), "uk": ("ся", "сь"), "ru": ()}
DERIVED_N = re.compile(r"(?<=[аяе])нн?$")
THEMATIC_VOWEL = re.compile(r"[аяеиіы]$")
MIN_STEM = 3


def _has_vowel(stem: str) -> bool:
    return any(letter in VOWELS for letter in stem)


def _strip_longest(word: str, endings: Iterable[str]) -> str:
    best = word
    for ending in endings:
        if word.endswith(ending):
            stem = word[: -len(ending)]
            if len(stem) >= MIN_STEM and _has_vowel(stem) and len(stem) < len(best):
                best = stem
    return best


def _derivational(stem: str) -> str:
    """The shared stem of a verb and its verbal noun or participle (задержан → задерж)."""
    if len(stem) >= 6:
        stem = DERIVED_N.sub("", stem)
    if len(stem) >= 5:
        stem = THEMATIC_VOWEL.sub("", stem)
    return stem


class LightStemmer:
    """A suffix-stripping stemmer for Belarusian or Ukrainian (see the module docstring)."""

    def __init__(self, lang: str) -> None:
        self.endings = tuple(
            dict.fromkeys(BELARUSIAN_ENDINGS if lang == "be" else UKRAINIAN_ENDINGS)
        )
        self.reflexive = REFLEXIVE[lang]

    def stem(self, word: str) -> str:
        for suffix in self.reflexive:
            if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM + 1:
                word = word[: -len(suffix)]
                break
        return _strip_longest(word, self.endings)


class WordForms:
    """Maps lower-cased words to index terms, per language, with a cache (text repeats its
    words, and the cache skips both the stemmer and the post-processing)."""

    CACHE_LIMIT = 400_000

    def __init__(self, stemming: bool = True) -> None:
        self.stemming = stemming
        self._snowball = {"ru": Stemmer.Stemmer("russian"), "en": Stemmer.Stemmer("english")}
        self._light = {"be": LightStemmer("be"), "uk": LightStemmer("uk")}
        self._cache: dict[str, dict[str, str]] = {lang: {} for lang in STEMMED_LANGUAGES}

    def _compute(self, word: str, lang: str) -> str:
        if not self.stemming:
            return word.translate(FOLD)
        if not _CYRILLIC.search(word):
            stem: str = self._snowball["en"].stemWord(word.translate(FOLD))
            return stem
        if lang == "ru" or lang == "en":
            stem = self._snowball["ru"].stemWord(word.replace("ё", "е"))
        else:
            stem = self._light[lang].stem(word.translate({ord(a): None for a in APOSTROPHES}))
        return _derivational(stem).translate(FOLD)

    def term(self, word: str, lang: str) -> str:
        """The index term of ``word`` in a document of language ``lang`` (ru, be, uk, en)."""
        cache = self._cache[lang]
        found = cache.get(word)
        if found is None:
            if len(cache) >= self.CACHE_LIMIT:
                cache.clear()
            found = cache[word] = self._compute(word, lang)
        return found

    def terms(self, words: list[str], lang: str | None) -> list[tuple[str, ...]]:
        """Index terms for each word; a word of unknown language (``und`` or ``None``) gets
        the distinct terms of every Cyrillic language, colocated."""
        if lang in STEMMED_LANGUAGES:
            return [(self.term(w, lang),) for w in words]
        return [self.alternatives(w, CYRILLIC_LANGUAGES) for w in words]

    def alternatives(self, word: str, languages: Iterable[str]) -> tuple[str, ...]:
        """The distinct terms a word may be indexed under in any of ``languages``."""
        forms: list[str] = []
        for lang in languages:
            term = self.term(word, lang)
            if term not in forms:
                forms.append(term)
        return tuple(forms)


def query_languages(lang: str | None) -> tuple[str, ...]:
    """Languages a query word is reduced for: the filter's, or all four."""
    return (lang,) if lang in STEMMED_LANGUAGES else STEMMED_LANGUAGES
