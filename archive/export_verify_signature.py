"""Checking a WACZ-auth ``signedData`` offline: the signature, the key, the time signature.

Each check has three honest outcomes (passed, failed, not checked). The anonymous form proves
only that the holder of the embedded key signed the package; who holds it is settled by
comparing the key's fingerprint with the one the team published (``expected_key``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from archive.export_signing import ANONYMOUS_FIELDS, TIME_FIELDS, time_signature_digest
from archive.signing_key import key_fingerprint
from archive.timestamps import CheckOutcome, verify_timestamp

# WACZ-auth step 7: the signature's ``created`` must be within 10 minutes of the stamp.
MAX_STAMP_DELAY = timedelta(minutes=10)
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1)


@dataclass(frozen=True)
class PackageCheck:
    """One verification step: its name, outcome and a sentence saying what was found."""

    name: str
    outcome: CheckOutcome
    detail: str


def _fail(name: str, detail: str) -> PackageCheck:
    return PackageCheck(name, CheckOutcome.FAILED, detail)


def normalise_fingerprint(value: str) -> str:
    """``sha256:<lowercase hex>`` from a fingerprint typed with or without prefix or colons."""
    hex_part = value.strip().lower().removeprefix("sha256:").replace(":", "")
    return f"sha256:{hex_part}"


def _der_signature(raw: bytes, curve: ec.EllipticCurve) -> bytes:
    """The signature as DER: raw ``r || s`` (WebCrypto, ours) is converted, DER kept."""
    width = (curve.key_size + 7) // 8
    if len(raw) == 2 * width:
        r, s = int.from_bytes(raw[:width], "big"), int.from_bytes(raw[width:], "big")
        return encode_dss_signature(r, s)
    return raw


def check_signed_data(
    signed: Mapping[str, object],
    *,
    digest_hash: str,
    created: object,
    expected_key: str | None,
) -> tuple[list[PackageCheck], str | None]:
    """The signature and key checks, and the key's fingerprint when the key could be read."""
    unknown = sorted(set(signed) - ANONYMOUS_FIELDS - TIME_FIELDS)
    missing = sorted(ANONYMOUS_FIELDS - set(signed))
    if unknown or missing:
        detail = ", ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"fields the spec does not list: {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        return [
            _fail("signature", f"signedData is not an anonymous WACZ-auth signature: {detail}")
        ], None
    if signed["hash"] != digest_hash:
        return [
            _fail("signature", f"signedData signs {signed['hash']}, the digest is {digest_hash}")
        ], None
    if signed["created"] != created:
        return [
            _fail(
                "signature",
                f"signedData created {signed['created']!r} is not the package's {created!r}",
            )
        ], None
    try:
        public_der = base64.b64decode(str(signed["publicKey"]), validate=True)
        public_key = serialization.load_der_public_key(public_der)
        raw_signature = base64.b64decode(str(signed["signature"]), validate=True)
    except (binascii.Error, ValueError) as err:
        return [_fail("signature", f"publicKey or signature cannot be read: {err}")], None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ACCEPTED_CURVES
    ):
        return [_fail("signature", "publicKey is not an ECDSA P-256 or P-384 key")], None
    fingerprint = key_fingerprint(public_der)
    try:
        public_key.verify(
            _der_signature(raw_signature, public_key.curve),
            str(signed["hash"]).encode("ascii"),
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, ValueError):
        checks = [
            _fail(
                "signature",
                f"the signature of {signed['hash']} does not verify with the embedded key "
                f"{fingerprint}",
            )
        ]
    else:
        checks = [
            PackageCheck(
                "signature",
                CheckOutcome.PASSED,
                f"ECDSA {public_key.curve.name} signature of {signed['hash']} verifies with "
                "the embedded key",
            )
        ]
    checks.append(_key_check(fingerprint, expected_key))
    return checks, fingerprint


def _key_check(fingerprint: str, expected_key: str | None) -> PackageCheck:
    if expected_key is None:
        return PackageCheck(
            "key",
            CheckOutcome.NOT_CHECKED,
            f"signed by key {fingerprint}; compare it with the team's published key (--expect-key)",
        )
    if normalise_fingerprint(expected_key) == fingerprint:
        return PackageCheck("key", CheckOutcome.PASSED, f"signed by the expected key {fingerprint}")
    return _fail(
        "key",
        f"signed by key {fingerprint}, not the expected {normalise_fingerprint(expected_key)}",
    )


def check_time_signature(
    signed: Mapping[str, object], trusted_roots_pem: bytes | None
) -> PackageCheck:
    """The RFC 3161 token over the signature, when the package has one."""
    if "timeSignature" not in signed:
        return PackageCheck(
            "time-signature", CheckOutcome.NOT_CHECKED, "the signature is not time-stamped"
        )
    try:
        token = base64.b64decode(str(signed["timeSignature"]), validate=True)
    except (binascii.Error, ValueError) as err:
        return _fail("time-signature", f"timeSignature is not base64: {err}")
    check = verify_timestamp(
        token, time_signature_digest(str(signed["signature"])), trusted_roots_pem
    )
    if check.outcome is CheckOutcome.FAILED:
        return _fail("time-signature", check.reason)
    stamped = check.gen_time
    try:
        created = datetime.fromisoformat(str(signed["created"]).replace("Z", "+00:00"))
    except ValueError:
        return _fail("time-signature", f"created {signed['created']!r} is not an ISO 8601 date")
    if stamped is None or abs(stamped - created) > MAX_STAMP_DELAY:
        return _fail(
            "time-signature",
            f"stamped at {stamped}, not within {MAX_STAMP_DELAY} of created {created}",
        )
    by = f" by {check.tsa}" if check.tsa else ""
    return PackageCheck(
        "time-signature", check.outcome, f"stamped {stamped.isoformat()}{by}: {check.reason}"
    )
