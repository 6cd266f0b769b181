"""Indexing as a scheduled task: what some runs captured and transcribed, or everything."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

from archive.store import ObjectStore
from index.documents import Document
from index.rebuild import (
    SourceTags,
    index_in_batches,
    manifest_documents,
    rebuild_index,
    record_documents,
)
from osint_archive.pipeline import run_manifests
from osint_archive.scheduling.runs import RunRef
from osint_archive.settings import Settings


def _run_documents(
    store: ObjectStore, runs: Sequence[RunRef], record_keys: Sequence[str]
) -> Iterator[Document]:
    tags = SourceTags(store)
    records = dict.fromkeys(record_keys)
    for run in runs:
        manifests = run_manifests(store, run.source_id, run.run_id)
        yield from manifest_documents(store, manifests, tags)
        # A transcript made before this run (the same video seen again) is indexed again
        # with no harm: document ids are deterministic.
        for media in {m.sha256 for manifest in manifests for m in manifest.media}:
            records.update(dict.fromkeys(store.list_keys(f"transcripts/{media}/")))
    for key in records:
        yield from record_documents(store, key, tags)


def index_runs(
    settings: Settings, runs: Sequence[RunRef], record_keys: Sequence[str] = ()
) -> Counter[str]:
    """Index the pages and posts of ``runs``, the transcripts of their media and the
    transcript records named; with neither, everything archived. Idempotent: every document
    id is derived from the archive, so indexing twice changes nothing. Returns the number of
    documents of each kind."""
    store = settings.open_store()
    index = settings.open_index()
    try:
        if not runs and not record_keys:
            return rebuild_index(store, index)
        return index_in_batches(index, _run_documents(store, runs, record_keys))
    finally:
        index.close()
