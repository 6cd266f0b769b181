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


def datapackage_json(
    files: Sequence[PackageFile], *, title: str, description: str, created: str, software: str
) -> bytes:
    """``datapackage.json``: package metadata and every file with its SHA-256 and size."""
    package = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title,
        "description": description,
        "created": created,
        "software": software,
        "resources": [
            {
                "name": resource_name(f.path),
                "path": f.path,
                "hash": f"sha256:{f.sha256}",
                "bytes": f.size,
            }
            for f in files
        ],
    }
    return json.dumps(package, ensure_ascii=False, indent=2).encode("utf-8")


def datapackage_hash(datapackage: bytes) -> str:
    """``sha256:<hex>`` of ``datapackage.json`` as written: what the digest file and the
    signature carry."""
    return f"sha256:{hashlib.sha256(datapackage).hexdigest()}"


def digest_json(datapackage: bytes, signed_data: Mapping[str, str] | None = None) -> bytes:
    """``datapackage-digest.json``: the SHA-256 of ``datapackage.json`` as written, and the
    WACZ-auth ``signedData`` when the package is signed."""
    digest: dict[str, object] = {"path": "datapackage.json", "hash": datapackage_hash(datapackage)}
    if signed_data is not None:
        digest["signedData"] = dict(signed_data)
    return json.dumps(digest, indent=2).encode("utf-8")
