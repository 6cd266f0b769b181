"""Settings from the environment: where the archive lives and which backends serve it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archive.store import ObjectStore
from archive.timestamp_config import TimestampConfig, TimestampConfigError
from collectors.netguard import NetworkPolicy
from index.backend import IndexRebuild, SearchBackend

if TYPE_CHECKING:
    from index.es_backend import ElasticsearchBackend

INDEX_BACKENDS = ("sqlite", "elasticsearch")


class SettingsError(Exception):
    """An environment variable is missing or invalid."""


def _check_elasticsearch(environ: Mapping[str, str]) -> None:
    from index.es_config import EsConfig, EsConfigError

    try:
        EsConfig.from_env(environ)
    except EsConfigError as err:
        raise SettingsError(str(err)) from err


@dataclass(frozen=True)
class Settings:
    home: Path
    config_path: Path
    network: NetworkPolicy
    store_backend: str
    user_agent: str
    environ: Mapping[str, str]
    timestamps: TimestampConfig = field(default_factory=TimestampConfig)
    whisper_model: str = "base"
    whisper_device: str = "auto"
    transcribe_in_run: bool = True
    index_backend: str = "sqlite"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """``OSINT_ARCHIVE_HOME``, ``OSINT_ARCHIVE_CONFIG``, ``OSINT_ARCHIVE_STORE`` (local|s3),
        ``OSINT_ARCHIVE_USER_AGENT``, network policy and S3 variables; speech recognition:
        ``OSINT_ARCHIVE_WHISPER_MODEL`` (a bundled name or a model directory, default
        ``base``), ``OSINT_ARCHIVE_WHISPER_DEVICE`` (auto|cpu|cuda) and
        ``OSINT_ARCHIVE_TRANSCRIBE=0`` to leave transcription to ``osint-archive transcribe``;
        search: ``OSINT_ARCHIVE_INDEX`` (sqlite|elasticsearch) and the ``OSINT_ARCHIVE_ES_*``
        variables."""
        backend = environ.get("OSINT_ARCHIVE_STORE", "local").strip().lower()
        try:
            timestamps = TimestampConfig.from_env(environ)
        except TimestampConfigError as err:
            raise SettingsError(str(err)) from err
        if backend not in ("local", "s3"):
            raise SettingsError(f"OSINT_ARCHIVE_STORE must be 'local' or 's3', not {backend!r}")
        device = environ.get("OSINT_ARCHIVE_WHISPER_DEVICE", "auto").strip().lower()
        if device not in ("auto", "cpu", "cuda"):
            raise SettingsError(
                f"OSINT_ARCHIVE_WHISPER_DEVICE must be 'auto', 'cpu' or 'cuda', not {device!r}"
            )
        index_backend = environ.get("OSINT_ARCHIVE_INDEX", "sqlite").strip().lower()
        if index_backend not in INDEX_BACKENDS:
            raise SettingsError(
                f"OSINT_ARCHIVE_INDEX must be one of {', '.join(INDEX_BACKENDS)}, "
                f"not {index_backend!r}"
            )
        if index_backend == "elasticsearch":
            _check_elasticsearch(environ)
        transcribe = environ.get("OSINT_ARCHIVE_TRANSCRIBE", "1").strip().lower()
        if transcribe not in ("0", "1", "false", "true", "no", "yes"):
            raise SettingsError(f"OSINT_ARCHIVE_TRANSCRIBE must be 0 or 1, not {transcribe!r}")
        return cls(
            home=Path(environ.get("OSINT_ARCHIVE_HOME", "data")),
            config_path=Path(environ.get("OSINT_ARCHIVE_CONFIG", "config/sources.yaml")),
            network=NetworkPolicy.from_env(environ),
            store_backend=backend,
            user_agent=environ.get(
                "OSINT_ARCHIVE_USER_AGENT",
                "osint-archive/0.1 (+evidence preservation; contact the operator)",
            ),
            environ=dict(environ),
            timestamps=timestamps,
            whisper_model=environ.get("OSINT_ARCHIVE_WHISPER_MODEL", "base").strip() or "base",
            whisper_device=device,
            transcribe_in_run=transcribe in ("1", "true", "yes"),
            index_backend=index_backend,
        )

    def open_store(self) -> ObjectStore:
        """The configured object store (local directory by default)."""
        if self.store_backend == "s3":
            from archive.s3_store import S3Config, S3Store

            try:
                return S3Store(S3Config.from_env(self.environ))
            except ValueError as err:
                raise SettingsError(str(err)) from err
        from archive.local_store import LocalStore

        return LocalStore(self.home / "archive")

    @property
    def index_directory(self) -> Path:
        return self.home / "index"

    def _elasticsearch(self) -> ElasticsearchBackend:
        from index.es_backend import ElasticsearchBackend
        from index.es_config import EsConfig, EsConfigError

        try:
            backend = ElasticsearchBackend(EsConfig.from_env(self.environ))
        except EsConfigError as err:
            raise SettingsError(str(err)) from err
        backend.ensure_index()
        return backend

    def open_index(self) -> SearchBackend:
        """The live search index: SQLite FTS5 under the home directory by default, or the
        Elasticsearch alias. Raises ``IndexUnavailableError`` when it must be rebuilt with
        ``osint-archive reindex`` or the cluster cannot be used."""
        if self.index_backend == "elasticsearch":
            return self._elasticsearch()
        from index.sqlite_fts import SqliteFtsBackend
        from index.sqlite_generations import live_index_path

        return SqliteFtsBackend(live_index_path(self.index_directory))

    def begin_index_rebuild(self) -> IndexRebuild:
        """A fresh index to fill from the archive and then swap in for the live one."""
        if self.index_backend == "elasticsearch":
            return self._elasticsearch().begin_rebuild()
        from index.sqlite_generations import SqliteRebuild

        return SqliteRebuild(self.index_directory)
