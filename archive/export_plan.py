"""What an export must contain: the selected captures, and every WARC their replay needs.

A revisit record replays only beside the response it refers to, so a revisit capture brings
the WARC of its original response too, found by walking ``previous_capture`` manifests back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from archive.export_manifests import StoredManifests
from archive.manifest import CaptureManifest, read_manifest
from archive.store import ObjectNotFoundError, ObjectStore


class ExportError(Exception):
    """The export cannot be made faithfully: a missing or corrupt object, an unreadable WARC."""


@dataclass
class PlannedWarc:
    """A WARC object to include, its path in the package, and the captures that need it."""

    key: str
    sha256: str
    path: str
    selected: list[str] = field(default_factory=list)
    originals_for: list[str] = field(default_factory=list)

    @property
    def reason(self) -> str:
        reasons = []
        if self.selected:
            reasons.append(f"holds {len(self.selected)} selected capture(s)")
        if self.originals_for:
            reasons.append(f"holds the original response of {len(self.originals_for)} revisit(s)")
        return "; ".join(reasons)


@dataclass
class ExportPlan:
    selected: Sequence[CaptureManifest]  # a StoredManifests for large selections
    originals: dict[str, CaptureManifest]  # revisit capture id -> capture with the response
    warcs: dict[str, PlannedWarc]  # by WARC object key, in package order

    def warc_of(self, manifest: CaptureManifest) -> PlannedWarc:
        return self.warcs[manifest.warc.key]

    def manifests(self) -> Iterator[CaptureManifest]:
        """Selected captures, then the originals they need that were not selected, one at a
        time (a large selection is read from the store as it goes)."""
        chosen: set[str] = set()
        for manifest in self.selected:
            chosen.add(manifest.capture_id)
            yield manifest
        extra = {m.capture_id: m for m in self.originals.values() if m.capture_id not in chosen}
        yield from extra.values()


def _is_original_of(candidate: CaptureManifest, revisit: CaptureManifest) -> bool:
    return (
        candidate.warc.record_type == "response"
        and candidate.truncated is None
        and candidate.payload_sha256 == revisit.payload_sha256
    )


def original_response(
    store: ObjectStore,
    revisit: CaptureManifest,
    known: dict[str, CaptureManifest] | None = None,
    loaded: dict[str, CaptureManifest] | None = None,
) -> CaptureManifest:
    """The earlier capture whose WARC holds the response a revisit capture refers to.

    Walks ``previous_capture`` back to a complete (not truncated) ``response`` with the same
    payload digest, which is the record the revisit's ``WARC-Refers-To`` names. ``known``
    maps capture ids already walked to their original, so a series of daily revisits of one
    URL is walked once, not once per revisit; ``loaded`` holds manifests already in memory
    (the selection), which are used rather than read again.
    """
    known = {} if known is None else known
    loaded = {} if loaded is None else loaded
    walked: list[str] = []
    current, seen = revisit, {revisit.capture_id}
    while not _is_original_of(current, revisit):
        if current.capture_id in known and _is_original_of(known[current.capture_id], revisit):
            current = known[current.capture_id]
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
    for capture_id in walked:
        known[capture_id] = current
    return current


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

    known: dict[str, CaptureManifest] = {}
    # A selection read from the store is walked from the store too: holding every manifest
    # to save reading a few earlier ones would make memory grow with the selection.
    lazy = isinstance(manifests, StoredManifests)
    loaded = {} if lazy else {m.capture_id: m for m in manifests}
    for manifest in manifests:
        warc_for(manifest).selected.append(manifest.capture_id)
        if manifest.warc.record_type == "revisit":
            original = original_response(store, manifest, known, loaded)
            plan.originals[manifest.capture_id] = original
            warc_for(original).originals_for.append(manifest.capture_id)
    return plan
