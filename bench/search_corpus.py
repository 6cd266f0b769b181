"""A synthetic, deterministic search corpus at programme scale, streamed in batches.

    python -m bench.search_corpus [--docs 20000] [--seed 7] [--show 3]

What it is made of:
- **vocabularies** of real words per language (ru, be, uk, en): the sentences of
  ``bench/data/langid_sentences.jsonl`` and the demo pages ``demo/site/news/*.html``, each
  word also *inflected* (the language's common endings attached to its stem, so stemming has
  work to do), plus a long tail of pseudo-words built from the language's own syllables
  (real text keeps meeting new names and typos). Words are drawn Zipf-like: function words
  first, then real words by their frequency in the sources, inflected forms after them;
- **entities** (places, people, units, events; ``ENTITIES``) kept out of the general
  vocabulary and planted at known document frequencies, so queries have realistic
  selectivity: a 500-word page holds an entity with its ``doc_frequency``, shorter documents
  less often (the chance grows with length);
- **documents**: pages (200–2,000 words, log-normal, mean ≈ 500), posts (50–300 words) and
  transcript segments (5–30 words, in runs of one recording), in ``KIND_SHARES`` and
  ``LANG_SHARES``; ~900 sources, tags, capture times over three years, publication times
  for posts. Ids, texts and times are a pure function of ``(seed, document number)``.

Batch ``b`` is generated from its own random stream ``(seed, b)``, so a batch never depends on
the ones before it and nothing but the current batch is held in memory.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import itertools
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from index.documents import Document

REPO = Path(__file__).resolve().parent.parent
SENTENCES = REPO / "bench" / "data" / "langid_sentences.jsonl"
DEMO_PAGES = REPO / "demo" / "site" / "news"

LANGS = ("ru", "be", "uk", "en")
LANG_SHARES = (0.45, 0.20, 0.15, 0.20)
KINDS = ("page", "post", "transcript")
KIND_SHARES = (0.40, 0.30, 0.30)
BATCH_SIZE = 2_000
ZIPF_EXPONENT = 1.0
PSEUDO_WORDS = 110_000  # per language: the long tail of names, rare forms and typos
PERIOD_RATE, COMMA_RATE = 0.07, 0.06  # words followed by "." or ","
START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 3 * 365 * 24 * 3600
REFERENCE_LENGTH = 500  # words: the document length an entity's doc_frequency is stated for
MODEL_ID = "whisper-large-v3"
TAGS = (
    "detentions", "courts", "protests", "prisons", "searches", "elections", "media",
    "repression", "exile", "sanctions", "labour", "health",
)  # fmt: skip
SOURCE_COUNTS = {"page": 300, "post": 400, "transcript": 200}
SOURCE_PREFIX = {"page": "web", "post": "tg", "transcript": "yt"}

_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")
_CYRILLIC_WORD = re.compile(r"^[\u0400-\u04ff'’ʼ]+$")
_LATIN_WORD = re.compile(r"^[a-z']+$")
_VOWEL = "аеёиіїоуўыэюяєaeiouy"
_SYLLABLE = re.compile(rf"[^{_VOWEL}'’ʼ]{{1,2}}[{_VOWEL}]")
_TAG = re.compile(r"<[^>]+>")

FUNCTION_WORDS = {
    "ru": "и в не на что с по как а к о из за от у это для же то но все так он она они мы вы "
    "я его их был была были бы ли уже ещё только при после также который",
    "be": "і ў не на што з па як а да аб за ад у гэта для ж то але ўсе так ён яна яны мы вы "
    "я яго іх быў была былі б ці ўжо яшчэ толькі пры пасля таксама які",
    "uk": "і в не на що з по як а до про із за від у це для ж то але всі так він вона вони ми "
    "ви я його їх був була були б чи вже ще тільки при після також який",
    "en": "the of and to a in is that for it on with as was by at from this be are or an not "
    "but have has had they their which were he she we you his her after also who",
}

# Endings per paradigm: a word whose ending is listed in a class gets every ending of that
# class attached to its stem (the longest matching ending wins; no match: masculine noun).
INFLECTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "ru": {
        "verb": ("ть", "л", "ла", "ли", "ет", "ют", "н", "нные", "нных", "ние", "ния"),
        "adj": ("ый", "ий", "ая", "ое", "ые", "ого", "ому", "ым", "ой", "ую", "ых", "ыми"),
        "noun_ie": ("ие", "ия", "ию", "ием", "ии", "ий", "иям", "иями", "иях"),
        "noun_f": ("а", "ы", "е", "у", "ой", "ам", "ами", "ах"),
        "noun_m": ("", "а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах"),
    },
    "be": {
        "verb": ("ць", "ў", "ла", "лі", "е", "юць", "ны", "ныя", "ных", "нне", "ння"),
        "adj": ("ы", "і", "ая", "ае", "ыя", "ага", "аму", "ым", "ых", "ымі"),
        "noun_ie": ("нне", "ння", "нні", "ннем", "нняў"),
        "noun_f": ("а", "ы", "е", "у", "ай", "ам", "амі", "ах"),
        "noun_m": ("", "а", "у", "ам", "е", "ы", "аў", "ах", "амі"),
    },
    "uk": {
        "verb": ("ти", "в", "ла", "ли", "є", "ють", "ний", "на", "них", "ння"),
        "adj": ("ий", "ій", "а", "е", "і", "ого", "ому", "им", "их", "ими"),
        "noun_ie": ("ння", "нню", "нням", "нні", "нь"),
        "noun_f": ("а", "и", "і", "у", "ою", "ам", "ами", "ах"),
        "noun_m": ("", "а", "у", "ом", "і", "и", "ів", "ам", "ами", "ах"),
    },
    "en": {
        "verb": ("", "s", "ed", "ing"),
        "adj": ("", "ly", "er"),
        "noun_m": ("", "s"),
    },
}
# Which ending puts a word in which class (checked longest first).
CLASS_MARKERS: dict[str, dict[str, str]] = {
    "ru": {"ть": "verb", "ать": "verb", "ить": "verb", "ый": "adj", "ий": "adj", "ая": "adj",
           "ое": "adj", "ие": "noun_ie", "ия": "noun_ie", "а": "noun_f", "я": "noun_f"},
    "be": {"ць": "verb", "ы": "adj", "ая": "adj", "ае": "adj", "нне": "noun_ie",
           "ння": "noun_ie", "а": "noun_f", "я": "noun_f"},
    "uk": {"ти": "verb", "ий": "adj", "ій": "adj", "ння": "noun_ie", "а": "noun_f",
           "я": "noun_f"},
    "en": {"ate": "verb", "ize": "verb", "ify": "verb", "al": "adj", "ous": "adj",
           "ive": "adj", "ful": "adj"},
}  # fmt: skip


@dataclass(frozen=True)
class EntityGroup:
    """Names of one thing in each language (inflected, some multi-word), planted so that a
    ``REFERENCE_LENGTH``-word document holds one of them with ``doc_frequency``."""

    name: str
    doc_frequency: float
    forms: dict[str, tuple[str, ...]]


def _entity(name: str, doc_frequency: float, **forms: str) -> EntityGroup:
    """Forms per language separated by ``|`` (a form may hold spaces: a phrase)."""
    return EntityGroup(
        name, doc_frequency, {lang: tuple(text.split("|")) for lang, text in forms.items()}
    )


ENTITIES: tuple[EntityGroup, ...] = (
    _entity("minsk", 0.04,
            ru="Минск|Минске|Минска|Минском|минский|минского|минских",
            be="Мінск|Мінску|Мінска|Мінскам|мінскі|мінскага",
            uk="Мінськ|Мінську|Мінська|Мінськом|мінський|мінського", en="Minsk|Minsk's"),
    _entity("gomel", 0.012, ru="Гомель|Гомеле|Гомеля|гомельский|гомельского",
            be="Гомель|Гомелі|Гомеля|гомельскі", uk="Гомель|Гомелі|Гомеля|гомельський",
            en="Gomel|Homiel"),
    _entity("brest", 0.01, ru="Брест|Бресте|Бреста|брестский|брестского",
            be="Брэст|Брэсце|Брэста|брэсцкі", uk="Брест|Бресті|Бреста|брестський", en="Brest"),
    _entity("grodno", 0.01, ru="Гродно|гродненский|гродненского",
            be="Гродна|Гродне|гродзенскі|гродзенскага", uk="Гродно|гродненський",
            en="Grodno|Hrodna"),
    _entity("vitebsk", 0.008, ru="Витебск|Витебске|Витебска|витебский",
            be="Віцебск|Віцебску|Віцебска|віцебскі", uk="Вітебськ|Вітебську|Вітебська",
            en="Vitebsk|Viciebsk"),
    _entity("okrestina", 0.003, ru="Окрестина|на Окрестина|улице Окрестина|Окрестино",
            be="Акрэсціна|на Акрэсціна|вуліцы Акрэсціна",
            uk="Окрестіна|на Окрестіна|вулиці Окрестіна", en="Okrestina|Okrestina Street"),
    _entity("zhodino", 0.002, ru="Жодино|тюрьма Жодино|жодинской", be="Жодзіна|жодзінскай",
            uk="Жодино", en="Zhodzina|Zhodino"),
    _entity("surganova", 0.0005, ru="Сурганова|улице Сурганова", be="Сурганава",
            uk="Сурганова", en="Surganova"),
    _entity("lukashenko", 0.03, ru="Лукашенко", be="Лукашэнка", uk="Лукашенко",
            en="Lukashenko"),
    _entity("tsikhanouskaya", 0.005, ru="Тихановская|Тихановской|Тихановскую",
            be="Ціханоўская|Ціханоўскай|Ціханоўскую", uk="Тихановська|Тихановської|Тихановську",
            en="Tsikhanouskaya"),
    _entity("babaryka", 0.003, ru="Бабарико", be="Бабарыка|Бабарыкі", uk="Бабарико",
            en="Babaryka"),
    _entity("kalesnikava", 0.003, ru="Колесникова|Колесниковой|Колесникову",
            be="Калеснікава|Калеснікавай", uk="Колесникова|Колесникової", en="Kalesnikava"),
    _entity("bialiatski", 0.002, ru="Беляцкий|Беляцкого|Беляцкому", be="Бяляцкі|Бяляцкага",
            uk="Біляцький|Біляцького", en="Bialiatski"),
    _entity("gubopik", 0.003, ru="ГУБОПиК|ГУБОПиКа|ГУБОПиКе", be="ГУБАЗіК|ГУБАЗіКа",
            uk="ГУБОЗіК", en="GUBOPiK"),
    _entity("kgb", 0.01, ru="КГБ", be="КДБ", uk="КДБ", en="KGB"),
    _entity("omon", 0.005, ru="ОМОН|ОМОНа|омоновцы|омоновцев", be="АМАП|АМАПа|амапаўцы",
            uk="ОМОН|омонівці", en="OMON"),
    _entity("viasna", 0.003, ru="Вясна|Вясны|правозащитный центр Вясна",
            be="Вясна|Вясны|праваабарончы цэнтр Вясна", uk="Вясна",
            en="Viasna|Viasna Human Rights Centre"),
    _entity("detention", 0.03,
            ru="задержание|задержания|задержании|задержаний|задержали|задержан|задержана|"
            "задержаны|задержанных|задержанные|задержанного|задержать",
            be="затрыманне|затрымання|затрыманні|затрымалі|затрыманы|затрыманая|затрыманых|"
            "затрымаць",
            uk="затримання|затриманні|затримали|затриманий|затримана|затриманих|затримати",
            en="detention|detentions|detained|detain|detainees"),
    _entity("search", 0.012, ru="обыск|обыски|обыска|обыском|обысках|обыскали",
            be="ператрус|ператрусы|ператрусу|ператрусаў", uk="обшук|обшуки|обшуку|обшуків",
            en="search|searches|searched"),
    _entity("court", 0.05, ru="суд|суда|суде|судом|суды|судья|судьи|судебный|судебного",
            be="суд|суда|судзе|суддзя|судовы", uk="суд|суду|суді|судом|суддя|судовий",
            en="court|courts|judge|judges"),
    _entity("verdict", 0.015, ru="приговор|приговора|приговоре|приговорили|приговорён|"
            "приговорена", be="прысуд|прысуду|прысудзілі", uk="вирок|вироку|засудили",
            en="sentence|sentenced|verdict"),
    _entity("fine", 0.01, ru="штраф|штрафа|штрафом|оштрафовали", be="штраф|штрафу|аштрафавалі",
            uk="штраф|штрафу|оштрафували", en="fine|fined"),
    _entity("extremist", 0.008, ru="экстремистский|экстремистских|экстремистским|экстремизм|"
            "экстремизма", be="экстрэмісцкі|экстрэмісцкіх|экстрэмізм",
            uk="екстремістський|екстремістських|екстремізм", en="extremist|extremism"),
    _entity("political_prisoner", 0.01,
            ru="политзаключённый|политзаключённых|политзаключенные|политзаключённым",
            be="палітвязень|палітвязні|палітвязняў", uk="політв'язень|політв'язні|політв'язнів",
            en="political prisoner|political prisoners"),
    _entity("article_342", 0.004, ru="статье 342|статьи 342|по статье 342",
            be="артыкуле 342|артыкула 342", uk="статтею 342|статті 342", en="Article 342"),
    _entity("protest", 0.02, ru="протест|протесты|протестов|акция протеста|пикет|пикета",
            be="пратэст|пратэсты|пікет", uk="протест|протести|пікет",
            en="protest|protests|protesters|picket"),
)  # fmt: skip


@dataclass
class Vocabulary:
    """One language's words as drawn: ``words`` is the general vocabulary three times (bare,
    with ".", with ","), then every entity form; ``cdf`` is the Zipf distribution over the
    general words, most frequent first."""

    lang: str
    general: list[str]
    words: list[str]
    cdf: np.ndarray
    entity_slices: dict[str, tuple[int, int]] = field(default_factory=dict)
    real_words: int = 0

    def summary(self) -> dict[str, int]:
        return {
            "general_forms": len(self.general),
            "from_real_words": self.real_words,
            "pseudo_words": len(self.general) - self.real_words,
            "entity_forms": sum(n for _, n in self.entity_slices.values()),
        }


def source_words(lang: str) -> Counter[str]:
    """Lower-cased words of one language from the parallel sentences and the demo pages,
    with their counts; words in the wrong script are left out."""
    counts: Counter[str] = Counter()
    script = _LATIN_WORD if lang == "en" else _CYRILLIC_WORD
    texts: list[str] = []
    with SENTENCES.open(encoding="utf-8") as lines:
        texts.extend(record["text"] for record in map(json.loads, lines) if record["lang"] == lang)
    for page in sorted(DEMO_PAGES.glob("*.html")):
        markup = page.read_text(encoding="utf-8")
        if f'lang="{lang}"' in markup:
            texts.append(html.unescape(_TAG.sub(" ", markup)))
    for text in texts:
        counts.update(w for w in map(str.lower, _WORD.findall(text)) if script.match(w))
    return counts


def inflected_forms(word: str, lang: str) -> list[str]:
    """The word's paradigm: its stem with every ending of the class its ending marks."""
    markers = CLASS_MARKERS[lang]
    for ending in sorted(markers, key=len, reverse=True):
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 3:
            return [stem + e for e in INFLECTIONS[lang][markers[ending]]]
    if len(word) >= 3 and word[-1] not in _VOWEL:
        return [word + e for e in INFLECTIONS[lang]["noun_m"]]
    return [word]


