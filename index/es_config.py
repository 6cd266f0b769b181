"""Settings of the Elasticsearch backend, read from ``OSINT_ARCHIVE_ES_*`` variables.

The cluster is expected to run with security on: user and password or an API key, over https
with certificates always verified (against ``OSINT_ARCHIVE_ES_CA_CERTS`` when the cluster's CA
is private). Credentials are refused over plain http, except to a loopback address when
``OSINT_ARCHIVE_ES_ALLOW_HTTP=1`` (tests). Secrets never appear in a repr or a message.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

URL_VARIABLE = "OSINT_ARCHIVE_ES_URL"
USERNAME_VARIABLE = "OSINT_ARCHIVE_ES_USERNAME"
PASSWORD_VARIABLE = "OSINT_ARCHIVE_ES_PASSWORD"  # noqa: S105 - a variable name, not a secret
API_KEY_VARIABLE = "OSINT_ARCHIVE_ES_API_KEY"
CA_CERTS_VARIABLE = "OSINT_ARCHIVE_ES_CA_CERTS"
INDEX_VARIABLE = "OSINT_ARCHIVE_ES_INDEX"
BULK_DOCS_VARIABLE = "OSINT_ARCHIVE_ES_BULK_DOCS"
BULK_BYTES_VARIABLE = "OSINT_ARCHIVE_ES_BULK_BYTES"
TIMEOUT_VARIABLE = "OSINT_ARCHIVE_ES_TIMEOUT"
ALLOW_HTTP_VARIABLE = "OSINT_ARCHIVE_ES_ALLOW_HTTP"

DEFAULT_INDEX = "osint-archive"
DEFAULT_BULK_DOCS = 1000
# Elasticsearch's guidance is to start bulk requests at 5-15 MB and tune from there
# ("Tune for indexing speed: use bulk requests"); the low end keeps memory small.
DEFAULT_BULK_BYTES = 5 * 1024 * 1024
MAX_BULK_BYTES = 100 * 1024 * 1024  # http.max_content_length's default
DEFAULT_TIMEOUT_SECONDS = 30.0
# Index and alias names: lower case, no separators Elasticsearch reserves; room for the
# "-<timestamp>" suffix of the concrete indices within the 255-byte limit.
INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,199}$")
LOOPBACK_HOSTS = ("localhost",)


class EsConfigError(ValueError):
    """An Elasticsearch setting is missing or invalid; the message names the variable."""


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class EsConfig:
    """Where the cluster is, how to authenticate, the alias searched and the bulk limits."""

    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    ca_certs: Path | None = None
    index: str = DEFAULT_INDEX
    bulk_docs: int = DEFAULT_BULK_DOCS
    bulk_bytes: int = DEFAULT_BULK_BYTES
    request_timeout: float = DEFAULT_TIMEOUT_SECONDS
    allow_http: bool = False

    def __post_init__(self) -> None:
        parts = _check_url(self.url)
        if (self.username is None) != (self.password is None):
            missing = USERNAME_VARIABLE if self.username is None else PASSWORD_VARIABLE
            raise EsConfigError(
                f"{missing} is not set: {USERNAME_VARIABLE} and {PASSWORD_VARIABLE} go together"
            )
        if self.api_key is not None and self.username is not None:
            raise EsConfigError(
                f"set either {API_KEY_VARIABLE} or {USERNAME_VARIABLE}/{PASSWORD_VARIABLE}, "
                "not both"
            )
        if parts.scheme == "http" and self.has_credentials:
            host = parts.hostname or ""
            if not (self.allow_http and _is_loopback(host)):
                raise EsConfigError(
                    f"{URL_VARIABLE} is http:// but credentials are set: they would travel in "
                    f"clear text; use https:// (set {CA_CERTS_VARIABLE} for a private CA)"
                    + (
                        f"; {ALLOW_HTTP_VARIABLE}=1 allows http only to a loopback address"
                        if self.allow_http
                        else ""
                    )
                )
        if self.ca_certs is not None and parts.scheme != "https":
            raise EsConfigError(f"{CA_CERTS_VARIABLE} is set but {URL_VARIABLE} is not https://")
        if not INDEX_NAME.match(self.index):
            raise EsConfigError(
                f"{INDEX_VARIABLE} must be lower case letters, digits, '.', '_' or '-' (at most "
                f"200, not starting with '.', '_' or '-'), got {self.index!r}"
            )
        if not 1 <= self.bulk_docs <= 100_000:
            raise EsConfigError(f"{BULK_DOCS_VARIABLE} must be 1 to 100000, got {self.bulk_docs}")
        if not 1024 <= self.bulk_bytes <= MAX_BULK_BYTES:
            raise EsConfigError(
                f"{BULK_BYTES_VARIABLE} must be 1024 to {MAX_BULK_BYTES} bytes, "
                f"got {self.bulk_bytes}"
            )
        if not self.request_timeout > 0:
            raise EsConfigError(f"{TIMEOUT_VARIABLE} must be a positive number of seconds")

    @property
    def has_credentials(self) -> bool:
        return self.username is not None or self.api_key is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EsConfig:
        """Read the ``OSINT_ARCHIVE_ES_*`` variables; errors name the missing or invalid one."""

        def optional(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        url = optional(URL_VARIABLE)
        if url is None:
            raise EsConfigError(
                f"{URL_VARIABLE} is not set (required for the Elasticsearch backend)"
            )
        ca_certs = optional(CA_CERTS_VARIABLE)
        if ca_certs is not None and not Path(ca_certs).is_file():
            raise EsConfigError(f"{CA_CERTS_VARIABLE} names no readable file: {ca_certs!r}")
        allow_http = environ.get(ALLOW_HTTP_VARIABLE, "0").strip() or "0"
        if allow_http not in ("0", "1"):
            raise EsConfigError(f"{ALLOW_HTTP_VARIABLE} must be 0 or 1, got {allow_http!r}")
        return cls(
            url=url,
            username=optional(USERNAME_VARIABLE),
            # A password is taken as given: spaces may belong to it.
            password=environ.get(PASSWORD_VARIABLE) or None,
            api_key=optional(API_KEY_VARIABLE),
            ca_certs=Path(ca_certs) if ca_certs is not None else None,
            index=optional(INDEX_VARIABLE) or DEFAULT_INDEX,
            bulk_docs=_whole_number(environ, BULK_DOCS_VARIABLE, DEFAULT_BULK_DOCS),
            bulk_bytes=_whole_number(environ, BULK_BYTES_VARIABLE, DEFAULT_BULK_BYTES),
            request_timeout=_seconds(environ, TIMEOUT_VARIABLE, DEFAULT_TIMEOUT_SECONDS),
            allow_http=allow_http == "1",
        )

    def client(self) -> Elasticsearch:
        """A client for the cluster: certificates verified, timeouts and 502-504 retried."""
        from elasticsearch import Elasticsearch

        auth: dict[str, Any] = {}
        if self.username is not None and self.password is not None:
            auth["basic_auth"] = (self.username, self.password)
        if self.api_key is not None:
            auth["api_key"] = self.api_key
        if self.ca_certs is not None:
            auth["ca_certs"] = str(self.ca_certs)
        return Elasticsearch(
            self.url,
            verify_certs=True,  # for https; never turned off
            request_timeout=self.request_timeout,
            retry_on_timeout=True,
            max_retries=3,
            # 429 is not retried here: the bulk writer backs off and retries only the
            # rejected items (index.es_backend).
            retry_on_status=(502, 503, 504),
            **auth,
        )


def _check_url(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError as err:
        raise EsConfigError(f"{URL_VARIABLE} is not a valid URL: {err}") from None
    if parts.username is not None or parts.password is not None:
        # The URL is not echoed: it holds a secret.
        raise EsConfigError(
            f"{URL_VARIABLE} must not contain credentials; use {USERNAME_VARIABLE}/"
            f"{PASSWORD_VARIABLE} or {API_KEY_VARIABLE}"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EsConfigError(
            f"{URL_VARIABLE} must be an http:// or https:// URL with a host, got {url!r}"
        )
    if parts.query or parts.fragment:
        raise EsConfigError(f"{URL_VARIABLE} must have no query or fragment, got {url!r}")
    del port
    return parts


def _whole_number(environ: Mapping[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip()
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):
        raise EsConfigError(f"{name} must be a whole number, got {text!r}")
    return int(text)


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    text = environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise EsConfigError(f"{name} must be a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise EsConfigError(f"{name} must be a positive number of seconds, got {text!r}")
    return value
