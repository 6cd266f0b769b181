"""Speech-recognition benchmark: the pipeline against the bare faster-whisper call, on CPU.

    python -m bench.transcription [--minutes 5] [--repeats 2]
                                  [--out bench/results/transcription.json] [--keep]

Steps, all in one run on the same machine and the same model (Whisper base, int8, CPU):
1. synthesise at least ``--minutes`` of Russian speech with festival (the test sentences,
   repeated, 1.5 s apart) and mux it into an MP4 (``tests/media_fixtures``);
2. decode its audio once to 16 kHz samples in memory, for the bare calls;
3. ``--repeats`` rounds, each timing in turn: the bare unbatched ``WhisperModel.transcribe``
   at beam 5 and at beam 1 (the reference the issue names), the bare batched
   ``BatchedInferencePipeline.transcribe`` with the pipeline's options (beam 5, batch 8, word
   timestamps, VAD), and the pipeline itself: ``Transcriber.process`` from the MP4 stored in a
   fresh local archive to the stored transcript, WebVTT, record and custody event (media hash
   check, ffmpeg extraction, windows, recognition, guards, storage);
4. report medians as multiples of real time, the pipeline's overhead over the bare batched
   call on the same audio, and the word error rate of each.
Writes the figures as JSON (the ``bench/report.py`` shape) and prints a table.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.crawl import cpu_model, osint_archive_version
from bench.harness import BenchError, run_benchmark
from tests.media_fixtures import RUSSIAN_TEST_SENTENCES, make_placed_speech
from tests.speech_scoring import word_error_rate

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEED = 12.0  # × real time at beam 5 on CPU
TARGET_OVERHEAD = 0.10  # pipeline over the bare call on the same audio


def _speech(workdir: Path, minutes: float) -> Any:
    # About 4.5 s per sentence with its gap: repeat the set until the track is long enough.
    needed = int(minutes * 60 / 4.5) + 1
    sentences = [RUSSIAN_TEST_SENTENCES[i % len(RUSSIAN_TEST_SENTENCES)] for i in range(needed)]
    speech = make_placed_speech(workdir / "speech", "ru", sentences)
    if speech.duration_seconds < minutes * 60:
        raise BenchError(f"made only {speech.duration_seconds:.0f} s of speech")
    return speech


def _timed(call: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    text = call()
    return time.perf_counter() - started, text


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from faster_whisper import BatchedInferencePipeline, WhisperModel, __version__

    from archive.local_store import LocalStore
    from archive.manifest import MediaArtefact
    from archive.store import put_payload
    from transcription.audio import audio_windows, extract_audio
    from transcription.engine import RecognitionOptions
    from transcription.jobs import MediaJob, Transcriber
    from transcription.model_files import resolve_model
    from transcription.records import Transcript, TranscriptRecord

    speech = _speech(workdir, args.minutes)
    seconds = speech.duration_seconds
    print(f"speech: {seconds:.0f} s, {len(speech.sentences)} sentences", file=sys.stderr)
    model_files = resolve_model("base", workdir / "models")
    options = RecognitionOptions(device="cpu")
    model = WhisperModel(str(model_files.path), device="cpu", compute_type="int8")
    batched = BatchedInferencePipeline(model)
    extracted = extract_audio(speech.path, workdir / "audio.s16le")
    (window,) = list(audio_windows(extracted))
    audio = window.samples

    def bare(beam: int) -> Callable[[], str]:
        def call() -> str:
            segments, _ = model.transcribe(audio, beam_size=beam, condition_on_previous_text=False)
            return " ".join(s.text for s in segments)

        return call

    def bare_batched() -> str:
        segments, _ = batched.transcribe(
            audio, beam_size=5, batch_size=options.batch_size, word_timestamps=True
        )
        return " ".join(s.text for s in segments)

    transcriber = Transcriber(LocalStore(workdir / "warm"), options, workdir / "models")
    transcriber.recogniser  # noqa: B018 -- load the model before anything is timed
    rounds: dict[str, list[float]] = {
        name: [] for name in ("bare5", "bare1", "batched", "pipeline", "extract")
    }
    texts: dict[str, str] = {}
    for number in range(args.repeats):
        for name, call in (("bare5", bare(5)), ("bare1", bare(1)), ("batched", bare_batched)):
            elapsed, texts[name] = _timed(call)
            rounds[name].append(elapsed)
            print(f"round {number + 1}: {name} {seconds / elapsed:.1f}× real time", file=sys.stderr)
        store = LocalStore(workdir / f"archive-{number}")
        with speech.path.open("rb") as reader:
            stored = put_payload(store, reader)
        media = MediaArtefact(
            key=stored.key, sha256=stored.sha256, size=stored.size, url="bench", downloader="bench"
        )
        transcriber.store = store
        job = MediaJob("bench", "bench", "captures/bench/x.json", media)
        elapsed, _ = _timed(lambda: transcriber.process(job).status)  # noqa: B023
        link = TranscriptRecord.model_validate_json(store.read_bytes(transcriber.record_key(job)))
        texts["pipeline"] = Transcript.model_validate_json(
            store.read_bytes(link.transcript.key)
        ).text
        rounds["pipeline"].append(elapsed)
        print(f"round {number + 1}: pipeline {seconds / elapsed:.1f}× real time", file=sys.stderr)
        started = time.perf_counter()
        extract_audio(speech.path, workdir / "again.s16le")
        rounds["extract"].append(time.perf_counter() - started)

    median = {name: statistics.median(values) for name, values in rounds.items()}
    speed = {name: seconds / median[name] for name in ("bare5", "bare1", "batched", "pipeline")}
    wer = {name: word_error_rate(speech.text, text, "ru") for name, text in texts.items()}
    overhead = median["pipeline"] / median["batched"] - 1
    return {
        "title": "Transcription: pipeline vs the bare faster-whisper call (Whisper base, CPU int8)",
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "cores": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "faster-whisper": __version__,
            "osint-archive": osint_archive_version(),
            "os": f"{platform.system()} {platform.release()}",
        },
        "notes": (
            f"{seconds / 60:.1f} min of festival Russian speech ({len(speech.sentences)} "
            f"sentences, 1.5 s apart) in an H.264/AAC MP4; median of {args.repeats} rounds, "
            "contenders in turns, model loaded once beforehand. Bare calls get the samples "
            "already decoded; the pipeline starts from the MP4 in a local archive and ends "
            "with the transcript JSON, WebVTT, record and custody event stored. Batched = "
            "faster-whisper's BatchedInferencePipeline over voice-activity chunks (batch 8, "
            "word timestamps for sentence-level segments)."
        ),
        "rows": [
            {
                "metric": "bare unbatched `WhisperModel.transcribe`, beam 5 (× real time)",
                "value": f"{speed['bare5']:.1f}×",
                "reference": f"WER {wer['bare5']:.3f}",
                "target": None,
            },
            {
                "metric": "bare unbatched `WhisperModel.transcribe`, beam 1 (× real time)",
                "value": f"{speed['bare1']:.1f}×",
                "reference": f"WER {wer['bare1']:.3f}",
                "target": None,
            },
            {
                "metric": "bare batched `BatchedInferencePipeline.transcribe`, beam 5",
                "value": f"{speed['batched']:.1f}×",
                "reference": f"WER {wer['batched']:.3f}",
                "target": None,
            },
            {
                "metric": "pipeline, beam 5: stored MP4 → stored transcript (× real time)",
                "value": f"{speed['pipeline']:.1f}×",
                "reference": f"bare unbatched beam 5: {speed['bare5']:.1f}×",
                "target": f"≥ {TARGET_SPEED:g}×",
                "met": speed["pipeline"] >= TARGET_SPEED,
            },
            {
                "metric": "pipeline overhead over the bare batched call, same audio",
                "value": f"{overhead * 100:+.1f} %",
                "reference": (
                    f"{median['pipeline']:.2f} s vs {median['batched']:.2f} s; ffmpeg "
                    f"extraction alone {median['extract']:.2f} s"
                ),
                "target": f"≤ {TARGET_OVERHEAD * 100:g} %",
                "met": overhead <= TARGET_OVERHEAD,
            },
            {
                "metric": "pipeline word error rate (normalised; festival Russian)",
                "value": f"{wer['pipeline']:.3f}",
                "reference": f"bare unbatched beam 5: {wer['bare5']:.3f}",
                "target": "≤ 0.35",
                "met": wer["pipeline"] <= 0.35,
            },
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="Speech to transcribe.")
    parser.add_argument("--repeats", type=int, default=2, help="Rounds (the median is kept).")
    parser.add_argument(
        "--out", type=Path, default=REPO / "bench" / "results" / "transcription.json"
    )
    parser.add_argument("--keep", action="store_true", help="Keep the working directory.")
    args = parser.parse_args(argv)
    return run_benchmark("transcription", args, benchmark)


if __name__ == "__main__":
    sys.exit(main())
