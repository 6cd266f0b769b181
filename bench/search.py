"""Search benchmark: the embedded SQLite FTS5 index at programme scale, with and without
stemming side by side.

    python -m bench.search [--docs 1000000 | --quick] [--queries 200] [--seed 7]
                           [--out bench/results/search.json] [--dir D] [--keep]

``--quick`` (20,000 documents, about a minute) is a smoke check: it writes to the temporary
directory, never over ``bench/results/search.json``. The full run needs about 25 minutes on
two cores and 10 GB of disk under ``--dir`` (default: the temporary directory).

Steps, all in one run on the same machine:
1. a synthetic corpus (``bench/search_corpus.py``: pages, posts and transcript segments in
   ru/be/uk/en, Zipf-drawn inflected words, planted entities), streamed in batches;
2. the corpus indexed twice, each in its own child process and file: ``SqliteFtsBackend``
   with stemming, then with plain ``unicode61`` (the reference). Timed inside
   ``index_documents`` only (generation is timed apart), with the child's peak RSS and the
   files' size after a WAL checkpoint;
3. ``--queries`` mixed queries (words, phrases, filters, prefixes, AND/OR/NOT) built from the
   same vocabularies, each run on both indexes with ``limit=20``: one warm-up pass, then
   ``--passes`` timed passes; p50/p95/p99/max overall and per query type;
4. hit counts of every query on both indexes (what stemming adds in recall).
Writes the figures as JSON (the ``bench/report.py`` shape plus raw fields) and prints a table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import apsw
import numpy as np

from bench.crawl import cpu_model, osint_archive_version, run_measured
from bench.harness import BenchError, run_benchmark
from bench.search_corpus import (
    ENTITIES,
    LANG_SHARES,
    LANGS,
    SOURCE_PREFIX,
    SPAN_SECONDS,
    START,
    CorpusSpec,
    Vocabulary,
    build_vocabularies,
    corpus_batches,
)
from index.analysis import WordForms
from index.backend import SearchFilters, SearchRequest, Sort
from index.query import parse_query
from index.sqlite_fts import SqliteFtsBackend, fts_expression
from index.sqlite_tokenizer import register

REPO = Path(__file__).resolve().parent.parent
TARGET_DOCS_PER_SECOND = 5_000
TARGET_P95_MS = 50.0
QUICK_DOCS = 20_000
RESULT = REPO / "bench" / "results" / "search.json"
QUICK_RESULT = Path(tempfile.gettempdir()) / "osint-bench-search-quick.json"
LIMIT = 20
MODES = {"stemming": True, "plain": False}
PROGRESS_STEPS = 10
# (query type, how many of 200): the mix scales with --queries.
QUERY_MIX = (("word", 45), ("phrase", 30), ("filtered", 50), ("prefix", 30), ("boolean", 45))
RECALL_SAMPLES = (
    "задержание", "Минске", "Мінск", "обыски", "приговор", "затрыманне", "затримали",
    "detained", '"на Окрестина"',
)  # fmt: skip


def rss_mib(field_name: str = "VmRSS") -> float:
    """This process's resident (``VmRSS``) or peak resident (``VmHWM``) memory in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def index_files(path: Path) -> dict[str, int]:
    """Bytes of the index file and its WAL and shared-memory files (0 when absent)."""
    sizes = {}
    for suffix in ("", "-wal", "-shm"):
        part = Path(f"{path}{suffix}")
        sizes[suffix.lstrip("-") or "db"] = part.stat().st_size if part.exists() else 0
    return sizes


def checkpoint(path: Path) -> None:
    """Fold the WAL into the database file and truncate it, from a second connection."""
    connection = apsw.Connection(str(path))
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        connection.close()


@dataclass
class IndexRun:
    """What building one index cost, measured inside the child that built it."""

    stemming: bool
    docs: int = 0
    words: int = 0
    text_bytes: int = 0
    vocabulary_seconds: float = 0.0
    generate_seconds: float = 0.0
    index_seconds: float = 0.0
    index_cpu_seconds: float = 0.0
    rss_before_index_mib: float = 0.0
    peak_rss_mib: float = 0.0
    files: dict[str, int] = field(default_factory=dict)
    progress: list[dict[str, float]] = field(default_factory=list)

    @property
    def docs_per_second(self) -> float:
        return self.docs / self.index_seconds if self.index_seconds else 0.0

    @property
    def disk_bytes(self) -> int:
        return self.files.get("db", 0) + self.files.get("wal", 0)

    def summary(self) -> dict[str, Any]:
        seconds = self.index_seconds or 1.0
        return asdict(self) | {
            "docs_per_second": round(self.docs_per_second, 1),
            "docs_per_cpu_second": round(self.docs / (self.index_cpu_seconds or 1.0), 1),
            "words_per_second": round(self.words / seconds),
            "text_mib_per_second": round(self.text_bytes / seconds / 2**20, 2),
            "disk_bytes": self.disk_bytes,
        }


