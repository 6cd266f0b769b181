"""Signing an export per WACZ-auth 0.1.0: the ``signedData`` of ``datapackage-digest.json``.

The spec's *anonymous* form: the team's key signs the ``hash`` string (``sha256:<hex>`` of
``datapackage.json``, as ASCII) with ECDSA over SHA-256, and the package carries the public key
(base64 DER SPKI) beside the signature, so anyone can check the signature and compare the key's
fingerprint with the one the team publishes. The signature is the raw ``r || s`` form
(IEEE P1363) that WebCrypto makes and that ReplayWeb.page verifies; ``openssl`` wants it as a
DER ``ECDSA-Sig-Value`` (``docs/verifying-exports.md`` shows the conversion).

When a TSA is configured, the signature is also stamped with RFC 3161, as the spec's
domain-identity form does: ``timeSignature`` is the base64 DER TimeStampResp over the SHA-256
of the ``signature`` string, ``timestampCert`` the PEM certificates the token carries. The spec
allows only fields it lists for one of its two forms; these two are listed for the other, and
tools that read the anonymous form (ReplayWeb.page, py-wacz) ignore them.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archive.signing_key import SigningKey
from archive.timestamp_config import TimestampAuthority

SIGNATURE_VERSION = "0.1.0"
ANONYMOUS_FIELDS = frozenset({"hash", "created", "software", "version", "signature", "publicKey"})
TIME_FIELDS = frozenset({"timeSignature", "timestampCert"})


@dataclass(frozen=True)
class PackageSigner:
    """The key that signs exports and the TSAs asked (in order, first success kept) to stamp
    the signature; no TSAs: the signature is not time-stamped."""

    key: SigningKey
    tsas: tuple[TimestampAuthority, ...] = ()


@dataclass(frozen=True)
class PackageSignature:
    """What signing produced: the ``signedData`` object and what the operator must be told."""

    signed_data: dict[str, str]
    key_fingerprint: str
    timestamped_by: str | None = None  # the TSA's name, when the signature was stamped
    timestamp_error: str | None = None  # why it was not, when TSAs were configured


def p1363_signature(der_signature: bytes, curve: ec.EllipticCurve) -> bytes:
    """A DER ``ECDSA-Sig-Value`` as fixed-width ``r || s`` (what WebCrypto signs and verifies)."""
    r, s = decode_dss_signature(der_signature)
    width = (curve.key_size + 7) // 8
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


def time_signature_digest(signature_b64: str) -> bytes:
    """The SHA-256 that ``timeSignature`` stamps: of the ``signature`` string as ASCII."""
    return hashlib.sha256(signature_b64.encode("ascii")).digest()


def token_certificates_pem(token: bytes) -> str:
    """The certificates a DER TimeStampResp carries, as concatenated PEM."""
    from rfc3161_client import decode_timestamp_response

    response = decode_timestamp_response(token)
    return "".join(
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM).decode()
        for der in response.signed_data.certificates
    )


def sign_datapackage(
    signer: PackageSigner, datapackage_hash: str, *, created: str, software: str
) -> PackageSignature:
    """The ``signedData`` for a package whose ``datapackage.json`` has ``datapackage_hash``.

    ``created`` must be the ``created`` of ``datapackage.json`` (py-wacz's validator compares
    them). A TSA failure does not stop the export: the signature is kept without a time
    signature and ``timestamp_error`` says why.
    """
    from archive.timestamps import TimestampError, request_timestamp

    private = signer.key.private_key
    der = private.sign(datapackage_hash.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    signature = base64.b64encode(p1363_signature(der, private.curve)).decode("ascii")
    signed = {
        "hash": datapackage_hash,
        "created": created,
        "software": software,
        "version": SIGNATURE_VERSION,
        "signature": signature,
        "publicKey": signer.key.public_b64,
    }
    errors: list[str] = []
    for tsa in signer.tsas:
        try:
            token = request_timestamp(time_signature_digest(signature), tsa)
        except TimestampError as err:
            errors.append(str(err))
            continue
        signed["timeSignature"] = base64.b64encode(token).decode("ascii")
        signed["timestampCert"] = token_certificates_pem(token)
        return PackageSignature(signed, signer.key.fingerprint, timestamped_by=tsa.name)
    return PackageSignature(
        signed, signer.key.fingerprint, timestamp_error="; ".join(errors) or None
    )
