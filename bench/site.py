"""A deterministic synthetic news site for crawl benchmarks, and a slow server for it.

    python -m bench.site generate --root DIR [--pages 400] [--seed 2024]
    python -m bench.site serve --root DIR [--port 0] [--latency-ms 50] [--stats-file F]

The site looks like a real news site: every page is 30–60 KB of HTML with a head full of meta
tags, a long navigation bar, a sidebar and a footer, and articles of mixed ru/be/en pseudo-news
text. ``/`` links to every section page, each section page links to all of its articles, and
articles link to related articles, so every page is reachable within depth 2 on one host.

The server is a separate process (aiohttp, so concurrent requests wait their latency in
parallel, as they would against a remote server) that sleeps ``--latency-ms`` before each
response. It prints its port on stdout when ready, and on SIGTERM writes request statistics
to ``--stats-file``; SIGUSR1 writes them and starts counting afresh (one file per phase).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import random
import signal
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from aiohttp import web

SECTIONS = ["politics", "courts", "detentions", "regions", "society", "media", "world", "culture"]
CITIES = {
    "ru": ["Минске", "Гомеле", "Бресте", "Гродно", "Витебске", "Могилёве", "Пинске", "Бобруйске"],
    "be": ["Мінску", "Гомелі", "Берасці", "Гродне", "Віцебску", "Магілёве", "Пінску", "Бабруйску"],
    "en": ["Minsk", "Gomel", "Brest", "Hrodna", "Vitebsk", "Mogilev", "Pinsk", "Babruysk"],
}
SUBJECTS = {
    "ru": ["сотрудники милиции", "следователи", "суд", "прокуратура", "правозащитники",
           "родственники задержанных", "адвокаты", "журналисты", "волонтёры", "наблюдатели"],
    "be": ["супрацоўнікі міліцыі", "следчыя", "суд", "пракуратура", "праваабаронцы",
           "сваякі затрыманых", "адвакаты", "журналісты", "валанцёры", "назіральнікі"],
    "en": ["police officers", "investigators", "the court", "prosecutors", "rights defenders",
           "relatives of the detainees", "lawyers", "journalists", "volunteers", "observers"],
}  # fmt: skip
VERBS = {
    "ru": ["задержали", "сообщили", "обыскали", "допросили", "осудили", "подтвердили",
           "обжаловали", "зафиксировали", "опубликовали", "потребовали освободить"],
    "be": ["затрымалі", "паведамілі", "абшукалі", "дапыталі", "асудзілі", "пацвердзілі",
           "абскардзілі", "зафіксавалі", "апублікавалі", "запатрабавалі вызваліць"],
    "en": ["detained", "reported", "searched", "questioned", "sentenced", "confirmed",
           "appealed", "documented", "published", "demanded the release of"],
}  # fmt: skip
OBJECTS = {
    "ru": ["участников пикета", "студентов университета", "пенсионерку", "двух журналистов",
           "учителя истории", "фотографа", "членов профсоюза", "волонтёров фонда",
           "местного депутата", "врача районной больницы"],
    "be": ["удзельнікаў пікету", "студэнтаў універсітэта", "пенсіянерку", "двух журналістаў",
           "настаўніка гісторыі", "фатографа", "сяброў прафсаюза", "валанцёраў фонду",
           "мясцовага дэпутата", "лекара раённай бальніцы"],
    "en": ["picket participants", "university students", "a pensioner", "two journalists",
           "a history teacher", "a photographer", "trade union members", "charity volunteers",
           "a local councillor", "a district hospital doctor"],
}  # fmt: skip
FILLER_TEXT = {
    "ru": ("по словам очевидцев после заседания обвинение в закрытом режиме протокол статья "
           "кодекса родственники узнали из сообщений изолятор временного содержания передачи "
           "письма адвокат не был допущен к подзащитному рассмотрение дела назначено на "
           "понедельник правозащитники признали политическим заключённым"),
    "be": ("паводле сведак пасля пасяджэння абвінавачванне ў закрытым рэжыме пратакол артыкул "
           "кодэкса сваякі даведаліся з паведамленняў ізалятар часовага ўтрымання перадачы "
           "лісты адвакат не быў дапушчаны да падабароннага разгляд справы прызначаны на "
           "панядзелак праваабаронцы прызналі палітычным зняволеным"),
    "en": ("according to witnesses after the hearing the prosecution behind closed doors report "
           "article of the code relatives learned from messages temporary detention centre "
           "parcels letters the lawyer was not admitted to his client the case is scheduled "
           "for monday rights defenders recognised as a political prisoner"),
}  # fmt: skip
FILLER = {lang: text.split() for lang, text in FILLER_TEXT.items()}
SITE_CSS = "body{font-family:Georgia,serif;margin:0}nav a{margin:0 .4em}" * 40


@dataclass(frozen=True)
class SiteSummary:
    """What ``generate_site`` wrote."""

    root: str
    pages: int
    sections: int
    articles: int
    total_bytes: int
    seed: int


@dataclass(frozen=True)
class Article:
    number: int
    section: str
    lang: str
    title: str
    url: str


def sentence(rng: random.Random, lang: str) -> str:
    """One pseudo-news sentence: a who-did-what-where core plus filler words."""
    core = (
        f"{rng.choice(SUBJECTS[lang])} {rng.choice(VERBS[lang])} {rng.choice(OBJECTS[lang])}"
        f" {'in' if lang == 'en' else 'у' if lang == 'be' else 'в'} {rng.choice(CITIES[lang])}"
    )
    filler = " ".join(rng.choices(FILLER[lang], k=rng.randint(4, 14)))
    text = f"{core}, {filler}." if rng.random() < 0.7 else f"{filler}, {core}."
    return text[0].upper() + text[1:]


def paragraph(rng: random.Random, lang: str) -> str:
    return " ".join(sentence(rng, lang) for _ in range(rng.randint(3, 7)))


def make_articles(pages: int, seed: int) -> list[Article]:
    count = pages - 1 - len(SECTIONS)
    if count < 1:
        raise ValueError(f"need at least {len(SECTIONS) + 2} pages, got {pages}")
    rng = random.Random(seed)
    articles = []
    for number in range(count):
        section = SECTIONS[number % len(SECTIONS)]
        lang = ("ru", "be", "en")[rng.randrange(3)]
        title = sentence(rng, lang).split(",")[0].rstrip(".")
        url = f"/news/{section}/{number:05d}.html"
        articles.append(Article(number, section, lang, title, url))
    return articles


def link(url: str, text: str) -> str:
    return f'<a href="{url}">{html.escape(text)}</a>'


def page(
    rng: random.Random,
    *,
    lang: str,
    title: str,
    url: str,
    main: str,
    most_read: list[Article],
) -> str:
    """Wrap ``main`` in the boilerplate every page of a news site carries."""
    nav = " ".join(link(f"/section/{s}.html", s.title()) for s in SECTIONS)
    tags = " ".join(
        link(f"/section/{rng.choice(SECTIONS)}.html", f"#{word}")
        for word in rng.sample(FILLER["en"], 20)
    )
    sidebar = "".join(f"<li>{link(a.url, a.title)}</li>" for a in most_read)
    footer = " · ".join(link(f"/section/{s}.html", f"{s.title()} archive") for s in SECTIONS)
    config = json.dumps({"page": url, "section": url.split("/")[2] if url != "/" else "home"})
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} — Belarus Rights Daily</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description" content="{html.escape(title)}">
<meta property="og:title" content="{html.escape(title)}">
<meta property="og:type" content="article">
<meta property="og:site_name" content="Belarus Rights Daily">
<link rel="stylesheet" href="/static/site.css">
<script>window.__PAGE_CONFIG__ = {config};</script>
</head>
<body>
<header><div class="logo">{link("/", "Belarus Rights Daily")}</div>
<nav class="sections">{nav}</nav><nav class="tags">{tags}</nav></header>
<main>
{main}
</main>
<aside class="most-read"><h2>Most read</h2><ul>{sidebar}</ul></aside>
<footer><p>{footer}</p><p>© Belarus Rights Daily — synthetic benchmark site.
Subscribe · Donate · Contact · Privacy · Terms</p></footer>
</body>
</html>
"""