def pseudo_words(real: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct made-up words of 2–4 syllables taken from the real words, some
    with a real word's last letters (an inflected name, a rare form)."""
    syllables = sorted({s for w in real for s in _SYLLABLE.findall(w)})
    endings = sorted({w[-2:] for w in real if len(w) > 4})
    taken = set(real)
    made: list[str] = []
    while len(made) < count:
        parts = rng.integers(0, len(syllables), size=(count, 4))
        lengths = rng.integers(2, 5, size=count)
        tails = rng.integers(0, 2 * len(endings), size=count)
        for row, n, tail in zip(parts, lengths, tails, strict=True):
            word = "".join(syllables[i] for i in row[:n])
            word += endings[tail] if tail < len(endings) else ""
            if word not in taken:
                taken.add(word)
                made.append(word)
    return made[:count]


def ranked_general_words(lang: str, rng: np.random.Generator) -> tuple[list[str], int]:
    """General words most frequent first: function words, real words by source count, their
    inflected forms behind them, then the pseudo-word tail. Entity forms are left out."""
    excluded = {form.lower() for g in ENTITIES for form in g.forms[lang] if " " not in form}
    function = [w for w in FUNCTION_WORDS[lang].split() if w not in excluded]
    counts = source_words(lang)
    real = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    keyed: dict[str, float] = {w: float(i) for i, w in enumerate(function)}
    for rank, word in enumerate(real, start=len(function)):
        keyed.setdefault(word, float(rank))
        for form in inflected_forms(word, lang):
            keyed.setdefault(form, rank * float(rng.uniform(1.5, 30.0)) + len(function))
    ordered = [w for w in sorted(keyed, key=lambda w: (keyed[w], w)) if w not in excluded]
    tail = pseudo_words(ordered, PSEUDO_WORDS, rng)
    return ordered + [w for w in tail if w not in excluded], len(ordered)


def zipf_cdf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1, dtype=np.float64) ** ZIPF_EXPONENT
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def build_vocabulary(lang: str, seed: int) -> Vocabulary:
    rng = np.random.default_rng([seed, LANGS.index(lang), 1])
    general, real = ranked_general_words(lang, rng)
    words = general + [w + "." for w in general] + [w + "," for w in general]
    slices: dict[str, tuple[int, int]] = {}
    for group in ENTITIES:
        slices[group.name] = (len(words), len(group.forms[lang]))
        words.extend(group.forms[lang])
    return Vocabulary(lang, general, words, zipf_cdf(len(general)), slices, real)


