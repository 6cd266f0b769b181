"""The signer of exports for these settings: the team's key and the configured TSAs."""

from __future__ import annotations

from pathlib import Path

from archive.export_signing import PackageSigner
from archive.signing_key import default_key_path, load_or_create_key
from osint_archive.settings import Settings


def export_signer(settings: Settings, key_path: Path | None = None) -> PackageSigner:
    """Sign with the key at ``key_path`` (default ``OSINT_ARCHIVE_SIGNING_KEY``, else
    ``$OSINT_ARCHIVE_HOME/keys/export-signing-key.pem``), made there on first use; stamp the
    signature with the configured TSAs. Raises ``SigningKeyError`` with the fix."""
    path = key_path or default_key_path(settings.home, dict(settings.environ))
    # The local object store is the one the key must stay out of; an S3 bucket holds no files.
    archive_root = settings.home / "archive" if settings.store_backend == "local" else None
    key = load_or_create_key(path, archive_root=archive_root)
    return PackageSigner(key, settings.timestamps.authorities)
