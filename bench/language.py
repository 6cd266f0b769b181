"""Language identification benchmark: `index.language.LanguageDetector` against plain langdetect.

    python -m bench.language [--rounds 3] [--data bench/data/langid_sentences.jsonl]
                             [--out bench/results/language.json] [--keep]

The reference is langdetect 1.0.9 as an archive would use it out of the box:
``DetectorFactory.seed = 0`` and ``detect(text)``. For context, lingua-language-detector alone
(restricted to ru, be, uk and en) runs beside them, and the share our orthographic step settles
on its own is read from the ``method`` of our answers.

Steps, all in one run on the same machine:
1. read the held-out ``test`` split of ``bench/data/langid_sentences.jsonl`` (600 UI sentences
   each of ru, be, uk and en, parallel) and build 200 "paragraphs" per language, each five
   consecutive test sentences of that language (windows start three sentences apart and wrap
   around, so a sentence is in one or two paragraphs);
2. measure each contender's model load in a fresh child process: import, construction and the
   first calls on dev sentences, less the same calls once warm; and the memory that adds;
3. warm each contender up on dev sentences, then ``--rounds`` rounds, each timing every
   contender in turn (the order rotates each round) over all sentences, then all paragraphs.
   Only the detection calls are inside the timer; the median round is kept, and a contender
   must give the same answers in every round;
4. report per language the recall, the share answered ``und`` and what the language was
   mistaken for; macro accuracy; throughput; and how our detector decided, per language.
Writes the figures as JSON (the ``bench/report.py`` shape plus per-language detail) and prints
the tables.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.crawl import cpu_model, osint_archive_version
from bench.harness import BenchError, run_benchmark
from bench.report import cell

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data" / "langid_sentences.jsonl"
LANGUAGES = ("ru", "be", "uk", "en")
UNDETERMINED = "und"
TARGET_RECALL = 0.95
PARAGRAPHS_PER_LANGUAGE = 200
SENTENCES_PER_PARAGRAPH = 5
WARMUP_PER_LANGUAGE = 25  # dev sentences; enough to reach every model our detector loads
MAX_ERRORS_SHOWN = 30
METHODS = ("orthography", "lingua", "langdetect", "too-short")

# A contender answers (language code or "und", how it decided).
Detect = Callable[[str], tuple[str, str]]
Labelled = list[tuple[str, str]]  # (gold language, text)


def ours() -> Detect:
    """`index.language.LanguageDetector`, as the index uses it."""
    from index.language import LanguageDetector

    detector = LanguageDetector()

    def call(text: str) -> tuple[str, str]:
        guess = detector.detect(text)
        return guess.lang, guess.method

    return call


def langdetect_reference() -> Detect:
    """Plain langdetect, seeded so that the same text always gets the same answer."""
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = 0

    def call(text: str) -> tuple[str, str]:
        try:
            return detect(text), "langdetect"
        except LangDetectException:  # no letters it knows: what an archive would store as und
            return UNDETERMINED, "langdetect"

    return call


def lingua_four() -> Detect:
    """lingua alone, told that the text is Russian, Belarusian, Ukrainian or English."""
    from lingua import Language, LanguageDetectorBuilder

    detector = LanguageDetectorBuilder.from_languages(
        Language.RUSSIAN, Language.BELARUSIAN, Language.UKRAINIAN, Language.ENGLISH
    ).build()

    def call(text: str) -> tuple[str, str]:
        language = detector.detect_language_of(text)
        if language is None:
            return UNDETERMINED, "lingua"
        return language.iso_code_639_1.name.lower(), "lingua"

    return call


CONTENDERS: dict[str, Callable[[], Detect]] = {
    "ours": ours,
    "langdetect": langdetect_reference,
    "lingua": lingua_four,
}
LABELS = {
    "ours": "ours (`LanguageDetector`)",
    "langdetect": "langdetect 1.0.9 (reference)",
    "lingua": "lingua alone, ru/be/uk/en",
}

LOAD_CHILD = r"""
import json, sys, time
from bench.language import CONTENDERS

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024
texts = json.loads(sys.stdin.read())
before = status("VmRSS")
started = time.perf_counter()
detect = CONTENDERS[sys.argv[1]]()
built = time.perf_counter()
for text in texts:
    detect(text)
