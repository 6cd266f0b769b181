"""``osint-archive search`` and ``osint-archive reindex``."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import cast

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from index.backend import (
    KINDS,
    MAX_LIMIT,
    MAX_OFFSET,
    SORTS,
    Hit,
    SearchFilters,
    SearchRequest,
    Sort,
)
from index.query import QueryError
from index.rebuild import rebuild_index
from index.snippets import snippet_to_text
from osint_archive.cli_common import (
    EXIT_FAILED,
    EXIT_USAGE,
    clock,
    err_console,
    load_settings,
    open_index,
    parse_date,
)
from osint_archive.terminal_text import safe_for_terminal


def hit_json(hit: Hit) -> dict[str, object]:
    """A hit as ``search --json`` prints it; transcript hits add the media and the seconds."""
    line: dict[str, object] = {
        "id": hit.id,
        "kind": hit.kind,
        "source": hit.source,
        "url": hit.url,
        "capture_id": hit.capture_id,
        "lang": hit.lang,
        "captured_at": hit.captured_at,
        "snippet": hit.snippet,
        "title": hit.title,
        "published_at": hit.published_at,
    }
    if hit.media_sha256 is not None:
        line.update(media_sha256=hit.media_sha256, start=hit.start, end=hit.end)
    return line


def print_hit(console: Console, number: int, hit: Hit) -> None:
    """One hit for a person: archived text without escape sequences, and never as markup."""

    def shown(text: str) -> str:
        return escape(safe_for_terminal(text))

    where = f" @ {clock(hit.start or 0)}–{clock(hit.end or 0)}" if hit.start is not None else ""
    console.print(f"[bold]{number}. {shown(hit.title or hit.url)}[/]", highlight=False)
    console.print(
        f"   [dim]{shown(f'{hit.captured_at[:19]}  {hit.source}  {hit.kind}  {hit.lang}')}[/]  "
        f"{shown(hit.url)}{where}",
        highlight=False,
        soft_wrap=True,
    )
    text = shown(snippet_to_text(hit.snippet, "\ue000", "\ue001"))
    # Highlights in colour on a terminal, in brackets when the output is piped.
    start, end = ("[bold yellow]", "[/]") if console.is_terminal else ("\\[", "]")
    console.print("   " + text.replace("\ue000", start).replace("\ue001", end), highlight=False)


@click.command("search")
@click.argument("query")
@click.option("--lang", default=None, help="Only this language: ru, be, uk, en, … or und.")
@click.option("--source", "source_id", default=None, help="Only this source id.")
@click.option("--kind", type=click.Choice(KINDS), default=None)
@click.option("--tag", default=None, help="Only documents of sources with this tag.")
@click.option("--since", default=None, help="Captured on or after this date (ISO).")
@click.option("--until", default=None, help="Captured on or before this date (ISO).")
@click.option("--published-since", default=None, help="Published on or after this date.")
@click.option("--published-until", default=None, help="Published on or before this date.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT))
@click.option("--page", default=1, show_default=True, type=click.IntRange(1, None))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def search(
    query: str,
    lang: str | None,
    source_id: str | None,
    kind: str | None,
    tag: str | None,
    since: str | None,
    until: str | None,
    published_since: str | None,
    published_until: str | None,
    sort: str,
    limit: int,
    page: int,
    as_json: bool,
) -> None:
    """Full-text search over pages, posts and transcripts.

    \b
    QUERY syntax:  words (all must occur; inflected forms match)
                   "a quoted phrase"   AND  OR  NOT (upper case)   ( … )   prefix*
    Examples:      osint-archive search 'задержание AND (Минск OR Брест)'
                   osint-archive search '"суд над волонтёрами"' --lang ru --sort newest
                   osint-archive search 'затрым*' --lang be --kind transcript --json
    """
    offset = (page - 1) * limit
    if offset > MAX_OFFSET:
        err_console.print(f"[red]error:[/] pages end at result {MAX_OFFSET}; narrow the search")
        sys.exit(EXIT_USAGE)
    try:
        filters = SearchFilters(
            kind=kind,
            source=source_id,
            lang=lang.lower() if lang else None,
            tag=tag,
            since=parse_date(since),
            until=parse_date(until, end_of_day=True),
            published_since=parse_date(published_since),
            published_until=parse_date(published_until, end_of_day=True),
        )
        request = SearchRequest.of(
            query, filters, sort=cast(Sort, sort), limit=limit, offset=offset
        )
    except QueryError as err:
        err_console.print(f"[red]error:[/] {escape(safe_for_terminal(str(err)))}", highlight=False)
        sys.exit(EXIT_USAGE)
    for note in request.query.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    index = open_index(load_settings())
    try:
        hits = index.search(request)
    finally:
        index.close()
    console = Console()
    for number, hit in enumerate(hits, start=offset + 1):
        if as_json:
            click.echo(json.dumps(hit_json(hit), ensure_ascii=False))
        else:
            print_hit(console, number, hit)
    if not hits and not as_json:
        err_console.print("no results" if page == 1 else f"no results on page {page}")


@click.command("reindex")
def reindex() -> None:
    """Rebuild the search index from the archive alone (manifests, texts, transcripts).

    The new index is filled beside the live one, which keeps answering searches, and swapped
    in when complete; an interrupted rebuild leaves the live index as it was."""
    settings = load_settings()
    store = settings.open_store()
    rebuild = settings.begin_index_rebuild()
    started = time.monotonic()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = progress.add_task("reading the archive")

    def show(kinds: Counter[str]) -> None:
        total = sum(kinds.values())
        rate = total / max(time.monotonic() - started, 1e-6)
        progress.update(task, description=f"indexed {total:,} documents ({rate:,.0f}/s)")

    try:
        with progress:
            kinds = rebuild_index(store, rebuild.index, show)
        rebuild.activate()
    except Exception as err:
        rebuild.discard()
        err_console.print(f"[red]error:[/] reindex failed, the live index is unchanged: {err}")
        sys.exit(EXIT_FAILED)
    except BaseException:  # Ctrl-C: drop the half-built index, then stop
        rebuild.discard()
        raise
    parts = ", ".join(f"{kinds[k]:,} {k}s" for k in KINDS if kinds[k])
    elapsed = time.monotonic() - started
    click.echo(
        f"indexed {sum(kinds.values()):,} documents ({parts or 'none'}) in {elapsed:.1f} s;"
        " the new index is live"
    )
