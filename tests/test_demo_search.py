"""The search issue's promise, end to end on `osint-archive demo`: a Russian query finds the
inflected form, a Belarusian page is found by language, a spoken word is found to the second,
and `reindex` from the archive alone gives the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_runs import run_cli, search_json

SPOKEN_ONLY_WORD = "избили"  # said in the demo video, written on no page


@pytest.fixture(scope="module")
def demo_home(demo_archive: Path) -> Path:
    """The session's demo archive (tests/web_fixtures.py): built once, shared; nothing here
    changes what it answers (``reindex`` rebuilds the same index)."""
    return demo_archive


def test_a_russian_noun_finds_the_page_that_says_the_verb(demo_home: Path) -> None:
    hits = search_json(demo_home, "задержание")
    arrests = [h for h in hits if str(h["url"]).endswith("/news/ru-minsk-arrests.html")]
    assert arrests, hits
    assert arrests[0]["lang"] == "ru"
    assert "<mark>задержали</mark>" in str(arrests[0]["snippet"])


def test_belarusian_pages_are_found_by_language(demo_home: Path) -> None:
    hits = search_json(demo_home, "Минск", "--lang", "be")
    assert {h["lang"] for h in hits} == {"be"}
    assert any(str(h["url"]).endswith("/news/be-minsk-detentions.html") for h in hits)
    assert "<mark>Мінску</mark>" in str(hits[0]["snippet"])


def test_a_spoken_word_is_found_with_its_seconds(demo_home: Path) -> None:
    hits = search_json(demo_home, SPOKEN_ONLY_WORD)
    assert hits and all(h["kind"] == "transcript" for h in hits)
    hit = hits[0]
    assert isinstance(hit["start"], float) and isinstance(hit["end"], float)
    assert 0 < hit["start"] < hit["end"]
    assert len(str(hit["media_sha256"])) == 64
    assert str(hit["url"]).endswith("/media/court-hearing.mp4")
    assert hit["lang"] == "ru"


def test_reindex_from_the_archive_gives_the_same_results(demo_home: Path) -> None:
    queries = [("задержание",), ("Минск", "--lang", "be"), (SPOKEN_ONLY_WORD,), ("суд",)]
    before = [search_json(demo_home, *q) for q in queries]
    done = run_cli(demo_home, "reindex")
    assert done.returncode == 0, done.stderr
    assert "transcripts" in done.stdout
    assert [search_json(demo_home, *q) for q in queries] == before
