"""What every request of the web UI shares: the archive, the index, accounts, the catalogue,
the queue of capture jobs."""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from archive.store import ObjectStore
from index.backend import SearchBackend
from web.accounts import Accounts
from web.capture_queue import CaptureQueue
from web.catalog import CaptureCatalog
from web.config import WebSettings
from web.custody_view import CustodyView
from web.evidence import WarcReader
from web.session_accesses import SessionAccesses
from web.throttle import LoginThrottle


class IndexConnections:
    """One search-index connection per server thread (SQLite connections are not shared
    across threads); reopened when ``osint-archive reindex`` swapped in a new generation."""

    def __init__(self, settings: WebSettings) -> None:
        self.settings = settings
        self._local = threading.local()

    def _live_path(self) -> Path | None:
        if self.settings.archive.index_backend != "sqlite":
            return None
        from index.sqlite_generations import live_index_path

        return live_index_path(self.settings.archive.index_directory)

    def get(self) -> SearchBackend:
        live = self._live_path()
        backend: SearchBackend | None = getattr(self._local, "backend", None)
        if backend is not None and getattr(self._local, "path", None) != live:
            backend.close()
            backend = None
        if backend is None:
            backend = self.settings.archive.open_index()
            self._local.backend, self._local.path = backend, live
        return backend


def replay_key(path: Path) -> bytes:
    """The key that signs replay links, shared by the server's processes: made once (0600)
    and published whole (a hard link), so concurrent starts agree on one key. Delete the
    file to invalidate every replay link."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(secrets.token_bytes(32))
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
        temp.unlink()
    return path.read_bytes()


@dataclass
class AppState:
    settings: WebSettings
    store: ObjectStore
    accounts: Accounts
    catalog: CaptureCatalog
    custody: CustodyView
    warcs: WarcReader
    throttle: LoginThrottle
    accesses: SessionAccesses
    jobs: CaptureQueue
    index: IndexConnections
    replay_key: bytes
    search_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
    )
    login_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(2)
    )

    @classmethod
    def open(cls, settings: WebSettings) -> AppState:
        store = settings.archive.open_store()
        return cls(
            settings=settings,
            store=store,
            accounts=Accounts(settings.directory / "accounts.sqlite"),
            catalog=CaptureCatalog(settings.directory / "catalog.sqlite", store),
            custody=CustodyView(store, settings.chain_recheck_seconds),
            warcs=WarcReader(store),
            throttle=LoginThrottle(
                settings.directory / "accounts.sqlite",
                settings.login_attempts,
                settings.login_window_seconds,
            ),
            accesses=SessionAccesses(settings.directory / "accounts.sqlite"),
            jobs=CaptureQueue(settings.directory / "capture_jobs.sqlite"),
            index=IndexConnections(settings),
            replay_key=replay_key(settings.directory / "replay.key"),
            login_slots=threading.BoundedSemaphore(settings.login_hashes),
        )
