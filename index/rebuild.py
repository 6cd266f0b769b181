"""Rebuild the search index from the archive alone: manifests, their text objects, and the
transcripts linked to their media."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from archive.manifest import CaptureManifest, iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from index.backend import SearchBackend
from index.documents import Document, capture_document, transcript_documents
from transcription.records import Transcript, TranscriptRecord

BATCH = 500


def is_indexed(manifest: CaptureManifest) -> bool:
    """Captures whose text is new or changed get a document; unchanged ones add nothing."""
    return manifest.text is not None and manifest.text_status in ("new", "changed")


class SourceTags:
    """The tags a source had at capture time, read once per distinct options object."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.by_options: dict[str, tuple[str, ...]] = {}

    def of(self, manifest: CaptureManifest) -> tuple[str, ...]:
        key = manifest.source_options.key
        if key not in self.by_options:
            options = json.loads(self.store.read_bytes(key))
            self.by_options[key] = tuple(str(t) for t in options.get("tags", []))
        return self.by_options[key]


def manifest_documents(
    store: ObjectStore, manifests: Iterable[CaptureManifest], tags: SourceTags | None = None
) -> Iterator[Document]:
    """The page and post documents of ``manifests`` (those whose text is new or changed)."""
    tags = tags or SourceTags(store)
    for manifest in manifests:
        if not is_indexed(manifest) or manifest.text is None:
            continue
        text = store.read_bytes(manifest.text.key).decode("utf-8")
        yield capture_document(manifest, text, tags.of(manifest))


def record_documents(
    store: ObjectStore, record_key: str, tags: SourceTags | None = None
) -> list[Document]:
    """The transcript-segment documents of one transcript record."""
    tags = tags or SourceTags(store)
    record = TranscriptRecord.model_validate_json(store.read_bytes(record_key))
    transcript = Transcript.model_validate_json(store.read_bytes(record.transcript.key))
    manifest = read_manifest(store, record.manifest_key)
    return transcript_documents(record, transcript, manifest, tags.of(manifest))


def archived_documents(store: ObjectStore) -> Iterator[Document]:
    """Every page, post and transcript-segment document the archive holds."""
    tags = SourceTags(store)
    manifests = (read_manifest(store, key) for key in iter_manifest_keys(store))
    yield from manifest_documents(store, manifests, tags)
    for key in store.list_keys("transcripts/"):
        yield from record_documents(store, key, tags)


def rebuild_index(
    store: ObjectStore,
    index: SearchBackend,
    on_batch: Callable[[Counter[str]], None] | None = None,
) -> Counter[str]:
    """Index every archived document (idempotent: ids are deterministic); returns the number
    of documents of each kind. ``on_batch`` sees the running counts after each batch."""
    return index_in_batches(index, archived_documents(store), on_batch)


def index_in_batches(
    index: SearchBackend,
    documents: Iterable[Document],
    on_batch: Callable[[Counter[str]], None] | None = None,
) -> Counter[str]:
    """Index ``documents`` in batches of ``BATCH``; returns the number of each kind."""
    kinds: Counter[str] = Counter()
    batch: list[Document] = []
    for document in documents:
        batch.append(document)
        if len(batch) >= BATCH:
            index.index_documents(batch)
            kinds.update(d.kind for d in batch)
            batch = []
            if on_batch is not None:
                on_batch(kinds)
    index.index_documents(batch)
    kinds.update(d.kind for d in batch)
    return kinds
