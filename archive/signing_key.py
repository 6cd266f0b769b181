"""The team's export signing key: an ECDSA P-384 key made once and kept outside the archive.

The key signs every exported package (``archive.export_signing``). It lives in a PEM file
(PKCS#8, unencrypted, mode 0600) beside, never inside, the object store: by default
``$OSINT_ARCHIVE_HOME/keys/export-signing-key.pem``, or wherever ``OSINT_ARCHIVE_SIGNING_KEY``
or ``osint-archive export --signing-key`` point. The public half is written next to it as
``<file>.pub.pem`` so that it can be published out of band, and is named by its fingerprint:
the SHA-256 of its DER SubjectPublicKeyInfo, the bytes every package carries as ``publicKey``.

P-384, not P-256: ReplayWeb.page (wabac.js) imports an anonymous ``publicKey`` as P-384 and
refuses any other curve, so only a P-384 key makes a package it reports as signed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_VARIABLE = "OSINT_ARCHIVE_SIGNING_KEY"
DEFAULT_KEY_NAME = Path("keys") / "export-signing-key.pem"
PUBLIC_SUFFIX = ".pub.pem"
SIGNING_CURVE = ec.SECP384R1


class SigningKeyError(Exception):
    """The signing key cannot be made, read or used; the message names the file and the fix."""


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key, where it came from, and its public key's fingerprint."""

    private_key: ec.EllipticCurvePrivateKey
    path: Path

    @property
    def public_der(self) -> bytes:
        """The public key as DER SubjectPublicKeyInfo."""
        return public_key_der(self.private_key.public_key())

    @property
    def public_b64(self) -> str:
        """The public key as WACZ-auth's ``publicKey``: base64 of the DER SPKI."""
        return base64.b64encode(self.public_der).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the DER SPKI: what a court compares with the published key."""
        return key_fingerprint(self.public_der)


def public_key_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo of a public key."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_fingerprint(public_der: bytes) -> str:
    """``sha256:<hex>`` of a DER SubjectPublicKeyInfo."""
    return f"sha256:{hashlib.sha256(public_der).hexdigest()}"


def default_key_path(home: Path, environ: dict[str, str] | None = None) -> Path:
    """``OSINT_ARCHIVE_SIGNING_KEY`` when set, else ``<home>/keys/export-signing-key.pem``."""
    environ = dict(os.environ) if environ is None else environ
    configured = environ.get(KEY_VARIABLE, "").strip()
    return Path(configured) if configured else home / DEFAULT_KEY_NAME


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def load_or_create_key(path: Path, *, archive_root: Path | None = None) -> SigningKey:
    """The key at ``path``, generated there first if the file does not exist.

    Refuses a path inside ``archive_root`` (the local object store: whatever is there may be
    exported or copied with the evidence) and a key file that others can read, with the fix in
    the message. A new key is written with mode 0600 (its folder 0700) and never replaced.
    """
    path = Path(path)
    if archive_root is not None and _inside(path, archive_root):
        raise SigningKeyError(
            f"signing key {path} is inside the archive ({archive_root}); keep it outside, "
            f"e.g. set {KEY_VARIABLE}"
        )
    if not path.exists():
        _create_key(path)
    return _load_key(path)


def _create_key(path: Path) -> None:
    key = ec.generate_private_key(SIGNING_CURVE())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # O_EXCL: two exports starting at once must not each make (and use) a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # the other one won; its key is loaded below
    except OSError as err:
        raise SigningKeyError(f"cannot create signing key {path}: {err}") from err
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
        stream.flush()
        os.fsync(stream.fileno())
    public = path.with_name(path.name.removesuffix(".pem") + PUBLIC_SUFFIX)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _load_key(path: Path) -> SigningKey:
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as err:
        raise SigningKeyError(f"cannot read signing key {path}: {err}") from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"signing key {path} can be read by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise SigningKeyError(
            f"signing key {path} is not an unencrypted PEM private key: {err}"
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, SIGNING_CURVE):
        raise SigningKeyError(
            f"signing key {path} must be an ECDSA P-384 key (ReplayWeb.page verifies no other)"
        )
    return SigningKey(key, path)
