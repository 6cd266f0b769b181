"""RFC 3161 trusted timestamps: proof from a third party that a hash existed at a given time.

A timestamp authority (TSA) signs the SHA-256 of what we hand it together with its clock.
Capture manifests are stamped once stored (the token goes beside the record, as an immutable
record ``<record key>.<tsa name>.tsr``, listed in a ``timestamped`` custody event); an export
has the SHA-256 of its ``.wacz`` file stamped, the tokens written beside the package as
``<file>.<tsa name>.tsr`` (a package cannot contain a proof of its own hash). ``audit``
re-verifies the stored tokens and finds listed ones that went missing.

A token is stored and returned as the DER **TimeStampResp** (status plus TimeStampToken), the
form ``openssl ts -reply -in F`` and ``openssl ts -verify -in F`` read and the one
``rfc3161-client`` verifies; the bare CMS TimeStampToken is its ``timeStampToken`` field.

Libraries, and why:

* ``rfc3161-client`` (Trail of Bits, the TSP client of sigstore-python) parses responses and
  verifies them: CMS signature over the TSTInfo with OpenSSL, the signer certificate chained to
  the configured roots at the token's own time, the critical ``timeStamping`` EKU, the imprint.
  It works offline. Its request builder only hashes data itself, while callers here hold a
  digest (an export's package hash), so
* ``asn1crypto`` encodes the TimeStampReq from a precomputed SHA-256 digest.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from asn1crypto import tsp as asn1_tsp
from cryptography import x509
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from archive.store import ObjectExistsError, ObjectStore
from archive.timestamp_config import (
    CA_FILE_VARIABLE,
    TSA_NAME,
    TSR_SUFFIX,
    URLS_VARIABLE,
    TimestampAuthority,
    TimestampConfig,
    TimestampConfigError,
    load_pem_roots,
)

__all__ = [
    "CA_FILE_VARIABLE",
    "URLS_VARIABLE",
    "CheckOutcome",
    "TimestampAuthority",
    "TimestampCheck",
    "TimestampConfig",
    "TimestampConfigError",
    "TimestampError",
    "request_timestamp",
    "stamp_digest",
    "stamp_record",
    "token_key",
    "token_keys_for",
    "verify_record_timestamps",
    "verify_timestamp",
]

QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"
SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
# A TimeStampResp is a few kilobytes; the cap keeps a misbehaving server from filling memory.
MAX_RESPONSE_BYTES = 1024 * 1024


class TimestampError(Exception):
    """A timestamp authority did not deliver a usable token; names the TSA URL and the reason."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"timestamp authority {url}: {reason}")
        self.url = url
        self.reason = reason


