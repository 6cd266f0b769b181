"""The shared query language: what a typed query means, what is forgiven, what is refused."""

from __future__ import annotations

import pytest

from index.query import All, Any, Phrase, QueryError, Term, parse_query
from index.sqlite_fts import fts_expression


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("суд", Term("суд")),
        ("суд Минск", All((Term("суд"), Term("Минск")))),
        ("суд AND Минск", All((Term("суд"), Term("Минск")))),
        ("суд OR Брест", Any((Term("суд"), Term("Брест")))),
        ("суд NOT Брест", All((Term("суд"),), (Term("Брест"),))),
        ('"суд над волонтёрами"', Phrase(("суд", "над", "волонтёрами"))),
        ("задерж*", Term("задерж", prefix=True)),
        (
            "(Минск OR Брест) AND суд",
            All((Any((Term("Минск"), Term("Брест"))), Term("суд"))),
        ),
        ("a OR b c", Any((Term("a"), All((Term("b"), Term("c")))))),  # AND binds tighter
        ("суд and Минск", All((Term("суд"), Term("and"), Term("Минск")))),  # lower case: words
        ('"одно"', Term("одно")),
    ],
)
def test_query_trees(text: str, tree: object) -> None:
    query = parse_query(text)
    assert query.root == tree
    assert query.notes == ()


@pytest.mark.parametrize(
    ("text", "tree", "note"),
    [
        ('"суд над', Phrase(("суд", "над")), "an unclosed quote was closed"),
        ("(суд OR Брест", Any((Term("суд"), Term("Брест"))), "an unclosed '(' was closed"),
        ("суд)", Term("суд"), "an unmatched ')' was ignored"),
        ("суд OR", Term("суд"), "an 'OR' with nothing after it was ignored"),
        ("суд NOT", Term("суд"), "a 'NOT' with nothing after it was ignored"),
    ],
)
def test_slips_are_forgiven_with_a_note(text: str, tree: object, note: str) -> None:
    query = parse_query(text)
    assert query.root == tree
    assert any(n.startswith(note) for n in query.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\x00\x1b\u200b ", "empty"),
        ("* - + ^ ~", "no words"),
        ("NOT суд", "NOT needs something to keep"),
        ("x " * 65, "more than 64 words"),
        ("я" * 1001, "the limit is 1000"),
        ("(" * 33 + "суд", "nests parentheses more than 32 deep"),
        ("(" * 400 + "суд" + ")" * 400, "nests parentheses more than 32 deep"),
    ],
)
def test_what_cannot_be_searched_is_refused(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_nesting_up_to_the_bound_is_parsed() -> None:
    assert parse_query("(" * 32 + "суд" + ")" * 32).root == Term("суд")
    assert parse_query("(a) " * 30).root == All(tuple(Term("a") for _ in range(30)))


def test_control_characters_separate_words() -> None:
    assert parse_query("суд\x00Минск\x1b").root == All((Term("суд"), Term("Минск")))


@pytest.mark.parametrize(
    "text",
    ['"; DROP TABLE documents; --', "title:суд", "NEAR(a b)", 'a" OR "b', "суд^2 ~3 {x}"],
)
def test_operator_characters_only_reach_fts5_quoted(text: str) -> None:
    expression = fts_expression(parse_query(text).root)
    # Outside quoted strings only FTS5's own AND/OR/NOT, parentheses and * remain.
    outside = "".join(expression.split('"')[0::2])
    assert set(outside.replace("AND", "").replace("OR", "").replace("NOT", "")) <= set("() *")


def test_terms_lists_every_word_and_phrase() -> None:
    query = parse_query('суд "над волонтёрами" NOT (Брест OR Гродно*)')
    assert query.terms() == [
        Term("суд"),
        Phrase(("над", "волонтёрами")),
        Term("Брест"),
        Term("Гродно", prefix=True),
    ]
