"""``osint-archive transcribe``: speech recognition over archived media, with a progress bar in
audio minutes and the real-time factor."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from osint_archive.cli_common import (
    EXIT_FAILED,
    EXIT_USAGE,
    clock,
    err_console,
    load_config,
    load_settings,
    open_index,
)
from osint_archive.settings import Settings
from osint_archive.terminal_text import safe_for_terminal

if TYPE_CHECKING:  # numpy and the recogniser load only when something is transcribed
    from transcription.jobs import JobOutcome, MediaJob


class AudioProgress:
    """A rich progress bar over audio time: minutes done of the total, and the speed as a
    real-time factor (processing time ÷ audio time) and its inverse."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[minutes]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("transcribe", total=1, minutes="", speed="", start=False)
        self.done_seconds = 0.0  # audio of the files finished
        self.current = 0.0  # audio reached in the file being transcribed
        self.started = 0.0

    def begin(self, jobs: Sequence[MediaJob]) -> None:
        total = sum(j.media.duration_seconds or 0.0 for j in jobs if j.media.has_audio is not False)
        self.progress.start()
        self.progress.start_task(self.task)
        self.progress.update(self.task, total=max(total, 1.0), description=f"{len(jobs)} file(s)")
        self.started = time.perf_counter()
        self._show()

    def advance(self, job: MediaJob, seconds: float) -> None:
        self.current = seconds
        label = job.label if len(job.label) <= 40 else job.label[:39] + "…"
        self.progress.update(self.task, description=label)
        self._show()

    def done(self, outcome: JobOutcome) -> None:
        """A transcribed file's audio counts as done; a skipped or failed one leaves the total,
        so the speed shown is only ever the speed of real recognition."""
        if outcome.status == "transcribed":
            self.done_seconds += outcome.audio_seconds
        elif outcome.job.media.has_audio is not False:  # counted in the total by begin()
            expected = outcome.job.media.duration_seconds or 0.0
            task = self.progress.tasks[0]
            self.progress.update(self.task, total=max((task.total or 1.0) - expected, 1.0))
        self.current = 0.0
        self._show()

    def _show(self) -> None:
        audio = self.done_seconds + self.current
        task = self.progress.tasks[0]
        total = max(task.total or 1.0, audio)  # a file may run longer than its metadata said
        elapsed = time.perf_counter() - self.started
        speed = ""
        if audio > 0 and elapsed > 0:
            speed = f"RTF {elapsed / audio:.3f} ({audio / elapsed:.1f}× real time)"
        self.progress.update(
            self.task,
            completed=audio,
            total=total,
            minutes=f"{audio / 60:.1f}/{total / 60:.1f} audio min",
            speed=speed,
        )

    def stop(self) -> None:
        self.progress.stop()


def outcome_json(outcome: JobOutcome) -> dict[str, object]:
    transcript = outcome.transcript
    return {
        "media_sha256": outcome.job.media.sha256,
        "source": outcome.job.source_id,
        "capture_id": outcome.job.capture_id,
        "status": outcome.status,
        "reason": outcome.reason,
        "record": outcome.record_key,
        "language": transcript.language if transcript else None,
        "segments": len(transcript.segments) if transcript else None,
        "audio_seconds": round(outcome.audio_seconds, 3),
        "elapsed_seconds": round(outcome.elapsed_seconds, 3),
    }


def outcome_table(outcomes: Sequence[JobOutcome]) -> Table:
    table = Table(title="osint-archive transcribe")
    for column in ("media", "source", "status", "language", "audio", "segments", "speed", "note"):
        table.add_column(column, justify="right" if column in ("audio", "segments") else "left")
    for o in outcomes:
        if o.status == "exists":
            continue
        colour = {"transcribed": "green", "no_audio": "yellow", "failed": "red"}[o.status]
        transcript = o.transcript
        speed = f"{o.audio_seconds / o.elapsed_seconds:.1f}×" if o.elapsed_seconds else ""
        note = o.reason or (transcript.problem or "" if transcript else "")
        table.add_row(
            o.job.media.sha256[:12],
            Text(safe_for_terminal(o.job.source_id)),  # cells are markup unless given as Text
            f"[{colour}]{o.status}[/]",
            Text(safe_for_terminal(transcript.language or "–")) if transcript else "",
            clock(o.audio_seconds) if o.audio_seconds else "",
            str(len(transcript.segments)) if transcript else "",
            speed,
            Text(safe_for_terminal(note)),
        )
    return table