first = time.perf_counter()
for text in texts:
    detect(text)
warm = time.perf_counter()
print(json.dumps({"build_s": built - started, "first_calls_s": first - built,
                  "warm_calls_s": warm - first,
                  "load_s": (built - started) + (first - built) - (warm - first),
                  "added_rss_mib": status("VmHWM") - before}))
"""


def read_split(path: Path, split: str) -> Labelled:
    """The (language, text) pairs of one split, in file order."""
    if not path.exists():
        raise BenchError(f"{path} missing: run `python -m bench.langid_corpus` to build it")
    pairs = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
                if record["split"] == split:
                    pairs.append((str(record["lang"]), str(record["text"])))
            except (json.JSONDecodeError, KeyError) as error:
                raise BenchError(f"{path}:{number}: not a corpus record ({error})") from error
    found = {lang for lang, _ in pairs}
    if not set(LANGUAGES) <= found:
        raise BenchError(f"{path}: split {split!r} lacks {sorted(set(LANGUAGES) - found)}")
    return pairs


def make_paragraphs(sentences: Labelled) -> Labelled:
    """``PARAGRAPHS_PER_LANGUAGE`` texts per language, each five consecutive sentences of it."""
    paragraphs = []
    for lang in LANGUAGES:
        texts = [text for gold, text in sentences if gold == lang]
        stride = max(1, len(texts) // PARAGRAPHS_PER_LANGUAGE)
        for index in range(PARAGRAPHS_PER_LANGUAGE):
            start = index * stride
            window = [texts[(start + k) % len(texts)] for k in range(SENTENCES_PER_PARAGRAPH)]
            paragraphs.append((lang, " ".join(window)))
    return paragraphs


def first_per_language(pairs: Labelled, count: int) -> list[str]:
    """The first ``count`` texts of each language, languages in ``LANGUAGES`` order."""
    return [text for lang in LANGUAGES for text in [t for g, t in pairs if g == lang][:count]]


def measure_load(name: str, texts: list[str], workdir: Path) -> dict[str, float]:
    """Model load of one contender, in a fresh process (nothing loaded by the others)."""
    log = workdir / f"load-{name}.log"
    done = subprocess.run(
        [sys.executable, "-c", LOAD_CHILD, name],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    log.write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0 or not done.stdout.strip():
        raise BenchError(f"load measurement of {name} failed (exit {done.returncode}); see {log}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def timed_pass(detect: Detect, texts: list[str]) -> tuple[float, list[tuple[str, str]]]:
    """Seconds for one detection call per text, and the answers."""
    gc.collect()
    started = time.perf_counter()
    answers = [detect(text) for text in texts]
    return time.perf_counter() - started, answers


def run_rounds(
    detectors: dict[str, Detect], sets: dict[str, Labelled], rounds: int
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{set: {contender: {"seconds": [...], "answers": [...]}}}``, contenders in turns."""
    names = list(detectors)
    runs: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in sets}
    for number in range(rounds):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            for set_name, pairs in sets.items():
                seconds, answers = timed_pass(detectors[name], [text for _, text in pairs])
                run = runs[set_name].setdefault(name, {"seconds": [], "answers": answers})
                if run["answers"] != answers:
                    raise BenchError(f"{name} answered differently in round {number + 1}")
                run["seconds"].append(seconds)
                print(
                    f"round {number + 1}: {name} on {set_name}: {len(pairs) / seconds:.0f} texts/s",
                    file=sys.stderr,
                    flush=True,
                )
    return runs


def score(pairs: Labelled, answers: list[tuple[str, str]]) -> dict[str, Any]:
    """Per language: recall, share ``und``, top three confusions, answers by method."""
    per_language: dict[str, Any] = {}
    for lang in LANGUAGES:
        said = [answer for (gold, _), answer in zip(pairs, answers, strict=True) if gold == lang]
        wrong = Counter(code for code, _ in said if code not in (lang, UNDETERMINED))
        methods: dict[str, dict[str, int]] = {}
        for code, method in said:
            tally = methods.setdefault(method, {"n": 0, "correct": 0})
            tally["n"] += 1
            tally["correct"] += code == lang
        per_language[lang] = {
            "n": len(said),
            "recall": sum(code == lang for code, _ in said) / len(said),
            "und_share": sum(code == UNDETERMINED for code, _ in said) / len(said),
            "mistaken_for": wrong.most_common(3),
            "methods": methods,
        }
    recalls = {lang: figures["recall"] for lang, figures in per_language.items()}
    lowest = min(recalls, key=recalls.__getitem__)
    return {
        "per_language": per_language,
        "macro_accuracy": statistics.mean(recalls.values()),
        "lowest": {"lang": lowest, "recall": recalls[lowest]},
    }