def build_index(spec: CorpusSpec, path: Path, stemming: bool) -> IndexRun:
    """Generate the corpus batch by batch and index it into ``path``; only the
    ``index_documents`` calls are timed as indexing."""
    run = IndexRun(stemming=stemming)
    started = time.perf_counter()
    vocabularies = build_vocabularies(spec.seed)
    run.vocabulary_seconds = time.perf_counter() - started
    run.rss_before_index_mib = rss_mib()
    backend = SqliteFtsBackend(path, stemming=stemming)
    step = max(1, spec.batches // PROGRESS_STEPS)
    window_docs, window_seconds = 0, 0.0
    generated = time.perf_counter()
    for batch, documents in enumerate(corpus_batches(spec, vocabularies), start=1):
        run.words += sum(d.text.count(" ") + 1 for d in documents)
        run.text_bytes += sum(len(d.text.encode()) for d in documents)
        indexing, cpu = time.perf_counter(), time.process_time()
        run.generate_seconds += indexing - generated
        backend.index_documents(documents)
        generated = time.perf_counter()
        run.index_seconds += generated - indexing
        run.index_cpu_seconds += time.process_time() - cpu
        run.docs += len(documents)
        window_docs += len(documents)
        window_seconds += generated - indexing
        if batch % step == 0 or batch == spec.batches:
            run.progress.append(progress_point(run, window_docs, window_seconds))
            print(json.dumps({"progress": run.progress[-1]}), flush=True)
            window_docs, window_seconds = 0, 0.0
    checkpoint(path)
    run.files = index_files(path)
    backend.close()
    run.peak_rss_mib = rss_mib("VmHWM")
    return run


def progress_point(run: IndexRun, docs: int, seconds: float) -> dict[str, float]:
    """Indexing rate over the last window: does it fall as the index grows?"""
    return {
        "docs": run.docs,
        "window_docs_per_second": round(docs / seconds, 1) if seconds else 0.0,
        "index_seconds": round(run.index_seconds, 1),
        "index_cpu_seconds": round(run.index_cpu_seconds, 1),
        "generate_seconds": round(run.generate_seconds, 1),
        "rss_mib": round(rss_mib(), 1),
    }


def index_in_child(
    spec: CorpusSpec, path: Path, stemming: bool, workdir: Path, timeout: float
) -> tuple[IndexRun, dict[str, Any]]:
    """Build one index in a fresh ``python -m bench.search --index-only`` process, so each
    index has its own peak RSS; returns its figures and the parent's view of the child."""
    mode = "stemming" if stemming else "plain"
    command = [sys.executable, "-m", "bench.search", "--index-only", str(path)]
    command += ["--mode", mode, "--docs", str(spec.docs), "--seed", str(spec.seed)]
    command += ["--batch-size", str(spec.batch_size)]
    log = workdir / f"index-{mode}.log"
    env = dict(os.environ) | {"PYTHONPATH": str(REPO)}
    child = run_measured(command, log, env, REPO, timeout)
    lines = log.read_text(encoding="utf-8").strip().splitlines()
    if child.returncode != 0 or not lines or not lines[-1].startswith('{"stemming"'):
        tail = "\n  ".join(lines[-8:])
        raise BenchError(f"indexing ({mode}) exited {child.returncode}; see {log}:\n  {tail}")
    data = json.loads(lines[-1])
    fields = {k: v for k, v in data.items() if k in IndexRun.__dataclass_fields__}
    return IndexRun(**fields), child.summary()


@dataclass(frozen=True)
class BenchQuery:
    """One query of the mix, with what it was built from."""

    kind: str
    text: str
    origin: str
    filters: SearchFilters = field(default_factory=SearchFilters)
    sort: Sort = "relevance"

    def request(self) -> SearchRequest:
        return SearchRequest.of(self.text, self.filters, sort=self.sort, limit=LIMIT)

    def label(self) -> str:
        shown = [
            f"{key}={value.date() if isinstance(value, datetime) else value}"
            for key, value in asdict(self.filters).items()
            if value is not None
        ]
        if self.sort != "relevance":
            shown.append(f"sort={self.sort}")
        return " ".join([self.text, *shown])


class QueryMaker:
    """Draws query words from the corpus's own vocabularies, with realistic selectivity:
    mostly entities and mid-frequency words, a few common ones."""

    def __init__(self, vocabularies: dict[str, Vocabulary], seed: int) -> None:
        self.vocabularies = vocabularies
        self.rng = np.random.default_rng([seed, 3])

    def lang(self) -> str:
        return LANGS[int(self.rng.choice(len(LANGS), p=LANG_SHARES))]

    def entity(self, lang: str, single: bool = True) -> tuple[str, str]:
        """An entity form in ``lang`` (a single word unless ``single`` is False)."""
        while True:
            group = ENTITIES[int(self.rng.integers(len(ENTITIES)))]
            forms = [f for f in group.forms[lang] if (" " not in f) == single]
            if forms:
                return forms[int(self.rng.integers(len(forms)))], group.name

    def word(self, lang: str, low: int, high: int) -> str:
        """A general word of frequency rank ``low``–``high`` (0 is the most frequent)."""
        vocab = self.vocabularies[lang]
        return vocab.general[int(self.rng.integers(low, min(high, vocab.real_words)))]

    def mid(self, lang: str) -> str:
        return self.word(lang, 300, 5_000)

    def make(self, kind: str, index: int) -> BenchQuery:
        return getattr(self, f"_{kind}")(self.lang(), index)

    def _word(self, lang: str, i: int) -> BenchQuery:
        if i % 9 < 6:
            text, name = self.entity(lang)
            return BenchQuery("word", text, f"entity {name} ({lang})")
        if i % 9 < 8:
            return BenchQuery("word", self.mid(lang), f"mid-frequency word ({lang})")
        return BenchQuery("word", self.word(lang, 10, 60), f"common word ({lang})")

    def _phrase(self, lang: str, i: int) -> BenchQuery:
        if i % 5 < 3:
            text, name = self.entity(lang, single=False)
            return BenchQuery("phrase", f'"{text}"', f"entity phrase {name} ({lang})")
        words = f"{self.word(lang, 20, 300)} {self.word(lang, 20, 300)}"
        return BenchQuery("phrase", f'"{words}"', f"two frequent words ({lang})")

    def _filtered(self, lang: str, i: int) -> BenchQuery:
        text, name = self.entity(lang) if i % 3 else (self.mid(lang), "mid-frequency word")
        origin = f"{name} ({lang})"
        which = ("lang", "kind", "source", "date")[i % 4]
        if which == "lang":
            return BenchQuery("filtered", text, origin, SearchFilters(lang=lang))
        if which == "kind":
            kind = ("page", "post", "transcript")[i % 3]
            return BenchQuery("filtered", text, origin, SearchFilters(kind=kind))
        if which == "source":
            kind = ("page", "post", "transcript")[i % 3]
            source = f"{SOURCE_PREFIX[kind]}-{lang}-{int(self.rng.integers(0, 8)):03d}"
            return BenchQuery("filtered", text, origin, SearchFilters(source=source))
        since = START + timedelta(days=int(self.rng.integers(0, SPAN_SECONDS // 86_400 - 90)))
        filters = SearchFilters(since=since, until=since + timedelta(days=90))
        sort: Sort = "newest" if i % 8 == 3 else "relevance"
        return BenchQuery("filtered", text, origin, filters, sort)

    def _prefix(self, lang: str, i: int) -> BenchQuery:
        if i % 6 < 3:
            text, name = self.entity(lang)
            while len(text) < 6:
                text, name = self.entity(lang)
            cut = max(4, len(text) - int(self.rng.integers(2, 5)))
            return BenchQuery("prefix", text[:cut].lower() + "*", f"entity {name} ({lang})")
        if i % 6 < 5:
            word = self.mid(lang)
            while len(word) < 6:
                word = self.mid(lang)
            return BenchQuery("prefix", word[:5] + "*", f"mid-frequency word ({lang})")
        word = self.word(lang, 10, 200)
        while len(word) < 4:
            word = self.word(lang, 10, 200)
        return BenchQuery("prefix", word[:3] + "*", f"3-letter prefix ({lang})")

    def _boolean(self, lang: str, i: int) -> BenchQuery:
        a, b, c = (self.entity(lang)[0] for _ in range(3))
        shape = i % 4
        if shape == 0:
            return BenchQuery("boolean", f"{a} {b}", f"two entities, AND ({lang})")
        if shape == 1:
            return BenchQuery("boolean", f"{a} OR {b}", f"entity OR entity ({lang})")
        if shape == 2:
            return BenchQuery("boolean", f"{a} NOT {b}", f"entity NOT entity ({lang})")
        return BenchQuery("boolean", f"({a} OR {b}) {c}", f"(A OR B) AND C ({lang})")


def build_queries(vocabularies: dict[str, Vocabulary], seed: int, total: int) -> list[BenchQuery]:
    """``total`` queries in the proportions of ``QUERY_MIX``, deterministic for a seed."""
    maker = QueryMaker(vocabularies, seed)
    scale = total / sum(n for _, n in QUERY_MIX)
    queries = []
    for kind, share in QUERY_MIX:
        queries += [maker.make(kind, i) for i in range(max(1, round(share * scale)))]
    return queries


def count_hits(connection: apsw.Connection, query: BenchQuery) -> int:
    """Every match of a query (``search`` returns one page), with its filters."""
    filters = query.filters
    sql = (
        "SELECT count(*) FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid"
        " WHERE documents_fts MATCH fts5_locale(?, ?)"
    )
    params: list[object] = [filters.lang, fts_expression(parse_query(query.text).root)]
    for column, value in (("kind", filters.kind), ("source", filters.source),
                          ("lang", filters.lang)):  # fmt: skip
        if value:
            sql += f" AND d.{column} = ?"
            params.append(value)
    for operator, bound in ((">=", filters.since), ("<=", filters.until)):
        if bound is not None:
            sql += f" AND d.captured_at {operator} ?"
            params.append(bound.isoformat())
    rows: list[Any] = connection.execute(sql, params).fetchall()
    return int(rows[0][0])


def counting_connection(path: Path, stemming: bool) -> apsw.Connection:
    connection = apsw.Connection(str(path))
    register(connection, WordForms(stemming=stemming))
    return connection


@dataclass
class QueryTimings:
    """Wall-clock milliseconds per query per index (one list per query, one figure per
    pass) and the CPU milliseconds they add up to: wall far above CPU means other load."""

    wall_ms: dict[str, list[list[float]]]
    cpu_ms: dict[str, float]


def time_queries(paths: dict[str, Path], queries: list[BenchQuery], passes: int) -> QueryTimings:
    """Each query on every index before the next query starts; a warm-up pass first."""
    backends = {mode: SqliteFtsBackend(paths[mode], MODES[mode]) for mode in paths}
    requests = [q.request() for q in queries]
    timings = QueryTimings({m: [[] for _ in queries] for m in paths}, dict.fromkeys(paths, 0.0))
    try:
        for round_ in range(passes + 1):
            for i, request in enumerate(requests):
                for mode, backend in backends.items():
                    started, cpu = time.perf_counter(), time.process_time()
                    backend.search(request)
                    if round_:
                        timings.wall_ms[mode][i].append((time.perf_counter() - started) * 1000)
                        timings.cpu_ms[mode] += (time.process_time() - cpu) * 1000
    finally:
        for backend in backends.values():
            backend.close()
    return timings


def latency_stats(values: list[float]) -> dict[str, float]:
    array = np.asarray(values)
    return {
        "n": int(array.size),
        "p50": round(float(np.percentile(array, 50)), 2),
        "p95": round(float(np.percentile(array, 95)), 2),
        "p99": round(float(np.percentile(array, 99)), 2),
        "max": round(float(array.max()), 2),
    }


def latency_report(
    queries: list[BenchQuery], timings: dict[str, list[list[float]]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per index: the statistics over all queries, then per query type."""
    report: dict[str, dict[str, dict[str, float]]] = {}
    for mode, per_query in timings.items():
        report[mode] = {"all": latency_stats([t for ts in per_query for t in ts])}
        for kind, _ in QUERY_MIX:
            values = [t for q, ts in zip(queries, per_query, strict=True) if q.kind == kind
                      for t in ts]  # fmt: skip
            report[mode][kind] = latency_stats(values)
    return report


def hit_counts(paths: dict[str, Path], queries: list[BenchQuery]) -> dict[str, list[int]]:
    counts: dict[str, list[int]] = {}
    for mode, path in paths.items():
        connection = counting_connection(path, MODES[mode])
        try:
            counts[mode] = [count_hits(connection, q) for q in queries]
        finally:
            connection.close()
    return counts


def index_code_digest() -> str:
    """SHA-256 over ``index/*.py``: which version of the search code was measured."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "index").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "sqlite": apsw.sqlite_lib_version(),
        "apsw": apsw.apsw_version(),
        "osint-archive": osint_archive_version(),
        "os": f"{os.uname().sysname} {os.uname().release}",
    }


def fmt_count(n: float) -> str:
    return f"{n:,.0f}".replace(",", " ")


def index_rows(runs: dict[str, IndexRun]) -> list[dict[str, Any]]:
    stem, plain = runs["stemming"], runs["plain"]
    return [
        {
            "metric": f"indexing rate, {fmt_count(stem.docs)} docs, stemming (docs/s)",
            "value": fmt_count(stem.docs_per_second),
            "reference": f"plain unicode61: {fmt_count(plain.docs_per_second)}",
            "target": f"≥ {fmt_count(TARGET_DOCS_PER_SECOND)}",
            "met": stem.docs_per_second >= TARGET_DOCS_PER_SECOND,
        },
        {
            "metric": "indexing rate per CPU-second, stemming (docs/s; other load excluded)",
            "value": fmt_count(stem.docs / stem.index_cpu_seconds),
            "reference": f"plain unicode61: {fmt_count(plain.docs / plain.index_cpu_seconds)}",
            "target": None,
        },
        {
            "metric": "indexing rate, stemming (words/s)",
            "value": fmt_count(stem.words / stem.index_seconds),
            "reference": f"plain unicode61: {fmt_count(plain.words / plain.index_seconds)}",
            "target": None,
        },
        {
            "metric": "time to index the corpus, stemming (s)",
            "value": f"{stem.index_seconds:.0f}",
            "reference": f"plain: {plain.index_seconds:.0f}; corpus generation (not counted):"
            f" {stem.generate_seconds:.0f}",
            "target": None,
        },
        {
            "metric": "index on disk after checkpoint, stemming (GiB)",
            "value": f"{stem.disk_bytes / 2**30:.2f}",
            "reference": f"plain: {plain.disk_bytes / 2**30:.2f}; text indexed: "
            f"{stem.text_bytes / 2**30:.2f}",
            "target": None,
        },
        {
            "metric": "peak RSS while indexing, stemming (MiB)",
            "value": f"{stem.peak_rss_mib:.0f}",
            "reference": f"plain: {plain.peak_rss_mib:.0f}; generator alone: "
            f"{stem.rss_before_index_mib:.0f}",
            "target": None,
        },
    ]


def latency_rows(latency: dict[str, dict[str, dict[str, float]]]) -> list[dict[str, Any]]:
    stem, plain = latency["stemming"], latency["plain"]
    rows: list[dict[str, Any]] = [
        {
            "metric": f"query latency p95, {stem['all']['n']} queries, stemming (ms)",
            "value": f"{stem['all']['p95']:.1f}",
            "reference": f"plain: {plain['all']['p95']:.1f}",
            "target": f"≤ {TARGET_P95_MS:g}",
            "met": stem["all"]["p95"] <= TARGET_P95_MS,
        },
        {
            "metric": "query latency p50 / p99 / max, stemming (ms)",
            "value": " / ".join(f"{stem['all'][k]:.1f}" for k in ("p50", "p99", "max")),
            "reference": "plain: "
            + " / ".join(f"{plain['all'][k]:.1f}" for k in ("p50", "p99", "max")),
            "target": None,
        },
    ]
    for kind, _ in QUERY_MIX:
        rows.append(
            {
                "metric": f"p50 / p95 ms, {kind} queries ({stem[kind]['n']}), stemming",
                "value": f"{stem[kind]['p50']:.1f} / {stem[kind]['p95']:.1f}",
                "reference": f"plain: {plain[kind]['p50']:.1f} / {plain[kind]['p95']:.1f}",
                "target": None,
            }
        )
    return rows


def recall_rows(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "metric": f"hits for {sample['query']}, stemming",
            "value": fmt_count(sample["stemming"]),
            "reference": f"plain: {fmt_count(sample['plain'])}",
            "target": None,
        }
        for sample in samples
    ]


def build_result(
    spec: CorpusSpec,
    runs: dict[str, IndexRun],
    children: dict[str, dict[str, Any]],
    queries: list[BenchQuery],
    timings: QueryTimings,
    counts: dict[str, list[int]],
    samples: list[dict[str, Any]],
    seconds: float,
) -> dict[str, Any]:
    """The JSON document: report rows, targets, machine info and every raw figure."""
    latency = latency_report(queries, timings.wall_ms)
    mix = ", ".join(f"{kind} {n}" for kind, n in spec.describe()["kinds"].items())
    return {
        "title": "Search: SQLite FTS5 index with stemming vs plain `unicode61`",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "notes": (
            f"Synthetic corpus of {fmt_count(spec.docs)} documents ({mix}; ru 45 %, be 20 %, "
            f"uk 15 %, en 20 %; {runs['stemming'].words / spec.docs:.0f} words per document "
            "on average), Zipf-drawn inflected words from real ru/be/uk/en sentences plus "
            "planted entities (`bench/search_corpus.py`). Each index built in its own process "
            f"in batches of {spec.batch_size}, timed inside `index_documents` only. "
            f"{len(queries)} queries (words, phrases, filters, prefixes, AND/OR/NOT) with "
            f"limit {LIMIT}, run on both indexes after a warm-up pass, page cache warm. "
            f"Whole run {seconds / 60:.0f} min."
        ),
        "rows": index_rows(runs) + latency_rows(latency) + recall_rows(samples),
        "corpus": spec.describe(),
        "indexing": {mode: run.summary() for mode, run in runs.items()},
        "indexing_children": children,
        "latency_ms": latency,
        "latency_wall_over_cpu": {
            mode: round(sum(map(sum, timings.wall_ms[mode])) / cpu, 3)
            for mode, cpu in timings.cpu_ms.items()
            if cpu
        },
        "recall_samples": samples,
        "queries": [
            {
                "type": q.kind,
                "query": q.label(),
                "origin": q.origin,
                "hits": {mode: counts[mode][i] for mode in counts},
                "ms": {m: [round(t, 2) for t in timings.wall_ms[m][i]] for m in timings.wall_ms},
            }
            for i, q in enumerate(queries)
        ],
        "targets": {"docs_per_second": TARGET_DOCS_PER_SECOND, "p95_ms": TARGET_P95_MS},
        "run_seconds": round(seconds, 1),
        # Other work on the machine shows here (2 cores: a load above 1 means contention).
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "index_code_sha256": index_code_digest(),
    }


def recall_samples(paths: dict[str, Path]) -> list[dict[str, Any]]:
    queries = [BenchQuery("sample", text, "recall sample") for text in RECALL_SAMPLES]
    counts = hit_counts(paths, queries)
    return [
        {"query": q.text} | {mode: counts[mode][i] for mode in counts}
        for i, q in enumerate(queries)
    ]


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started = time.perf_counter()
    spec = CorpusSpec(args.docs, args.seed, args.batch_size)
    print(f"corpus: {spec.docs} documents in {spec.batches} batches; indexes in {workdir}")
    paths = {mode: workdir / f"{mode}.sqlite" for mode in MODES}
    runs: dict[str, IndexRun] = {}
    children: dict[str, dict[str, Any]] = {}
    for mode, stemming in MODES.items():
        runs[mode], children[mode] = index_in_child(
            spec, paths[mode], stemming, workdir, args.timeout
        )
        print(
            f"{mode}: {runs[mode].docs} docs in {runs[mode].index_seconds:.1f} s = "
            f"{runs[mode].docs_per_second:.0f} docs/s; {runs[mode].disk_bytes / 2**20:.0f} MiB",
            flush=True,
        )
    queries = build_queries(build_vocabularies(args.seed), args.seed, args.queries)
    timings = time_queries(paths, queries, args.passes)
    counts = hit_counts(paths, queries)
    samples = recall_samples(paths)
    seconds = time.perf_counter() - started
    return build_result(spec, runs, children, queries, timings, counts, samples, seconds)


def index_only(args: argparse.Namespace) -> int:
    """The child's job: build one index and print its figures as the last line."""
    spec = CorpusSpec(args.docs, args.seed, args.batch_size)
    run = build_index(spec, args.index_only, MODES[args.mode])
    print(json.dumps(run.summary()), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DOCS} documents")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--passes", type=int, default=1, help="timed passes after warm-up")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=2_000)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"default {RESULT} ({QUICK_RESULT}"
        " with --quick, so a smoke check never replaces the real figures)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="where the indexes are built")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per index")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument("--index-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=tuple(MODES), default="stemming", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.index_only:
        return index_only(args)
    if args.quick:
        args.docs = QUICK_DOCS
    args.out = args.out or (QUICK_RESULT if args.quick else RESULT)
    return run_benchmark("search", args, benchmark, scratch_parent=args.dir)


if __name__ == "__main__":
    sys.exit(main())
