"""Settings from the environment: where the archive lives and which backends serve it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archive.store import ObjectStore
from archive.timestamp_config import TimestampConfig, TimestampConfigError
from collectors.netguard import NetworkPolicy
from index.sqlite_fts import SqliteFtsBackend


class SettingsError(Exception):
    """An environment variable is missing or invalid."""


@dataclass(frozen=True)
class Settings:
    home: Path
    config_path: Path
    network: NetworkPolicy
    store_backend: str
    user_agent: str
    environ: Mapping[str, str]
    timestamps: TimestampConfig = field(default_factory=TimestampConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """``OSINT_ARCHIVE_HOME``, ``OSINT_ARCHIVE_CONFIG``, ``OSINT_ARCHIVE_STORE`` (local|s3),
        ``OSINT_ARCHIVE_USER_AGENT``, network policy and S3 variables."""
        backend = environ.get("OSINT_ARCHIVE_STORE", "local").strip().lower()
        try:
            timestamps = TimestampConfig.from_env(environ)
        except TimestampConfigError as err:
            raise SettingsError(str(err)) from err
        if backend not in ("local", "s3"):
            raise SettingsError(f"OSINT_ARCHIVE_STORE must be 'local' or 's3', not {backend!r}")
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

    def open_index(self) -> SqliteFtsBackend:
        """The search index (SQLite FTS5 under the home directory)."""
        return SqliteFtsBackend(self.home / "index" / "search.sqlite")