def orthography_alone(pairs: Labelled, answers: list[tuple[str, str]]) -> dict[str, Any]:
    """What our alphabet step settles by itself, on the Cyrillic languages, and how well."""
    cyrillic = [(g, a) for (g, _), a in zip(pairs, answers, strict=True) if g != "en"]
    decided = [(gold, code) for gold, (code, method) in cyrillic if method == "orthography"]
    return {
        "cyrillic_texts": len(cyrillic),
        "decided": len(decided),
        "decided_share": len(decided) / len(cyrillic),
        "accuracy": sum(g == c for g, c in decided) / len(decided) if decided else None,
    }


def summarise(pairs: Labelled, runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Scores and median throughput of every contender on one text set."""
    summary = {}
    for name, run in runs.items():
        median = statistics.median(run["seconds"])
        summary[name] = score(pairs, run["answers"]) | {
            "seconds": [round(s, 4) for s in run["seconds"]],
            "median_seconds": round(median, 4),
            "texts_per_second": len(pairs) / median,
        }
    return summary


def our_errors(pairs: Labelled, answers: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every text we got wrong, with our answer, method and confidence."""
    from index.language import LanguageDetector

    detector = LanguageDetector()
    errors = []
    for (gold, text), (code, _) in zip(pairs, answers, strict=True):
        if code != gold:
            guess = detector.detect(text)
            errors.append(
                {
                    "lang": gold,
                    "said": guess.lang,
                    "method": guess.method,
                    "confidence": round(guess.confidence, 3),
                    "text": text,
                }
            )
    return errors


def percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f} %"


def confusions(figures: dict[str, Any]) -> str:
    return ", ".join(f"{code} {count}" for code, count in figures["mistaken_for"]) or "—"


def recall_with_confusions(figures: dict[str, Any]) -> str:
    text = percent(figures["recall"])
    if figures["mistaken_for"]:
        text += f" (→ {confusions(figures)})"
    if figures["und_share"]:
        text += f", und {percent(figures['und_share'])}"
    return text


