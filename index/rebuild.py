"""Rebuild the search index from the archive alone: manifests and their text objects."""

from __future__ import annotations

import json
from collections.abc import Iterator

from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from index.backend import SearchBackend
from index.documents import Document, capture_document

BATCH = 500


def is_indexed(manifest: CaptureManifest) -> bool:
    """Captures whose text is new or changed get a document; unchanged ones add nothing."""
    return manifest.text is not None and manifest.text_status in ("new", "changed")


def archived_documents(store: ObjectStore) -> Iterator[Document]:
    """Every page document the archive holds, with the tags its source had at capture time."""
    tags_by_options: dict[str, tuple[str, ...]] = {}
    for key in iter_manifest_keys(store):
        manifest = read_manifest(store, key)
        if not is_indexed(manifest) or manifest.text is None:
            continue
        options_key = manifest.source_options.key
        if options_key not in tags_by_options:
            options = json.loads(store.read_bytes(options_key))
            tags_by_options[options_key] = tuple(str(t) for t in options.get("tags", []))
        text = store.read_bytes(manifest.text.key).decode("utf-8")
        yield capture_document(manifest, text, tags_by_options[options_key])


def rebuild_index(store: ObjectStore, index: SearchBackend) -> int:
    """Index every archived document (idempotent: ids are deterministic); returns the count."""
    batch: list[Document] = []
    count = 0
    for document in archived_documents(store):
        batch.append(document)
        if len(batch) >= BATCH:
            index.index_documents(batch)
            count, batch = count + len(batch), []
    index.index_documents(batch)
    return count + len(batch)
