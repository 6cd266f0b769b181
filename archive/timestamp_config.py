"""Timestamping settings: which RFC 3161 authorities to ask and which roots to trust.

Kept apart from ``archive.timestamps`` (ASN.1, CMS and TSP libraries) so that reading the
settings, which every command does, loads none of them.
"""

from __future__ import annotations

import functools
import os
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

URLS_VARIABLE = "OSINT_ARCHIVE_TSA_URLS"
CA_FILE_VARIABLE = "OSINT_ARCHIVE_TSA_CA_FILE"
TSR_SUFFIX = ".tsr"
TSA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NAMED_URL = re.compile(r"^([a-z0-9][a-z0-9-]*)=(.+)$")


class TimestampConfigError(ValueError):
    """A timestamp setting in the environment is invalid; the message names the variable."""


@dataclass(frozen=True)
class TimestampAuthority:
    """One RFC 3161 TSA: where to POST, the name used in token keys, and its trusted roots.

    ``ca_bundle`` is a PEM file path or PEM bytes of the roots a token must chain to; when set,
    ``request_timestamp`` verifies each new token before returning it.
    """

    url: str
    name: str
    ca_bundle: Path | bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_url(self.url)
        if not TSA_NAME.match(self.name):
            raise ValueError(f"TSA name must match [a-z0-9][a-z0-9-]*: {self.name!r}")

    def trusted_roots_pem(self) -> bytes | None:
        """The PEM roots, read from the file when ``ca_bundle`` is a path."""
        if isinstance(self.ca_bundle, Path):
            return self.ca_bundle.read_bytes()
        return self.ca_bundle


@dataclass(frozen=True)
class TimestampConfig:
    """The configured TSAs (none: timestamping is off) and the trusted roots file."""

    authorities: tuple[TimestampAuthority, ...] = ()
    ca_file: Path | None = None

    @property
    def enabled(self) -> bool:
        """Whether any TSA is configured."""
        return bool(self.authorities)

    def trusted_roots_pem(self) -> bytes | None:
        """The roots to verify tokens against, or None when none are configured."""
        return self.ca_file.read_bytes() if self.ca_file is not None else None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> TimestampConfig:
        """Read ``OSINT_ARCHIVE_TSA_URLS`` and ``OSINT_ARCHIVE_TSA_CA_FILE``.

        ``OSINT_ARCHIVE_TSA_URLS`` is a comma-separated list of TSA URLs, each optionally
        prefixed ``name=`` (the name goes into token keys; by default it is made from the host
        and port). ``OSINT_ARCHIVE_TSA_CA_FILE`` is a PEM file of trusted TSA roots; without it
        tokens are still requested and stored, but verifying them reports "not checked".
        """
        ca_file = _read_ca_file(environ.get(CA_FILE_VARIABLE, "").strip())
        authorities: list[TimestampAuthority] = []
        for entry in environ.get(URLS_VARIABLE, "").split(","):
            entry = entry.strip()
            if not entry:
                continue
            named = _NAMED_URL.match(entry)
            name, url = (named.group(1), named.group(2)) if named else (None, entry)
            try:
                authority = TimestampAuthority(
                    url=url, name=name or _name_from_url(url), ca_bundle=ca_file
                )
            except ValueError as err:
                raise TimestampConfigError(f"{URLS_VARIABLE}: {err}") from err
            if any(other.name == authority.name for other in authorities):
                raise TimestampConfigError(
                    f"{URLS_VARIABLE}: two TSAs are named {authority.name!r}; "
                    "give them distinct names with name=URL"
                )
            authorities.append(authority)
        return cls(authorities=tuple(authorities), ca_file=ca_file)


def _read_ca_file(value: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    try:
        pem = path.read_bytes()
    except OSError as err:
        raise TimestampConfigError(f"{CA_FILE_VARIABLE}: cannot read {path}: {err}") from err
    try:
        load_pem_roots(pem)
    except ValueError as err:
        raise TimestampConfigError(f"{CA_FILE_VARIABLE}: {path}: {err}") from err
    return path


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"TSA URL must be http:// or https://: {url!r}")


def _name_from_url(url: str) -> str:
    _check_url(url)
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    name = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    if parsed.port is not None:
        name = f"{name}-{parsed.port}"
    if not name:
        raise ValueError(f"cannot make a TSA name from {url!r}; use name=URL")
    return name


@functools.lru_cache(maxsize=8)
def load_pem_roots(pem: bytes) -> tuple[x509.Certificate, ...]:
    """Parsed roots, cached: an audit verifies every token against the same few roots."""
    from cryptography import x509  # loaded only when roots are used: keeps start-up light

    try:
        roots = x509.load_pem_x509_certificates(pem)
    except ValueError as err:
        raise ValueError(f"not a PEM file of certificates ({err})") from err
    if not roots:
        raise ValueError("no certificates in the PEM data")
    return tuple(roots)
