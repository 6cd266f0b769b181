"""Object keys of the archive layout, identical on every storage backend."""

from __future__ import annotations

import re
from datetime import datetime

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
EVIDENCE_PREFIXES = ("objects/", "captures/", "custody/", "transcripts/", "anchors/")
STATE_PREFIX = "state/"


def payload_key(sha256_hex: str) -> str:
    """Content-addressed key of an immutable payload: ``objects/sha256/ab/cd/<64 hex>``."""
    if not _SHA256_HEX.match(sha256_hex):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256_hex!r}")
    return f"objects/sha256/{sha256_hex[:2]}/{sha256_hex[2:4]}/{sha256_hex}"


def sha256_of_payload_key(key: str) -> str | None:
    """The SHA-256 a payload key names, or None when the key is not a payload key."""
    parts = key.split("/")
    if len(parts) == 5 and parts[:2] == ["objects", "sha256"] and _SHA256_HEX.match(parts[4]):
        return parts[4]
    return None


def manifest_key(source_id: str, day: datetime, capture_id: str) -> str:
    """Key of a capture manifest: ``captures/<source>/<YYYY>/<MM>/<DD>/<capture id>.json``."""
    return f"captures/{source_id}/{day:%Y/%m/%d}/{capture_id}.json"


def transcript_key(media_sha256: str, model_id: str) -> str:
    """Key of the record linking a media file to its transcript by one model:
    ``transcripts/<media sha256>/<model id>.json`` (found from the media's hash alone)."""
    if not _SHA256_HEX.match(media_sha256):
        raise ValueError(f"not a lowercase hex SHA-256: {media_sha256!r}")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", model_id):
        raise ValueError(f"not a key-safe model id: {model_id!r}")
    return f"transcripts/{media_sha256}/{model_id}.json"


def is_evidence_key(key: str) -> bool:
    """True for keys that hold evidence (immutable), False for mutable state."""
    return key.startswith(EVIDENCE_PREFIXES)


def check_key(key: str) -> str:
    """Reject keys that could escape the store root or are not in the layout."""
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise ValueError(f"invalid object key: {key!r}")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key: {key!r}")
    if not (is_evidence_key(key) or key.startswith(STATE_PREFIX)):
        raise ValueError(f"object key outside the archive layout: {key!r}")
    return key