def build_vocabularies(seed: int) -> dict[str, Vocabulary]:
    """Every language's vocabulary (a few seconds; deterministic for a seed)."""
    return {lang: build_vocabulary(lang, seed) for lang in LANGS}


@dataclass(frozen=True)
class CorpusSpec:
    """How many documents, from which seed, in batches of which size."""

    docs: int
    seed: int = 7
    batch_size: int = BATCH_SIZE

    @property
    def batches(self) -> int:
        return -(-self.docs // self.batch_size)

    def batch_counts(self, batch: int) -> dict[str, int]:
        """Documents of each kind in one batch (exact shares, the last batch smaller)."""
        size = min(self.batch_size, self.docs - batch * self.batch_size)
        pages = round(size * KIND_SHARES[0])
        posts = round(size * KIND_SHARES[1])
        return {"page": pages, "post": posts, "transcript": size - pages - posts}

    def describe(self) -> dict[str, Any]:
        """The corpus mix, for the result file."""
        kinds = Counter[str]()
        for batch in range(self.batches):
            kinds.update(self.batch_counts(batch))
        return {
            "docs": self.docs,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "kinds": dict(kinds),
            "lang_shares": dict(zip(LANGS, LANG_SHARES, strict=True)),
            "words_per_doc": {
                "page": "200–2,000, log-normal, mean ≈ 500",
                "post": "50–300, log-normal, mean ≈ 130",
                "transcript": "5–30, uniform (segments of 20–120 per recording)",
            },
            "sources": sum(SOURCE_COUNTS.values()),
            "captured_at": f"{START.date()} + 3 years, uniform",
            "zipf_exponent": ZIPF_EXPONENT,
            "entities": {g.name: g.doc_frequency for g in ENTITIES},
            "entity_reference_length_words": REFERENCE_LENGTH,
        }


@dataclass
class _Texts:
    """Word counts and languages of every title and text of a batch, filled in one pass."""

    langs: list[str] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    plant: list[bool] = field(default_factory=list)

    def add(self, lang: str, length: int, plant: bool) -> int:
        self.langs.append(lang)
        self.lengths.append(length)
        self.plant.append(plant)
        return len(self.langs) - 1


def _lengths(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "page":
        raw = rng.lognormal(np.log(430), 0.55, n)
        return np.clip(raw, 200, 2000).astype(np.int64)
    if kind == "post":
        return np.clip(rng.lognormal(np.log(115), 0.5, n), 50, 300).astype(np.int64)
    return rng.integers(5, 31, n)


def _sources(kind: str, langs: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Sources of one kind, each writing in one language; big sources publish more."""
    per_lang = [round(SOURCE_COUNTS[kind] * share) for share in LANG_SHARES]
    picks: list[str] = []
    for lang_index in langs:
        count = per_lang[lang_index]
        rank = min(int(rng.zipf(1.3)), count) - 1
        picks.append(f"{SOURCE_PREFIX[kind]}-{LANGS[lang_index]}-{rank:03d}")
    return picks


def _tags(rng: np.random.Generator) -> tuple[str, ...]:
    count = int(rng.choice(3, p=(0.5, 0.35, 0.15)))
    return tuple(sorted({TAGS[i] for i in rng.integers(0, len(TAGS), count)}))


def _sample_words(
    vocab: Vocabulary, lengths: np.ndarray, plant: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """Texts of the given lengths in one language, entities planted in those marked."""
    total = int(lengths.sum())
    general = len(vocab.general)
    ranks = np.searchsorted(vocab.cdf, rng.random(total), side="right")
    ranks = np.minimum(ranks, general - 1)
    marks = rng.random(total)
    ranks += general * (marks < PERIOD_RATE) + 2 * general * (marks > 1 - COMMA_RATE)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    _plant_entities(vocab, ranks, lengths, offsets[:-1], plant, rng)
    words = vocab.words
    flat = [words[i] for i in ranks.tolist()]
    return [" ".join(flat[a:b]) for a, b in itertools.pairwise(offsets.tolist())]


def _plant_entities(
    vocab: Vocabulary,
    ranks: np.ndarray,
    lengths: np.ndarray,
    starts: np.ndarray,
    plant: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Overwrite words with entity forms: a text of ``n`` words holds entity ``e`` with
    probability ``1 - (1 - f_e) ** (n / REFERENCE_LENGTH)``, one to three times."""
    for group in ENTITIES:
        first, forms = vocab.entity_slices[group.name]
        chance = 1.0 - (1.0 - group.doc_frequency) ** (lengths / REFERENCE_LENGTH)
        hit = np.nonzero(plant & (rng.random(len(lengths)) < chance))[0]
        if hit.size == 0:
            continue
        docs = np.repeat(hit, rng.integers(1, 4, hit.size))
        positions = starts[docs] + (rng.random(docs.size) * lengths[docs]).astype(np.int64)
        ranks[positions] = first + rng.integers(0, forms, docs.size)


def _fill_texts(
    texts: _Texts, vocabularies: dict[str, Vocabulary], rng: np.random.Generator
) -> list[str]:
    """Every title and text of a batch, in the order they were added."""
    out = [""] * len(texts.langs)
    langs = np.array(texts.langs)
    lengths = np.array(texts.lengths, dtype=np.int64)
    plant = np.array(texts.plant, dtype=bool)
    for lang in LANGS:
        chosen = np.nonzero(langs == lang)[0]
        if chosen.size == 0:
            continue
        made = _sample_words(vocabularies[lang], lengths[chosen], plant[chosen], rng)
        for i, text in zip(chosen.tolist(), made, strict=True):
            out[i] = text
    return out


@dataclass
class _Draft:
    """A document before its words are drawn."""

    fields: dict[str, Any]
    title: int | str
    text: int


def _capture_drafts(
    kind: str, first: int, count: int, texts: _Texts, rng: np.random.Generator
) -> list[_Draft]:
    langs = rng.choice(len(LANGS), size=count, p=LANG_SHARES)
    lengths = _lengths(kind, count, rng)
    sources = _sources(kind, langs, rng)
    seconds = rng.integers(0, SPAN_SECONDS, count)
    drafts = []
    for i in range(count):
        number = first + i
        lang = LANGS[langs[i]]
        captured = START + timedelta(seconds=int(seconds[i]))
        published = None
        if kind == "post":
            published = captured - timedelta(minutes=int(rng.exponential(600)))
        title: int | str = (
            texts.add(lang, int(rng.integers(4, 13)), False)
            if kind == "page"
            else f"{sources[i]} channel"
        )
        capture_id = f"c{number:09d}"
        fields = {
            "id": f"{kind}:{capture_id}",
            "kind": kind,
            "source": sources[i],
            "url": f"https://{sources[i]}.example/{kind}s/{number}",
            "capture_id": capture_id,
            "lang": lang,
            "captured_at": captured,
            "published_at": published,
            "tags": _tags(rng),
        }
        drafts.append(_Draft(fields, title, texts.add(lang, int(lengths[i]), True)))
    return drafts


def _transcript_drafts(
    first: int, count: int, texts: _Texts, rng: np.random.Generator
) -> list[_Draft]:
    """Segments in runs of 20–120 per recording; a recording has one language and source."""
    drafts: list[_Draft] = []
    while len(drafts) < count:
        number = first + len(drafts)
        run = min(int(rng.integers(20, 121)), count - len(drafts))
        lang_index = int(rng.choice(len(LANGS), p=LANG_SHARES))
        lang = LANGS[lang_index]
        source = _sources("transcript", np.array([lang_index]), rng)[0]
        media = hashlib.sha256(f"media-{number}".encode()).hexdigest()
        captured = START + timedelta(seconds=int(rng.integers(0, SPAN_SECONDS)))
        title = texts.add(lang, int(rng.integers(4, 11)), False)
        tags = _tags(rng)
        start = 0.0
        for segment, length in enumerate(_lengths("transcript", run, rng).tolist()):
            end = start + length * 0.4
            fields = {
                "id": f"transcript:{media}:{MODEL_ID}:{segment}",
                "kind": "transcript",
                "source": source,
                "url": f"https://{source}.example/videos/{number}",
                "capture_id": f"c{number:09d}",
                "lang": lang,
                "captured_at": captured,
                "tags": tags,
                "media_sha256": media,
                "start": round(start, 2),
                "end": round(end, 2),
            }
            drafts.append(_Draft(fields, title, texts.add(lang, length, True)))
            start = end
    return drafts


def generate_batch(
    spec: CorpusSpec, batch: int, vocabularies: dict[str, Vocabulary]
) -> list[Document]:
    """Batch ``batch`` of the corpus: a pure function of ``(spec.seed, batch)``."""
    rng = np.random.default_rng([spec.seed, batch, 2])
    counts = spec.batch_counts(batch)
    first = batch * spec.batch_size
    texts = _Texts()
    drafts = _capture_drafts("page", first, counts["page"], texts, rng)
    drafts += _capture_drafts("post", first + counts["page"], counts["post"], texts, rng)
    drafts += _transcript_drafts(first + counts["page"] + counts["post"], counts["transcript"],
                                 texts, rng)  # fmt: skip
    filled = _fill_texts(texts, vocabularies, rng)
    return [
        Document(
            title=filled[d.title] if isinstance(d.title, int) else d.title,
            text=filled[d.text],
            **d.fields,
        )
        for d in drafts
    ]


def corpus_batches(
    spec: CorpusSpec, vocabularies: dict[str, Vocabulary]
) -> Iterator[list[Document]]:
    """The corpus, one batch at a time."""
    for batch in range(spec.batches):
        yield generate_batch(spec, batch, vocabularies)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search_corpus", description=__doc__)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=3, help="documents to print")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    vocabularies = build_vocabularies(args.seed)
    built = time.perf_counter() - started
    spec = CorpusSpec(args.docs, args.seed)
    words = docs = 0
    started = time.perf_counter()
    for documents in corpus_batches(spec, vocabularies):
        docs += len(documents)
        words += sum(d.text.count(" ") + 1 for d in documents)
        shown, args.show = documents[: args.show], max(0, args.show - len(documents))
        for document in shown:
            print(document.id, document.lang, document.source, document.text[:300], sep=" | ")
    seconds = time.perf_counter() - started
    for lang, vocab in vocabularies.items():
        print(lang, vocab.summary(), vocab.general[:12])
    print(f"vocabularies in {built:.1f} s; {docs} documents, {words} words in {seconds:.1f} s "
          f"= {words / seconds / 1e6:.1f} M words/s, {docs / seconds:.0f} docs/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
