"""What an export must contain: the selected captures, and every WARC their replay needs.

A revisit record replays only beside the response it refers to, so a revisit capture brings
the WARC of its original response too, found by walking ``previous_capture`` manifests back.
The plan keeps a small reference to each original (its id, manifest key and WARC), never the
parsed manifest: a selection of a million revisits would otherwise hold a million manifests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from archive.export_manifests import StoredManifests
from archive.manifest import CaptureManifest, read_manifest
from archive.store import ObjectNotFoundError, ObjectStore


class ExportError(Exception):
    """The export cannot be made faithfully: a missing or corrupt object, an unreadable WARC."""


@dataclass
class PlannedWarc:
    """A WARC object to include, its path in the package, and how many captures need it."""

    key: str
    sha256: str
    path: str
    selected: int = 0  # selected captures it holds
    originals_for: int = 0  # revisits whose original response it holds

    @property
    def reason(self) -> str:
        reasons = []
        if self.selected:
            reasons.append(f"holds {self.selected} selected capture(s)")
        if self.originals_for:
            reasons.append(f"holds the original response of {self.originals_for} revisit(s)")
        return "; ".join(reasons)


@dataclass(frozen=True, slots=True)
class OriginalRef:
    """The capture holding a revisit's original response: only what the export needs of it
    (its manifest is read again when packaged), so a million revisits stay small."""

    manifest_key: str
    warc: PlannedWarc
    payload_digest: bytes  # the payload SHA-256, raw: half the size of its hex string

    @property
    def capture_id(self) -> str:
        # Manifests are stored as captures/<source>/<YYYY>/<MM>/<DD>/<capture id>.json.
        return self.manifest_key.rsplit("/", 1)[-1].removesuffix(".json")

    def is_original_of(self, revisit: CaptureManifest) -> bool:
        return self.payload_digest == bytes.fromhex(revisit.payload_sha256)


@dataclass
class ExportPlan:
    selected: Sequence[CaptureManifest]  # a StoredManifests for large selections
    # Capture id of every revisit walked (selected or passed on the way back) -> its original;
    # revisits of one original share one reference.
    originals: dict[str, OriginalRef]
    warcs: dict[str, PlannedWarc]  # by WARC object key, in package order

    def warc_of(self, manifest: CaptureManifest) -> PlannedWarc:
        return self.warcs[manifest.warc.key]

    def manifests(self, store: ObjectStore) -> Iterator[CaptureManifest]:
        """Selected captures, then the originals they need that were not selected, one at a
        time (a large selection is read from the store as it goes)."""
        # Keyed by manifest key, one entry per original: no set grows with the selection.
        pending = {original.manifest_key: original for original in self.originals.values()}
        for manifest in self.selected:
            if pending and manifest.warc.record_type == "response":
                pending.pop(manifest.key, None)
            yield manifest
        for key in pending:
            yield read_manifest(store, key)


def _is_original_of(candidate: CaptureManifest, revisit: CaptureManifest) -> bool:
    return (
        candidate.warc.record_type == "response"
        and candidate.truncated is None
        and candidate.payload_sha256 == revisit.payload_sha256
    )


def original_response(
    store: ObjectStore,
    revisit: CaptureManifest,
    known: dict[str, OriginalRef] | None = None,
    loaded: dict[str, CaptureManifest] | None = None,
    *,
    warc_for: Callable[[CaptureManifest], PlannedWarc],
) -> OriginalRef:
    """The earlier capture whose WARC holds the response a revisit capture refers to.

    Walks ``previous_capture`` back to a complete (not truncated) ``response`` with the same
    payload digest, which is the record the revisit's ``WARC-Refers-To`` names. ``known``
    maps capture ids already walked to their original, so a series of daily revisits of one
    URL is walked once, not once per revisit; ``loaded`` holds manifests already in memory
    (the selection), which are used rather than read again; ``warc_for`` names the planned
    WARC of the original found.
    """
    known = {} if known is None else known
    loaded = {} if loaded is None else loaded
    walked: list[str] = []
    current, seen = revisit, {revisit.capture_id}
    found: OriginalRef | None = None
    while not _is_original_of(current, revisit):
        cached = known.get(current.capture_id)
        if cached is not None and cached.is_original_of(revisit):
            found = cached
            break
        walked.append(current.capture_id)
        previous = current.previous_capture
        if previous is None or previous.capture_id in seen:
            raise ExportError(
                f"revisit capture {revisit.capture_id} ({revisit.final_url}): no earlier "
                f"capture holds its original response (walked back to {current.capture_id})"
            )
        seen.add(previous.capture_id)
        if previous.capture_id in loaded:
            current = loaded[previous.capture_id]
            continue
        try:
            current = read_manifest(store, previous.manifest_key)
        except ObjectNotFoundError:
            raise ExportError(
                f"revisit capture {revisit.capture_id}: earlier manifest "
                f"{previous.manifest_key} is missing from the archive"
            ) from None
    if found is None:
        found = OriginalRef(current.key, warc_for(current), bytes.fromhex(current.payload_sha256))
    for capture_id in walked:
        known[capture_id] = found
    return found


def plan_export(store: ObjectStore, manifests: Sequence[CaptureManifest]) -> ExportPlan:
    """The WARCs to include (each once, named uniquely) and each revisit's original."""
    plan = ExportPlan(manifests, {}, {})
    names: set[str] = set()

    def warc_for(manifest: CaptureManifest) -> PlannedWarc:
        found = plan.warcs.get(manifest.warc.key)
        if found is None:
            name = manifest.warc.filename
            if name in names:  # a resumed run can reuse a segment name for other bytes
                stem = name.removesuffix(".warc.gz")
                name = f"{stem}-{manifest.warc.sha256[:12]}.warc.gz"
            names.add(name)
            found = PlannedWarc(manifest.warc.key, manifest.warc.sha256, f"archive/{name}")
            plan.warcs[manifest.warc.key] = found
        return found

    # A selection read from the store is walked from the store too: holding every manifest
    # to save reading a few earlier ones would make memory grow with the selection.
    lazy = isinstance(manifests, StoredManifests)
    loaded = {} if lazy else {m.capture_id: m for m in manifests}
    for manifest in manifests:
        warc_for(manifest).selected += 1
        if manifest.warc.record_type == "revisit":
            original = original_response(store, manifest, plan.originals, loaded, warc_for=warc_for)
            original.warc.originals_for += 1
    return plan