def article_page(
    rng: random.Random,
    article: Article,
    related: list[Article],
    most_read: list[Article],
    paragraphs: list[str],
) -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    related_html = "".join(f"<li>{link(r.url, r.title)}</li>" for r in related)
    main = (
        f"<article><h1>{html.escape(article.title)}</h1><p class='byline'>Staff reporter</p>"
        f"{body}</article><section class='related'><h2>Related</h2>"
        f"<ul>{related_html}</ul></section>"
    )
    return page(
        rng, lang=article.lang, title=article.title, url=article.url, main=main, most_read=most_read
    )


def fill_to_size(
    rng: random.Random, lang: str, build: Callable[[list[str]], str], target: int
) -> str:
    """Add paragraphs until the page built from them reaches ``target`` bytes."""
    paragraphs: list[str] = []
    while True:
        text = build(paragraphs)
        if len(text.encode("utf-8")) >= target:
            return text
        paragraphs.append(paragraph(rng, lang))


def generate_site(root: Path, pages: int = 400, seed: int = 2024) -> SiteSummary:
    """Write a deterministic ``pages``-page site under ``root`` (same seed, same bytes)."""
    articles = make_articles(pages, seed)
    by_section = {s: [a for a in articles if a.section == s] for s in SECTIONS}
    root.mkdir(parents=True, exist_ok=True)
    (root / "static").mkdir(exist_ok=True)
    (root / "static" / "site.css").write_text(SITE_CSS, encoding="utf-8")
    (root / "robots.txt").write_text("User-agent: *\nAllow: /\n", encoding="utf-8")

    def write(url: str, text: str) -> None:
        path = root / ("index.html" if url == "/" else url.lstrip("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def listing(rng: random.Random, items: list[Article], heading: str, url: str) -> str:
        def build(paragraphs: list[str]) -> str:
            teasers = "".join(
                f"<li>{link(a.url, a.title)}<p>{paragraphs[i] if i < len(paragraphs) else ''}"
                "</p></li>"
                for i, a in enumerate(items)
            )
            extra = "".join(f"<p>{p}</p>" for p in paragraphs[len(items) :])
            main = f"<h1>{html.escape(heading)}</h1><ul class='teasers'>{teasers}</ul>{extra}"
            return page(rng, lang="en", title=heading, url=url, main=main, most_read=items[:15])

        return fill_to_size(rng, "en", build, rng.randint(30_000, 56_000))

    rng = random.Random(f"{seed}:index")
    front = listing(rng, articles[-30:], "Belarus Rights Daily — latest", "/")
    sections_nav = "".join(f"<li>{link(f'/section/{s}.html', s.title())}</li>" for s in SECTIONS)
    write("/", front.replace("<main>", f"<main><ul class='all-sections'>{sections_nav}</ul>", 1))
    for section, items in by_section.items():
        rng = random.Random(f"{seed}:section:{section}")
        url = f"/section/{section}.html"
        write(url, listing(rng, items, f"{section.title()}: all reports", url))

    for article in articles:
        rng = random.Random(f"{seed}:article:{article.number}")
        related = rng.sample(articles, 6)
        most_read = rng.sample(articles, 15)

        build = partial(article_page, rng, article, related, most_read)
        write(article.url, fill_to_size(rng, article.lang, build, rng.randint(30_000, 56_000)))

    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return SiteSummary(str(root), pages, len(SECTIONS), len(articles), total, seed)


@dataclass
class ServerStats:
    """Counts the server keeps, written to the stats file on shutdown."""

    requests: int = 0
    html_responses: int = 0
    not_found: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def reset(self) -> None:
        """Start a new phase; requests still in flight stay counted as in flight."""
        self.requests = self.html_responses = self.not_found = 0
        self.max_in_flight = self.in_flight


def make_app(root: Path, latency_s: float, stats: ServerStats) -> web.Application:
    """An app serving ``root`` from memory, each response delayed by ``latency_s``."""
    root = root.resolve()
    files = {
        "/" + p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
    }
    types = {".html": "text/html", ".css": "text/css", ".txt": "text/plain"}

    async def handle(request: web.Request) -> web.Response:
        stats.requests += 1
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        try:
            await asyncio.sleep(latency_s)
            path = request.path
            key = path + "index.html" if path.endswith("/") else path
            body = files.get(key)
            if body is None:
                stats.not_found += 1
                return web.Response(status=404, text="not found\n")
            ctype = types.get(Path(key).suffix, "application/octet-stream")
            if ctype == "text/html":
                stats.html_responses += 1
            return web.Response(body=body, content_type=ctype, charset="utf-8")
        finally:
            stats.in_flight -= 1

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


async def serve(
    root: Path, host: str, port: int, latency_s: float, stats_file: Path | None
) -> None:
    stats = ServerStats()
    runner = web.AppRunner(make_app(root, latency_s, stats), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    print(bound_port, flush=True)

    def dump_stats() -> None:
        if stats_file is not None:
            # Write then rename, so a reader polling for the file never sees half of it.
            partial_file = stats_file.with_suffix(".partial")
            partial_file.write_text(json.dumps(asdict(stats)) + "\n", encoding="utf-8")
            partial_file.replace(stats_file)

    def dump_and_reset() -> None:
        dump_stats()
        stats.reset()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, dump_and_reset)
    await stop.wait()
    await runner.cleanup()
    dump_stats()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.site", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    gen = commands.add_parser("generate", help="write the synthetic site")
    gen.add_argument("--root", type=Path, required=True)
    gen.add_argument("--pages", type=int, default=400)
    gen.add_argument("--seed", type=int, default=2024)
    srv = commands.add_parser("serve", help="serve a generated site with added latency")
    srv.add_argument("--root", type=Path, required=True)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=0)
    srv.add_argument("--latency-ms", type=float, default=50.0)
    srv.add_argument("--stats-file", type=Path)
    args = parser.parse_args(argv)

    if args.command == "generate":
        summary = generate_site(args.root, args.pages, args.seed)
        print(json.dumps(asdict(summary), indent=2))
    else:
        asyncio.run(serve(args.root, args.host, args.port, args.latency_ms / 1000, args.stats_file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
