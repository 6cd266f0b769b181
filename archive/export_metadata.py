"""The WACZ metadata files of an export: ``pages.jsonl``, ``datapackage.json`` and its digest."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence

from archive.export_zip import PackageFile
from archive.manifest import CaptureManifest
from archive.warc import warc_date

WACZ_VERSION = "1.1.1"
PAGES_FORMAT = "json-pages-1.0"
_RESOURCE_NAME = re.compile(r"[^a-z0-9._/-]")


def pages_jsonl_lines(title: str, manifests: Iterable[CaptureManifest]) -> Iterator[bytes]:
    """A header line, then one page per capture (id, url, ts, title), one line at a time."""
    header = {"format": PAGES_FORMAT, "id": "pages", "title": title}
    yield (json.dumps(header, ensure_ascii=False) + "\n").encode()
    for m in manifests:
        # ts is the final response record's WARC-Date, so replay finds that exact record.
        page = {"id": m.capture_id, "url": m.final_url, "ts": warc_date(m.captured_at)}
        page |= {"title": m.text.title if m.text else m.final_url}
        yield (json.dumps(page, ensure_ascii=False) + "\n").encode()


def resource_name(path: str) -> str:
    """A Frictionless resource name (lowercase letters, digits, ``-._/``) for a path."""
    return _RESOURCE_NAME.sub("-", path.lower())


def _package_head(*, title: str, description: str, created: str, software: str) -> dict[str, str]:
    return {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": description,
        "created": created,
        "software": software,
    }


def _resource(file: PackageFile) -> dict[str, str | int]:
    return {
        "name": resource_name(file.path),
        "path": file.path,
        "hash": f"sha256:{file.sha256}",
        "bytes": file.size,
    }


def datapackage_json(
    files: Sequence[PackageFile], *, title: str, description: str, created: str, software: str
) -> bytes:
    """``datapackage.json``: package metadata and every file with its SHA-256 and size."""
    package: dict[str, object] = dict(
        _package_head(title=title, description=description, created=created, software=software)
    )
    package["resources"] = [_resource(f) for f in files]
    return json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")


def datapackage_chunks(
    files: Iterable[PackageFile], *, title: str, description: str, created: str, software: str
) -> Iterator[bytes]:
    """The bytes of ``datapackage_json``, a resource at a time (a package can list millions
    of files): the same text ``json.dumps(..., indent=2)`` gives for the whole document."""
    head = _package_head(title=title, description=description, created=created, software=software)
    # The head as json.dumps writes it, less its closing "\n}"; "resources" comes last.
    yield json.dumps(head, ensure_ascii=False, indent=2).removesuffix("\n}").encode("utf-8")
    separator = ',\n  "resources": [\n'
    for file in files:
        resource = json.dumps(_resource(file), ensure_ascii=False, indent=2)
        # Nested two levels deep, each line of a resource is indented by four more spaces.
        yield (separator + "    " + resource.replace("\n", "\n    ")).encode("utf-8")
        separator = ",\n"
    yield ("\n  ]\n}" if separator == ",\n" else ',\n  "resources": []\n}').encode("utf-8")


def datapackage_hash(datapackage: bytes) -> str:
    """``sha256:<hex>`` of ``datapackage.json`` as written: what the digest file and the
    signature carry."""
    return f"sha256:{hashlib.sha256(datapackage).hexdigest()}"


def digest_json(datapackage: bytes, signed_data: Mapping[str, str] | None = None) -> bytes:
    """``datapackage-digest.json``: the SHA-256 of ``datapackage.json`` as written, and the
    WACZ-auth ``signedData`` when the package is signed."""
    return digest_json_of(datapackage_hash(datapackage), signed_data)


def digest_json_of(datapackage_sha256: str, signed_data: Mapping[str, str] | None = None) -> bytes:
    """``digest_json`` from the ``sha256:<hex>`` of ``datapackage.json``, for a package whose
    ``datapackage.json`` was streamed and hashed as written, never held whole."""
    digest: dict[str, object] = {"path": "datapackage.json", "hash": datapackage_sha256}
    if signed_data is not None:
        digest["signedData"] = dict(signed_data)
    return json.dumps(digest, indent=2).encode("utf-8")
