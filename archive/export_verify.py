"""Verifying an exported WACZ package offline, as a court's expert would by hand.

Steps (``docs/verifying-exports.md`` gives the same by hand with ``unzip``, ``sha256sum`` and
``openssl``):

1. every file ``datapackage.json`` lists is in the ZIP once, with its SHA-256 and size, and
   the ZIP holds nothing else (but the two datapackage files);
2. ``datapackage-digest.json`` holds the SHA-256 of ``datapackage.json``;
3. its ``signedData`` is a WACZ-auth anonymous signature of that hash by the embedded key
   (``archive.export_verify_signature``), optionally the key the user expects;
4. the RFC 3161 time signature of the signature, when present, and the package tokens written
   beside the file (``<file>.<tsa>.tsr``), against the trusted TSA roots when given.

Files are streamed, never read whole. An unsigned package fails step 3: every package this
archive writes is signed, so a missing signature means a package made or changed elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from archive.export_verify_signature import (
    PackageCheck,
    check_signed_data,
    check_time_signature,
)
from archive.hashing import stream_sha256
from archive.store import CHUNK_SIZE
from archive.timestamp_config import TSR_SUFFIX
from archive.timestamps import CheckOutcome, verify_timestamp

__all__ = ["PackageCheck", "PackageVerification", "verify_package"]

DATAPACKAGE = "datapackage.json"
DIGEST = "datapackage-digest.json"
SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class PackageVerification:
    """Every check made on one package; ``ok`` when none failed."""

    path: Path
    checks: tuple[PackageCheck, ...]
    files_checked: int = 0
    key_fingerprint: str | None = None

    @property
    def ok(self) -> bool:
        """True when no check failed (a check not made is said, not counted as a failure)."""
        return all(check.outcome is not CheckOutcome.FAILED for check in self.checks)

    def to_json(self) -> str:
        """The verification as one JSON object: path, ok, files_checked, key, checks."""
        data = {
            "path": str(self.path),
            "ok": self.ok,
            "files_checked": self.files_checked,
            "key_fingerprint": self.key_fingerprint,
            "checks": [asdict(check) | {"outcome": str(check.outcome)} for check in self.checks],
        }
        return json.dumps(data, ensure_ascii=False)


def _fail(name: str, detail: str) -> PackageCheck:
    return PackageCheck(name, CheckOutcome.FAILED, detail)


def _entry_digest(package: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with package.open(name) as stream:
        while chunk := stream.read(CHUNK_SIZE):  # the bytes read, not the header, give the size
            digest.update(chunk)
            size += len(chunk)
    return f"sha256:{digest.hexdigest()}", size


def _check_files(
    package: zipfile.ZipFile, datapackage: Mapping[str, Any]
) -> tuple[PackageCheck, int]:
    """Step 1: each listed file's hash and size; duplicates and unlisted files."""
    counts = Counter(info.filename for info in package.infolist())
    problems = [f"{name} is in the ZIP {n} times" for name, n in counts.items() if n > 1]
    resources = datapackage.get("resources")
    if not isinstance(resources, list):
        return _fail("files", "datapackage.json has no resources list"), 0
    listed: set[str] = set()
    for resource in resources:
        path = str(resource.get("path", "")) if isinstance(resource, dict) else ""
        listed.add(path)
        if path not in counts:
            problems.append(f"{path or '(a resource without a path)'} is listed but missing")
            continue
        try:
            actual, size = _entry_digest(package, path)
        except (zipfile.BadZipFile, OSError) as err:  # a changed byte breaks the ZIP's CRC too
            problems.append(f"{path} cannot be read whole: {err}")
            continue
        if actual != resource.get("hash"):
            problems.append(f"{path} has {actual}, datapackage.json lists {resource.get('hash')}")
        elif size != resource.get("bytes"):
            problems.append(
                f"{path} has {size} bytes, datapackage.json lists {resource.get('bytes')}"
            )
    problems += [
        f"{name} is in the ZIP but not listed in datapackage.json"
        for name in counts
        if name not in listed and name not in (DATAPACKAGE, DIGEST)
    ]
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "")
        return _fail("files", f"{len(problems)} problem(s): {shown}"), len(listed)
    detail = f"all {len(listed)} files match their SHA-256 and size in datapackage.json"
    return PackageCheck("files", CheckOutcome.PASSED, detail), len(listed)


