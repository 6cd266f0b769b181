"""The thread of each server process that runs queued capture jobs (``web.capture_queue``).

One job at a time per process: ``capture_urls`` already captures a job's URLs side by side
within each host's politeness limits, and the server's other work must go on meanwhile. The
captures are those of ``osint-archive capture``: the ``adhoc`` source, a ``requested`` custody
event naming the signed-in user, ``via: web``, and the note.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from osint_archive.adhoc import CaptureOptions, CaptureResult
from osint_archive.adhoc.runner import capture_urls, configured_operator
from osint_archive.settings import Settings
from web.capture_queue import CaptureJob, CaptureQueue

log = logging.getLogger(__name__)


class CaptureWorker:
    """Claims queued jobs and captures them, in a daemon thread, until stopped."""

    def __init__(
        self,
        queue: CaptureQueue,
        settings: Settings,
        on_captured: Callable[[], object] = lambda: None,
        poll_seconds: float = 2.0,
        beat_seconds: float = 5.0,
        stale_seconds: float = 30.0,
    ) -> None:
        self.queue = queue
        self.settings = settings
        # Told before a capture's result is stored, so its page answers once the job page
        # links to it (the web catalogue learns of the new manifest).
        self.on_captured = on_captured
        self.poll_seconds = poll_seconds
        self.beat_seconds = beat_seconds
        self.stale_seconds = stale_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="capture-worker", daemon=True)
        self._thread.start()

    def stop(self, wait_seconds: float = 2.0) -> None:
        """Take no further job; a capture under way is left to finish or be run again."""
        self._stop.set()
        self.queue.added.set()
        if self._thread is not None:
            self._thread.join(timeout=wait_seconds)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                requeued = self.queue.requeue_stale(self.stale_seconds)
                if requeued:
                    log.info("capture jobs interrupted, queued again: %s", ", ".join(requeued))
                job = self.queue.claim(self.name)
            except Exception:  # the database may be busy a moment; the next look tries again
                log.exception("capture queue unavailable")
                job = None
            if job is not None:
                self.run(job)
                continue
            self.queue.added.wait(self.poll_seconds)
            self.queue.added.clear()

    def run(self, job: CaptureJob) -> None:
        """Capture the job's URLs that have no result yet; each result is stored when known."""
        wanted = [r for r in job.requests if r.url not in job.results]
        options = CaptureOptions(
            requested_by=job.requested_by, via="web", kind=job.kind, force=job.force
        )

        def on_result(result: CaptureResult) -> None:
            if result.capture_id is not None:
                try:
                    self.on_captured()
                except Exception:  # the capture page refreshes the catalogue itself on a miss
                    log.exception("catalogue refresh after a capture failed")
            self.queue.record(job.id, result)

        error = ""
        with self._alive(job):
            try:
                operator = configured_operator(self.settings)
                asyncio.run(
                    capture_urls(self.settings, wanted, options, operator, on_result=on_result)
                )
            except Exception as err:  # e.g. a bad setting: the job page says why
                log.exception("capture job %s failed", job.id)
                error = f"{type(err).__name__}: {err}"
        self.queue.finish(job.id, self.name, error)

    @contextmanager
    def _alive(self, job: CaptureJob) -> Iterator[None]:
        """Mark the job alive every ``beat_seconds`` while it runs, from a thread of its own:
        a long synchronous stage (speech recognition) must not look like a dead worker."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(self.beat_seconds):
                try:
                    self.queue.beat(job.id, self.name)
                except Exception:  # a missed beat is tolerated: several fit in the stale time
                    log.exception("capture job heartbeat failed")

        thread = threading.Thread(target=beat, name="capture-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()