def source_languages(
    settings: Settings, config_path: Path | None
) -> tuple[dict[str, str | None], set[str]]:
    """Declared languages by source, and the sources that opted out of transcription; empty
    when there is no sources file (a worker that only transcribes need not have one)."""
    path = config_path or settings.config_path
    if not path.exists():
        return {}, set()
    config = load_config(path)
    languages = {s.id: s.language for s in config.sources}
    return languages, {s.id for s in config.sources if not s.transcribe}


@click.command("transcribe")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Sources file, for declared languages (default: $OSINT_ARCHIVE_CONFIG).",
)
@click.option("--source", "source_ids", multiple=True, help="Only this source id (repeatable).")
@click.option(
    "--media",
    "media",
    multiple=True,
    help="Only this media SHA-256, or a prefix of 8+ hex digits (repeatable).",
)
@click.option("--capture", "captures", multiple=True, help="Only this capture id (repeatable).")
@click.option(
    "--model",
    default=None,
    help="Bundled model name (base) or a faster-whisper model directory "
    "[default: $OSINT_ARCHIVE_WHISPER_MODEL or base].",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default=None,
    help="[default: $OSINT_ARCHIVE_WHISPER_DEVICE or auto]",
)
@click.option("--language", default=None, help="Force this language (ISO 639-1, e.g. ru, be).")
@click.option("--beam-size", type=click.IntRange(1, 20), default=None, help="[default: 5]")
@click.option("--batch-size", type=click.IntRange(1, 128), default=None, help="[default: 8]")
@click.option("--word-timestamps", is_flag=True, default=None, help="Keep each word's timing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per media file.")
def transcribe(
    config_path: Path | None,
    source_ids: tuple[str, ...],
    media: tuple[str, ...],
    captures: tuple[str, ...],
    model: str | None,
    device: str | None,
    language: str | None,
    beam_size: int | None,
    batch_size: int | None,
    word_timestamps: bool | None,
    as_json: bool,
) -> None:
    """Transcribe archived media that has no transcript by the model yet (all by default, or
    the chosen sources, media or captures). Exit 1 if any file failed."""
    from pydantic import ValidationError

    from osint_archive.transcribe_stage import (
        archived_media_jobs,
        recognition_options,
        transcribe_jobs,
    )
    from transcription.jobs import Transcriber
    from transcription.model_files import ModelError

    bad = [m for m in media if len(m) < 8 or any(c not in "0123456789abcdef" for c in m)]
    if bad:
        err_console.print(f"[red]error:[/] --media takes 8 or more lowercase hex digits: {bad[0]}")
        sys.exit(EXIT_USAGE)
    settings = load_settings()
    try:
        options = recognition_options(
            settings,
            model=model,
            device=device,
            language=language,
            beam_size=beam_size,
            batch_size=batch_size,
            word_timestamps=word_timestamps,
        )
    except ValidationError as err:
        err_console.print(f"[red]error:[/] {err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}")
        sys.exit(EXIT_USAGE)
    languages, opted_out = source_languages(settings, config_path)
    store = settings.open_store()
    jobs = archived_media_jobs(store, source_ids, media, captures, languages)
    if not source_ids:
        jobs = [j for j in jobs if j.source_id not in opted_out]
    console = Console(stderr=True)
    progress = AudioProgress(console)
    index = open_index(settings)
    try:
        outcomes = transcribe_jobs(Transcriber(store, options), jobs, index, progress=progress)
    except ModelError as err:
        progress.stop()
        err_console.print(f"[red]error:[/] {err}", markup=False, highlight=False)
        sys.exit(EXIT_USAGE)
    finally:
        index.close()
    progress.stop()
    if as_json:
        for outcome in outcomes:
            click.echo(json.dumps(outcome_json(outcome), ensure_ascii=False))
    console.print(outcome_table(outcomes))
    existing = sum(o.status == "exists" for o in outcomes)
    console.print(
        f"{len(outcomes)} media file(s): "
        + ", ".join(
            f"{sum(o.status == status for o in outcomes)} {status.replace('_', ' ')}"
            for status in ("transcribed", "no_audio", "failed")
        )
        + f", {existing} already transcribed"
    )
    sys.exit(EXIT_FAILED if any(o.status == "failed" for o in outcomes) else 0)
