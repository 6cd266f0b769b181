"""The FTS5 tokenizer of the embedded index: SQLite's ``unicode61`` splits the words, then each
word is reduced to its index term (:mod:`index.analysis`) in the language of its document.

A document's language reaches the tokenizer as its FTS5 locale (``fts5_locale(lang, text)``),
so snippets and highlights are cut from the original text while matching uses the terms.
A query word becomes colocated alternatives, which FTS5 treats as OR: its term in each
language the search covers (all four, or the one of ``--lang``). A prefix is matched as
typed (folded, not stemmed) against the terms, so ``задерж*`` finds «задержали» and
«задержание», while a prefix longer than the stem (``задержани*``) finds less.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import apsw

from index.analysis import APOSTROPHES, FOLD, STEMMED_LANGUAGES, WordForms, query_languages

TOKENIZER_NAME = "osint_stem"
# Apostrophes belong to words (Belarusian «сям'я», Ukrainian «м’ята»); the terms drop them.
BASE_ARGS = ["remove_diacritics", "0", "tokenchars", APOSTROPHES]

Token = tuple[Any, ...]


def stemming_tokenizer(forms: WordForms) -> Callable[[apsw.Connection, list[str]], Any]:
    """An FTS5 tokenizer factory for :meth:`apsw.Connection.register_fts5_tokenizer`."""

    def factory(connection: apsw.Connection, args: list[str]) -> Any:
        base = connection.fts5_tokenizer("unicode61", BASE_ARGS)

        def tokenize(utf8: bytes, flags: int, locale: str | None) -> Sequence[Token]:
            tokens: list[Any] = list(base(utf8, flags, locale))
            words = [token[2] for token in tokens]
            if flags & apsw.FTS5_TOKENIZE_PREFIX:
                alternatives: list[tuple[str, ...]] = [(w.translate(FOLD),) for w in words]
            elif flags & apsw.FTS5_TOKENIZE_QUERY:
                alternatives = [forms.alternatives(w, query_languages(locale)) for w in words]
            else:
                alternatives = forms.terms(words, locale if locale in STEMMED_LANGUAGES else None)
            return [
                (token[0], token[1], *terms)
                for token, terms in zip(tokens, alternatives, strict=True)
                if terms and terms[0]
            ]

        return tokenize

    return factory


def register(connection: apsw.Connection, forms: WordForms) -> None:
    connection.register_fts5_tokenizer(TOKENIZER_NAME, stemming_tokenizer(forms))
