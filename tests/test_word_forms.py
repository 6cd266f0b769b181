"""Index terms: inflected and derived forms meet, and spellings meet across ru/be/uk."""

from __future__ import annotations

import pytest

from index.analysis import LightStemmer, WordForms

FORMS = WordForms()


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("ru", "задержание задержали задержанных задержан задержать задержания"),
        ("ru", "суд суда суду судом суде"),
        ("ru", "журналист журналиста журналистов журналистами"),
        ("be", "затрыманне затрымалі затрымаў затрыманых затрымання"),
        ("be", "журналіст журналіста журналістаў журналістамі"),
        ("uk", "затримання затримали затриманих затримав"),
        ("uk", "журналіст журналіста журналістів журналістами"),
        ("en", "arrest arrests arrested arresting"),
    ],
)
def test_inflected_forms_share_one_term(lang: str, words: str) -> None:
    terms = {FORMS.term(w, lang) for w in words.split()}
    assert len(terms) == 1, terms


def test_one_place_in_three_spellings_meets() -> None:
    assert FORMS.term("минске", "ru") == FORMS.term("мінску", "be") == FORMS.term("мінську", "uk")


def test_apostrophes_and_soft_signs_do_not_split_words() -> None:
    assert FORMS.term("сям'я", "be") == FORMS.term("сям’і", "be")
    assert FORMS.term("м’ята", "uk") == FORMS.term("мʼяти", "uk")


def test_different_words_stay_apart() -> None:
    assert FORMS.term("суд", "ru") != FORMS.term("сад", "ru")
    assert FORMS.term("страна", "ru") != FORMS.term("строй", "ru")


@pytest.mark.parametrize("lang", ["be", "uk"])
def test_light_stemmer_keeps_three_letters_and_a_vowel(lang: str) -> None:
    stemmer = LightStemmer(lang)
    for word in ("суда", "ямі", "вы", "дзе", "стая"):
        stem = stemmer.stem(word)
        assert len(stem) >= 3 or stem == word


def test_unknown_language_words_get_every_cyrillic_term() -> None:
    (terms,) = FORMS.terms(["затрымалі"], None)
    assert FORMS.term("затрымалі", "be") in terms
    assert len(terms) == len(set(terms)) >= 2


def test_without_stemming_words_are_only_folded() -> None:
    plain = WordForms(stemming=False)
    assert plain.term("мінску", "be") == "минску"
    assert plain.term("задержали", "ru") == "задержали"