def _read_json(package: zipfile.ZipFile, name: str) -> tuple[bytes, Any]:
    data = package.read(name)
    return data, json.loads(data)


def _check_package(
    package: zipfile.ZipFile, expected_key: str | None, trusted_roots_pem: bytes | None
) -> tuple[list[PackageCheck], int, str | None]:
    try:
        raw, datapackage = _read_json(package, DATAPACKAGE)
        _, digest = _read_json(package, DIGEST)
    except KeyError as err:
        return [_fail("package", f"not a WACZ package: {err.args[0]}")], 0, None
    except (ValueError, zipfile.BadZipFile) as err:
        return [_fail("package", f"datapackage files cannot be read: {err}")], 0, None
    if not isinstance(datapackage, dict) or not isinstance(digest, dict):
        return [_fail("package", "datapackage files are not JSON objects")], 0, None
    files, count = _check_files(package, datapackage)
    checks = [files]
    actual = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    if digest.get("path") != DATAPACKAGE or digest.get("hash") != actual:
        checks.append(
            _fail(
                "datapackage-digest",
                f"datapackage-digest.json lists {digest.get('hash')} for {digest.get('path')}, "
                f"datapackage.json has {actual}",
            )
        )
    else:
        checks.append(
            PackageCheck(
                "datapackage-digest",
                CheckOutcome.PASSED,
                f"datapackage.json has the listed {actual}",
            )
        )
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        checks.append(_fail("signature", "the package is not signed (no signedData)"))
        return checks, count, None
    signature_checks, fingerprint = check_signed_data(
        signed,
        digest_hash=str(digest.get("hash")),
        created=datapackage.get("created"),
        expected_key=expected_key,
    )
    checks += signature_checks
    checks.append(check_time_signature(signed, trusted_roots_pem))
    return checks, count, fingerprint


def _package_tokens(path: Path, trusted_roots_pem: bytes | None) -> list[PackageCheck]:
    """Tokens of the whole file that ``osint-archive export`` writes beside it."""
    tokens = sorted(path.parent.glob(f"{path.name}.*{TSR_SUFFIX}"))
    if not tokens:
        return []
    with path.open("rb") as stream:
        digest = stream_sha256(stream).digest()
    checks = []
    for token in tokens:
        check = verify_timestamp(token.read_bytes(), digest, trusted_roots_pem)
        stamped = f"stamped {check.gen_time.isoformat()}: " if check.gen_time else ""
        checks.append(
            PackageCheck(f"package-timestamp {token.name}", check.outcome, stamped + check.reason)
        )
    return checks


def verify_package(
    path: Path, *, expected_key: str | None = None, trusted_roots_pem: bytes | None = None
) -> PackageVerification:
    """Verify a WACZ package offline (see the module's steps); never raises for bad packages.

    ``expected_key`` is the fingerprint (``sha256:<hex>`` of the DER public key) the signer
    must have; ``trusted_roots_pem`` the TSA roots that time stamps must chain to (without
    them time stamps are compared with their digests but reported as not checked).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as package:
            checks, count, fingerprint = _check_package(package, expected_key, trusted_roots_pem)
    except (OSError, zipfile.BadZipFile) as err:
        return PackageVerification(path, (_fail("package", f"cannot open {path}: {err}"),))
    checks += _package_tokens(path, trusted_roots_pem)
    return PackageVerification(path, tuple(checks), count, fingerprint)