class CheckOutcome(StrEnum):
    """The three honest answers of a verifier."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class TimestampCheck:
    """What verifying one token found.

    ``gen_time``, ``tsa`` and ``serial_number`` are what the token states; they are proven only
    when ``outcome`` is ``passed``. ``token_key`` names the stored token, when there is one.
    """

    outcome: CheckOutcome
    reason: str
    gen_time: datetime | None = None
    tsa: str | None = None
    serial_number: int | None = None
    token_key: str | None = None

    @property
    def ok(self) -> bool:
        """True only when the token was verified and passed."""
        return self.outcome is CheckOutcome.PASSED


def _check_digest(digest_sha256: bytes) -> None:
    if len(digest_sha256) != hashlib.sha256().digest_size:
        raise ValueError(f"expected a 32-byte SHA-256 digest, got {len(digest_sha256)} bytes")


def _timestamp_query(digest_sha256: bytes, nonce: int) -> bytes:
    return asn1_tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": {"algorithm": "sha256"},
                "hashed_message": digest_sha256,
            },
            "nonce": nonce,
            # Ask for the TSA certificate inside the token, so it verifies with the roots alone.
            "cert_req": True,
        }
    ).dump()


def _post_query(url: str, query: bytes, timeout: float) -> bytes:
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked in TimestampAuthority
        url,
        data=query,
        method="POST",
        headers={"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310
            body: bytes = reply.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as err:
        raise TimestampError(url, f"HTTP {err.code} {err.reason}") from err
    except (urllib.error.URLError, OSError) as err:
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        raise TimestampError(url, f"request failed: {reason}") from err
    except (http.client.HTTPException, ValueError) as err:  # a server that does not speak HTTP
        raise TimestampError(url, f"request failed: {type(err).__name__}: {err}") from err
    if len(body) > MAX_RESPONSE_BYTES:
        raise TimestampError(url, f"response larger than {MAX_RESPONSE_BYTES} bytes")
    return body


@dataclass(frozen=True)
class _ParsedToken:
    """A TimeStampResp with the fields this module reads, each read once."""

    response: TimeStampResponse
    status: int
    status_text: str
    gen_time: datetime | None = None
    serial_number: int | None = None
    nonce: int | None = None
    imprint_algorithm: x509.ObjectIdentifier | None = None
    imprint: bytes = b""
    tsa: str | None = None


def _parse_token(token: bytes) -> _ParsedToken:
    """Parse a DER TimeStampResp, reading every field here so a malformed one fails here.

    The Rust parser decodes some fields lazily and raises assorted exceptions (ValueError,
    KeyError) on bytes it cannot read; they all mean the same thing: not a readable token.
    """
    try:
        response = decode_timestamp_response(token)
        status = response.status
        status_text = "; ".join(response.status_string)
        if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
            return _ParsedToken(response, status, status_text)
        info = response.tst_info
        imprint = info.message_imprint
        return _ParsedToken(
            response,
            status,
            status_text,
            gen_time=info.gen_time,
            serial_number=info.serial_number,
            nonce=info.nonce,
            imprint_algorithm=imprint.hash_algorithm,
            imprint=imprint.message,
            tsa=_tsa_name(response),
        )
    except Exception as err:
        raise ValueError(f"not a readable DER TimeStampResp: {err!r}") from err


def request_timestamp(
    digest_sha256: bytes, tsa: TimestampAuthority, *, timeout: float = 30
) -> bytes:
    """Ask ``tsa`` to timestamp a SHA-256 digest; return the DER TimeStampResp.

    The query carries the digest as a SHA-256 message imprint, a random 64-bit nonce and
    ``certReq``. The reply must be granted, for this nonce and this digest; when the TSA has a
    ``ca_bundle`` its token must also verify against those roots. Anything else raises
    ``TimestampError`` with the URL and the reason.
    """
    _check_digest(digest_sha256)
    # The nonce ties the reply to this query, so a replayed or misrouted reply is refused.
    nonce = secrets.randbits(64)
    body = _post_query(tsa.url, _timestamp_query(digest_sha256, nonce), timeout)
    try:
        parsed = _parse_token(body)
    except ValueError as err:
        raise TimestampError(tsa.url, f"bad reply: {err}") from err
    if parsed.status != PKIStatus.GRANTED:
        detail = f": {parsed.status_text}" if parsed.status_text else ""
        raise TimestampError(tsa.url, f"status {_status_name(parsed.status)}{detail}")
    if parsed.nonce != nonce:
        raise TimestampError(tsa.url, "reply is for another nonce than the query's")
    if parsed.imprint_algorithm != SHA256_OID or parsed.imprint != digest_sha256:
        raise TimestampError(tsa.url, "reply stamps another digest than the one sent")
    roots = tsa.trusted_roots_pem()
    if roots:
        check = verify_timestamp(body, digest_sha256, roots)
        if not check.ok:
            raise TimestampError(tsa.url, f"token does not verify: {check.reason}")
    return body


def _status_name(status: int) -> str:
    try:
        return PKIStatus(status).name.lower()
    except ValueError:
        return str(status)


def _tsa_name(response: TimeStampResponse) -> str | None:
    """The TSA's name as the token states it, else the signer certificate's subject."""
    try:
        name = response.tst_info.name
    except ValueError:
        name = None  # the tsa field is optional in TSTInfo
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    signers = list(response.signed_data.signer_infos)
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if len(signers) == 1 and cert.serial_number == signers[0].serial_number:
            return cert.subject.rfc4514_string()
    return None


def verify_timestamp(
    token: bytes, digest_sha256: bytes, trusted_roots_pem: bytes | None
) -> TimestampCheck:
    """Verify a stored DER TimeStampResp against a SHA-256 digest and trusted roots.

    Passed: the token is granted, its imprint is this digest, its CMS signature over the TSTInfo
    verifies with the TSA certificate, which has the critical ``timeStamping`` EKU and chains to
    one of the roots (valid at the token's time). Failed: any of these is false, or the token
    does not parse, with the reason. Not checked: no roots were given, so only the imprint was
    compared (a mismatch is still a failure).

    The certificate is judged at the token's time, not today's, so a token outlives its TSA
    certificate; revocation (CRL, OCSP) is not consulted, as the audit runs offline. Raises
    ``ValueError`` when ``trusted_roots_pem`` holds no certificate: that is a configuration
    error, not a property of the token.
    """
    _check_digest(digest_sha256)
    try:
        parsed = _parse_token(token)
    except ValueError as err:
        return TimestampCheck(CheckOutcome.FAILED, str(err))
    outcome, reason = _check_token(parsed, digest_sha256, trusted_roots_pem)
    return TimestampCheck(
        outcome,
        reason,
        gen_time=parsed.gen_time,
        tsa=parsed.tsa,
        serial_number=parsed.serial_number,
    )


def _check_token(
    parsed: _ParsedToken, digest_sha256: bytes, trusted_roots_pem: bytes | None
) -> tuple[CheckOutcome, str]:
    if parsed.status != PKIStatus.GRANTED:
        return CheckOutcome.FAILED, f"status {_status_name(parsed.status)}"
    if parsed.imprint_algorithm != SHA256_OID:
        algorithm = getattr(parsed.imprint_algorithm, "dotted_string", "missing")
        return CheckOutcome.FAILED, f"imprint hash {algorithm} is not SHA-256"
    # Compared before the signature so that an edited record is reported as exactly that.
    if parsed.imprint != digest_sha256:
        return (
            CheckOutcome.FAILED,
            f"message imprint {parsed.imprint.hex()} is not the digest {digest_sha256.hex()}",
        )
    if not trusted_roots_pem:
        return CheckOutcome.NOT_CHECKED, f"no trusted TSA roots configured ({CA_FILE_VARIABLE})"
    builder = VerifierBuilder()
    for root in load_pem_roots(trusted_roots_pem):
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify(parsed.response, digest_sha256)
    except VerificationError as err:
        return CheckOutcome.FAILED, _readable(str(err))
    except Exception as err:
        # Structures the Rust layer cannot read surface as ValueError, KeyError and the like.
        return CheckOutcome.FAILED, f"unreadable token: {err!r}"
    return CheckOutcome.PASSED, "signature, certificate chain, EKU and imprint verified"


def _readable(message: str) -> str:
    """Shorten an OpenSSL error stack in a verifier message to its reasons and details."""
    reasons = re.findall(
        r'reason: "([^"]+)"(?:, file: "[^"]*", line: \d+)?(?:, data: "([^"]+)")?', message
    )
    if not reasons:
        return message
    details = "; ".join(f"{reason} ({data})" if data else reason for reason, data in reasons)
    return f"CMS signature or certificate check failed: {details}"


def stamp_digest(digest_sha256: bytes, tsas: Iterable[TimestampAuthority]) -> dict[str, bytes]:
    """Timestamp one digest (an export's) with every TSA: ``{tsa name: DER TimeStampResp}``.

    The first TSA that fails raises ``TimestampError``; the caller decides whether to export
    without tokens.
    """
    return {tsa.name: request_timestamp(digest_sha256, tsa) for tsa in tsas}


def token_key(record_key: str, tsa_name: str) -> str:
    """Key of the token that stamps ``record_key``: ``<record key>.<tsa name>.tsr``."""
    return f"{record_key}.{tsa_name}{TSR_SUFFIX}"


def stamp_record(
    store: ObjectStore, record_key: str, tsas: Iterable[TimestampAuthority]
) -> list[str]:
    """Timestamp a stored record's SHA-256 with each TSA; return the token keys.

    Each token is an immutable record beside the one it stamps. A TSA whose token already
    exists is not asked again, so a retry only fills the gaps. Every TSA is tried; tokens that
    were obtained are stored, then the first failure is raised as ``TimestampError``.
    """
    digest = hashlib.sha256(store.read_bytes(record_key)).digest()
    keys: list[str] = []
    failures: list[TimestampError] = []
    for tsa in tsas:
        key = token_key(record_key, tsa.name)
        if not store.exists(key):
            try:
                store.put_record(key, request_timestamp(digest, tsa))
            except TimestampError as err:
                failures.append(err)
                continue
            except ObjectExistsError:
                pass  # a concurrent run stored its own token first: one is enough
        keys.append(key)
    if failures:
        raise failures[0]
    return keys


def token_keys_for(store: ObjectStore, record_key: str) -> list[str]:
    """The keys of the tokens stored beside ``record_key``, in lexical order."""
    prefix = f"{record_key}."
    return [
        key
        for key in store.list_keys(prefix)
        if key.endswith(TSR_SUFFIX) and TSA_NAME.match(key[len(prefix) : -len(TSR_SUFFIX)])
    ]


def verify_record_timestamps(
    store: ObjectStore, record_key: str, trusted_roots_pem: bytes | None
) -> list[TimestampCheck]:
    """Verify every token beside a record against the record's current bytes.

    An empty list means the record has no token; whether that matters is the caller's call.
    """
    digest = hashlib.sha256(store.read_bytes(record_key)).digest()
    return [
        replace(verify_timestamp(store.read_bytes(key), digest, trusted_roots_pem), token_key=key)
        for key in token_keys_for(store, record_key)
    ]
