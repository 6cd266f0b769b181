"""What every request of the web UI shares: the archive, the index, accounts, the catalogue."""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from archive.store import ObjectStore
from index.backend import SearchBackend
from web.accounts import Accounts
from web.catalog import CaptureCatalog
from web.config import WebSettings
from web.custody_view import CustodyView
from web.evidence import WarcReader
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


@dataclass
class AppState:
    settings: WebSettings
    store: ObjectStore
    accounts: Accounts
    catalog: CaptureCatalog
    custody: CustodyView
    warcs: WarcReader
    throttle: LoginThrottle
    index: IndexConnections
    search_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(max(2, os.cpu_count() or 2))
    )
    # Signs replay links; a new one each start, so a replay link dies with the server.
    replay_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))

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
            throttle=LoginThrottle(settings.login_attempts, settings.login_window_seconds),
            index=IndexConnections(settings),
        )
