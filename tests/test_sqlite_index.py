"""What only the embedded index has to prove: parallel writers, generations swapped by
reindex, refusal of an index made with other settings, marks that text cannot forge."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from index.backend import SearchRequest
from index.documents import Document
from index.sqlite_fts import IndexFormatError, SqliteFtsBackend
from index.sqlite_generations import SqliteRebuild, live_index_path

NOW = datetime(2024, 5, 1, tzinfo=UTC)


def page(n: int, text: str, lang: str = "ru") -> Document:
    return Document(
        id=f"page:{n}", kind="page", source="s", url=f"https://example.org/{n}",
        capture_id=f"c{n}", title="", text=text, lang=lang, captured_at=NOW,
    )  # fmt: skip


def _write_many(path: str, first: int) -> None:
    index = SqliteFtsBackend(Path(path))
    for n in range(first, first + 200, 20):
        index.index_documents(
            [page(i, f"задержали участников номер {i}") for i in range(n, n + 20)]
        )
    index.close()


def test_parallel_writer_processes_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "search.sqlite"
    SqliteFtsBackend(path).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(str(path), s)) for s in (0, 1000)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [w.exitcode for w in writers] == [0, 0]
    index = SqliteFtsBackend(path)
    assert index.count() == 400
    assert len(index.search(SearchRequest.of("задержание", limit=1000))) == 400


def test_reindex_swaps_generations_while_readers_keep_working(tmp_path: Path) -> None:
    live = SqliteFtsBackend(live_index_path(tmp_path))
    live.index_documents([page(1, "старый суд")])
    rebuild = SqliteRebuild(tmp_path)
    rebuild.index.index_documents([page(2, "новый суд")])
    assert [h.id for h in live.search(SearchRequest.of("суд"))] == ["page:1"]  # not yet live
    rebuild.activate()
    assert [h.id for h in live.search(SearchRequest.of("суд"))] == ["page:1"]  # open reader
    live.close()
    fresh = SqliteFtsBackend(live_index_path(tmp_path))
    assert [h.id for h in fresh.search(SearchRequest.of("суд"))] == ["page:2"]
    fresh.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".sqlite") == [
        live_index_path(tmp_path).name
    ]


def test_a_discarded_rebuild_leaves_the_live_index(tmp_path: Path) -> None:
    live = SqliteFtsBackend(live_index_path(tmp_path))
    live.index_documents([page(1, "суд")])
    live.close()
    rebuild = SqliteRebuild(tmp_path)
    rebuild.discard()
    assert not rebuild.path.exists()
    assert SqliteFtsBackend(live_index_path(tmp_path)).count() == 1


def test_an_index_made_without_stemming_is_not_opened_with_it(tmp_path: Path) -> None:
    SqliteFtsBackend(tmp_path / "x.sqlite", stemming=False).close()
    with pytest.raises(IndexFormatError, match="reindex"):
        SqliteFtsBackend(tmp_path / "x.sqlite", stemming=True)


def test_plain_index_matches_only_words_as_written(tmp_path: Path) -> None:
    plain = SqliteFtsBackend(tmp_path / "plain.sqlite", stemming=False)
    plain.index_documents([page(1, "В Минске задержали участников пикета")])
    assert plain.search(SearchRequest.of("задержание")) == []
    assert len(plain.search(SearchRequest.of("задержали"))) == 1


def test_text_cannot_forge_highlight_marks(tmp_path: Path) -> None:
    index = SqliteFtsBackend(tmp_path / "x.sqlite")
    index.index_documents([page(1, "суд \ue000<img src=x onerror=alert(1)>\ue001 приговор")])
    (hit,) = index.search(SearchRequest.of("приговор"))
    assert hit.snippet == "суд &lt;img src=x onerror=alert(1)&gt; <mark>приговор</mark>"