def markdown(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = []
    for lang in LANGUAGES:
        for name, figures in summary.items():
            per = figures["per_language"][lang]
            recall, und = percent(per["recall"]), percent(per["und_share"])
            rows.append([lang, LABELS[name], recall, und, confusions(per)])
    for name, figures in summary.items():
        rows.append(["macro", LABELS[name], percent(figures["macro_accuracy"]), "", ""])
    return markdown(["language", "contender", "accuracy", "und", "mistaken for (top 3)"], rows)


def method_table(figures: dict[str, Any]) -> str:
    rows = []
    for lang in LANGUAGES:
        methods = figures["per_language"][lang]["methods"]
        row = [lang]
        for method in METHODS:
            tally = methods.get(method)
            row.append(
                f"{tally['n']} ({percent(tally['correct'] / tally['n'])} right)" if tally else ""
            )
        rows.append(row)
    return markdown(["language", *METHODS], rows)


def speed_table(sets: dict[str, dict[str, Any]], loads: dict[str, dict[str, float]]) -> str:
    rows = []
    for name in CONTENDERS:
        row = [LABELS[name]]
        for summary in sets.values():
            figures = summary[name]
            rounds = ", ".join(f"{s:.2f}" for s in figures["seconds"])
            row.append(f"{figures['texts_per_second']:.0f} ({rounds} s)")
        row += [f"{loads[name]['load_s']:.2f}", f"{loads[name]['added_rss_mib']:.0f}"]
        rows.append(row)
    header = ["contender", *(f"{s}: texts/s (rounds)" for s in sets), "model load (s)", "+MiB"]
    return markdown(header, rows)


def errors_table(errors: list[dict[str, Any]]) -> str:
    rows = [
        [e["lang"], e["said"], e["method"], f"{e['confidence']:.2f}", e["text"]]
        for e in errors[:MAX_ERRORS_SHOWN]
    ]
    return markdown(["language", "we said", "method", "confidence", "text"], rows)


def detail_tables(result: dict[str, Any]) -> str:
    """The per-language tables printed beside the README summary (not rendered there)."""
    sets = result["sets"]
    errors = result["errors_ours"]["sentences"]
    parts = []
    for set_name, summary in sets.items():
        n = next(iter(summary.values()))["per_language"]["ru"]["n"]
        parts += [f"#### Accuracy by language, test {set_name} ({n} per language)", ""]
        parts += [accuracy_table(summary), ""]
        parts += [f"#### How ours decided, test {set_name}", ""]
        parts += [method_table(summary["ours"]), ""]
    parts += ["#### Throughput (median of rounds) and model load", ""]
    parts += [speed_table(sets, result["model_load"]), ""]
    shown = min(len(errors), MAX_ERRORS_SHOWN)
    parts += [f"#### Our errors on test sentences ({shown} of {len(errors)} shown)", ""]
    parts += [errors_table(errors) if errors else "none", ""]
    return "\n".join(parts)


def summary_rows(
    sentences: dict[str, dict[str, Any]],
    paragraphs: dict[str, dict[str, Any]],
    orthography: dict[str, Any],
    loads: dict[str, dict[str, float]],
) -> list[dict[str, Any]]:
    """The README rows: targets on ours against langdetect, then context."""
    target = f"≥ {TARGET_RECALL * 100:g} %"
    rows = []
    for lang in LANGUAGES:
        ours_figures = sentences["ours"]["per_language"][lang]
        rows.append(
            {
                "metric": f"{lang} recall, test sentences (n = {ours_figures['n']})",
                "value": recall_with_confusions(ours_figures),
                "reference": "langdetect "
                + recall_with_confusions(sentences["langdetect"]["per_language"][lang]),
                "target": target,
                "met": ours_figures["recall"] >= TARGET_RECALL,
            }
        )
    for set_name, summary in (("sentences", sentences), ("paragraphs", paragraphs)):
        rows += set_rows(set_name, summary, target)
    lingua_sentences, lingua_paragraphs = sentences["lingua"], paragraphs["lingua"]
    rows += [
        {
            "metric": "context: lingua alone (ru/be/uk/en), macro accuracy sentences / paragraphs",
            "value": f"{percent(lingua_sentences['macro_accuracy'])} / "
            f"{percent(lingua_paragraphs['macro_accuracy'])}",
            "reference": f"lowest {lingua_sentences['lowest']['lang']} "
            f"{percent(lingua_sentences['lowest']['recall'])}; "
            f"{lingua_sentences['texts_per_second']:.0f} / "
            f"{lingua_paragraphs['texts_per_second']:.0f} texts/s",
            "target": None,
        },
        {
            "metric": "context: our orthographic step alone, share of ru/be/uk sentences decided",
            "value": percent(orthography["decided_share"]),
            "reference": f"{percent(orthography['accuracy'])} right on those",
            "target": None,
        },
        {
            "metric": "model load, fresh process (s; added memory)",
            "value": f"{loads['ours']['load_s']:.2f} s; +{loads['ours']['added_rss_mib']:.0f} MiB",
            "reference": f"langdetect {loads['langdetect']['load_s']:.2f} s; "
            f"+{loads['langdetect']['added_rss_mib']:.0f} MiB",
            "target": None,
        },
    ]
    return rows


def set_rows(set_name: str, summary: dict[str, Any], target: str) -> list[dict[str, Any]]:
    """Lowest recall, macro accuracy and throughput of ours against langdetect on one set."""
    mine, theirs = summary["ours"], summary["langdetect"]
    speed_ratio = mine["texts_per_second"] / theirs["texts_per_second"]
    return [
        {
            "metric": f"lowest language recall, test {set_name}",
            "value": f"{percent(mine['lowest']['recall'])} ({mine['lowest']['lang']})",
            "reference": f"langdetect {percent(theirs['lowest']['recall'])} "
            f"({theirs['lowest']['lang']})",
            "target": target,
            "met": mine["lowest"]["recall"] >= TARGET_RECALL,
        },
        {
            "metric": f"macro accuracy, test {set_name}",
            "value": percent(mine["macro_accuracy"]),
            "reference": f"langdetect {percent(theirs['macro_accuracy'])}",
            "target": None,
        },
        {
            "metric": f"throughput, test {set_name} (texts/s)",
            "value": f"{mine['texts_per_second']:.0f} ({speed_ratio:.1f}×)",
            "reference": f"langdetect {theirs['texts_per_second']:.0f}",
            "target": "≥ langdetect",
            "met": speed_ratio >= 1.0,
        },
    ]


def machine_info() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "langdetect": metadata.version("langdetect"),
        "lingua-language-detector": metadata.version("lingua-language-detector"),
        "osint-archive": osint_archive_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if args.rounds < 1:
        raise BenchError("--rounds must be at least 1")
    sentences = read_split(args.data, "test")
    warmup = first_per_language(read_split(args.data, "dev"), WARMUP_PER_LANGUAGE)
    sets = {"sentences": sentences, "paragraphs": make_paragraphs(sentences)}
    loads = {name: measure_load(name, warmup, workdir) for name in CONTENDERS}
    for name, load in loads.items():
        print(f"{name}: model load {load['load_s']:.2f} s", file=sys.stderr, flush=True)
    detectors = {name: factory() for name, factory in CONTENDERS.items()}
    for detect in detectors.values():
        for text in warmup:
            detect(text)
    runs = run_rounds(detectors, sets, args.rounds)
    summaries = {name: summarise(sets[name], runs[name]) for name in sets}
    ours_answers = {name: runs[name]["ours"]["answers"] for name in sets}
    result = build_result(
        summaries,
        orthography_alone(sentences, ours_answers["sentences"]),
        loads,
        {name: our_errors(sets[name], ours_answers[name]) for name in sets},
        args.rounds,
    )
    print(detail_tables(result))
    return result


def build_result(
    summaries: dict[str, dict[str, Any]],
    orthography: dict[str, Any],
    loads: dict[str, dict[str, float]],
    errors: dict[str, list[dict[str, Any]]],
    rounds: int,
) -> dict[str, Any]:
    """The JSON document: README rows, then every figure behind them."""
    sentences, paragraphs = summaries["sentences"], summaries["paragraphs"]
    n = sentences["ours"]["per_language"]["ru"]["n"]
    return {
        "title": "Language identification: `LanguageDetector` vs plain langdetect (ru/be/uk/en)",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "notes": (
            f"Held-out test split of bench/data/langid_sentences.jsonl: {n} parallel gettext UI "
            "sentences per language (short, technical: median about 50 characters), and "
            f"{PARAGRAPHS_PER_LANGUAGE} paragraphs per language of {SENTENCES_PER_PARAGRAPH} "
            "consecutive test sentences (overlapping windows). Recall per language; an `und` "
            "answer counts as wrong; arrows give what a language was mistaken for (top 3, "
            "counts). Reference: langdetect 1.0.9 out of the box (DetectorFactory.seed = 0, "
            "detect()); it has no Belarusian profile. Throughput: one thread, detection calls "
            f"only, median of {rounds} rounds with the contenders in turns, after a warm-up "
            "on dev sentences; model load measured separately in a fresh process."
        ),
        "rows": summary_rows(sentences, paragraphs, orthography, loads),
        "targets": {"recall_each_language": TARGET_RECALL, "throughput": "≥ langdetect"},
        "config": {
            "rounds": rounds,
            "warmup_dev_sentences_per_language": WARMUP_PER_LANGUAGE,
            "paragraphs_per_language": PARAGRAPHS_PER_LANGUAGE,
            "sentences_per_paragraph": SENTENCES_PER_PARAGRAPH,
        },
        "contenders": LABELS,
        "model_load": loads,
        "orthography_alone": orthography,
        "sets": summaries,
        "errors_ours": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.language", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median kept)")
    parser.add_argument("--data", type=Path, default=DATA, help="the sentence corpus (JSONL)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "language.json")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args(argv)
    return run_benchmark("language", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
