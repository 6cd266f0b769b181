"""Court-ready export: a WACZ 1.1.1 package of chosen captures, with the evidence behind them.

Package layout::

    archive/<WARC file name>              the archive's WARC objects, whole, byte-identical
    indexes/index.cdxj                    sorted CDXJ over their response/revisit/resource records
    pages/pages.jsonl                     one line per selected capture
    evidence/summary.html                 every item with its hashes, for a human reader
    evidence/manifest-<capture id>.json   stored capture manifests, verbatim
    evidence/custody-<chain>-<seq>.json   custody events mentioning the captures or WARCs, verbatim
    evidence/custody-<chain>-verification.json   the chain's verification when exported
    evidence/text-<sha256>.txt            extracted texts
    evidence/post-…, screenshot-…, dom-…, media-…   what captures kept beside their WARCs
    evidence/transcript-…                 transcripts of the captures' media: the linking
                                          record, the transcript JSON and its WebVTT
    datapackage.json, datapackage-digest.json

The evidence files sit one folder deep because py-wacz's validator (0.6) matches each file to
``datapackage.json`` by its last two path components: a deeper file is reported as unlisted.

A revisit capture brings the WARC of its original response too (``export_plan``). Every
object is checked against its SHA-256 as it is copied; the package is written under a
temporary name and renamed only when complete; then an ``exported`` event naming the
package's SHA-256 is appended to each source's custody chain.

Memory stays flat in the number of captures: manifests are read as each pass needs them
(``export_manifests``), what must be remembered per capture sits in a scratch database or in
packed buffers (``export_scratch``, ``export_zip``), the CDXJ lines are sorted through files
(``export_sort``) and ``datapackage.json`` is streamed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archive.custody import CustodyEvent, CustodyLog, default_actor
from archive.export_custody import ChainEvidence, chain_events, verification_json
from archive.export_manifests import StoredManifests
from archive.export_metadata import (
    WACZ_VERSION,
    datapackage_chunks,
    digest_json_of,
    pages_jsonl_lines,
)
from archive.export_plan import ExportError, ExportPlan, plan_export
from archive.export_scratch import DigestColumn, ExportScratch
from archive.export_select import UnknownCaptureError, select_captures
from archive.export_signing import PackageSignature, PackageSigner, sign_datapackage
from archive.export_summary import SummaryHeader, SummaryItem, SummaryWarc, summary_chunks
from archive.export_zip import CdxjCollector, CopyingReader, PackageFile, PackageZip
from archive.hashing import stream_sha256
from archive.manifest import CaptureManifest, ObjectRef
from archive.store import CHUNK_SIZE, ObjectNotFoundError, ObjectStore
from archive.versions import software_string
from transcription.records import TranscriptRecord

__all__ = [
    "ExportError",
    "ExportResult",
    "PackageFile",
    "PackageSignature",
    "PackageSigner",
    "UnknownCaptureError",
    "export_wacz",
    "select_captures",
]


@dataclass(frozen=True)
class ExportResult:
    """The written package: where, its SHA-256 and size, what it holds."""

    path: Path
    sha256: str
    size: int
    captures: tuple[str, ...]
    files: Sequence[PackageFile]  # every entry, datapackage.json and its digest last (packed)
    datapackage_sha256: str
    # Problems a reader of the package must know about (a broken chain, an unbound manifest).
    warnings: tuple[str, ...] = ()
    # (chain, sequence) of the ``exported`` custody events appended after writing.
    custody_events: tuple[tuple[str, int], ...] = ()
    # The WACZ-auth signature in datapackage-digest.json; None for an unsigned package.
    signature: PackageSignature | None = None


def _copy_warcs(
    package: PackageZip, store: ObjectStore, plan: ExportPlan, cdxj: CdxjCollector
) -> dict[str, int]:
    """Copy each WARC whole (stored, not deflated), indexing and hash-checking the same bytes;
    returns each WARC's size by package path."""
    sizes: dict[str, int] = {}
    for warc in plan.warcs.values():
        try:
            size = store.size(warc.key)
            with (
                store.open(warc.key) as source,
                package.entry(warc.path, stored=True, size=size) as entry,
            ):
                reader = CopyingReader(source, entry)
                try:
                    cdxj.index(reader, warc.path.removeprefix("archive/"))
                except Exception as err:  # warcio raises several kinds on a damaged WARC
                    raise ExportError(
                        f"WARC object {warc.key} cannot be read: {err}; run `osint-archive audit`"
                    ) from err
                reader.drain()
        except ObjectNotFoundError:
            raise ExportError(f"WARC object {warc.key} is missing from the archive") from None
        copied = package.last
        if copied.sha256 != warc.sha256:
            raise ExportError(
                f"WARC object {warc.key} no longer matches its SHA-256 (read {copied.sha256}); "
                "run `osint-archive audit`"
            )
        sizes[warc.path] = copied.size
    return sizes


def _copy_object(
    package: PackageZip, store: ObjectStore, key: str, sha256: str, path: str, stored: bool = False
) -> None:
    """Copy a content-addressed object, refusing one that no longer matches its hash."""
    try:
        with store.open(key) as source, package.entry(path, stored=stored) as entry:
            while chunk := source.read(CHUNK_SIZE):
                entry.write(chunk)
    except ObjectNotFoundError:
        raise ExportError(f"object {key} is missing from the archive") from None
    if package.last.sha256 != sha256:
        raise ExportError(f"object {key} no longer matches its SHA-256; run `osint-archive audit`")


def _custody_note(
    manifest: CaptureManifest, manifest_sha: str, chains: dict[str, ChainEvidence]
) -> tuple[str, str | None]:
    """How the capture is bound into its custody chain, and a warning when it is not."""
    chain = chains[manifest.source_id]
    binding = chain.binding(manifest.capture_id)
    if binding is None:
        return "not listed in a captured event", (
            f"capture {manifest.capture_id} is not listed in custody chain {chain.chain}"
        )
    seq, listed = binding
    if listed != manifest_sha:
        return f"event {seq} lists another manifest hash", (
            f"capture {manifest.capture_id}: custody event {seq} of {chain.chain} lists manifest "
            f"SHA-256 {listed}, the stored manifest has {manifest_sha}"
        )
    return f"{chain.chain} event {seq}: manifest SHA-256 matches", None


# Media are compressed already: stored as they are, not deflated again.
MEDIA_SUFFIXES = {"video/mp4": ".mp4", "video/mp2t": ".ts", "video/webm": ".webm",
                  "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "image/jpeg": ".jpg",
                  "image/png": ".png", "image/webp": ".webp"}  # fmt: skip


def _captured_objects(manifest: CaptureManifest) -> list[tuple[str, str, str, bool]]:
    """(package path, key, sha256, store uncompressed) of what a capture kept beside its WARC:
    the post record, media files with their metadata, the screenshot and rendered DOM."""
    found: list[tuple[str, ObjectRef, bool]] = []
    if manifest.post is not None:
        post = ObjectRef(key=manifest.post.key, sha256=manifest.post.sha256)
        found.append((f"post-{post.sha256}.json", post, False))
    if manifest.browser is not None:
        shot, dom = manifest.browser.screenshot, manifest.browser.dom
        found += [(f"screenshot-{shot.sha256}.png", shot, True)]
        found += [(f"dom-{dom.sha256}.html", dom, False)]
    for media in manifest.media:
        content_type = (media.content_type or "").split(";")[0].strip().lower()
        suffix = MEDIA_SUFFIXES.get(content_type, "")
        media_ref = ObjectRef(key=media.key, sha256=media.sha256)
        found.append((f"media-{media.sha256}{suffix}", media_ref, True))
        refs = [("info", ".json", media.info_json), ("thumbnail", "", media.thumbnail)]
        refs += [(f"subtitles-{lang}", "", ref) for lang, ref in media.subtitles.items()]
        found += [(f"media-{what}-{ref.sha256}{ext}", ref, False) for what, ext, ref in refs if ref]
    return [(f"evidence/{name}", ref.key, ref.sha256, raw) for name, ref, raw in found]


def _write_transcripts(package: PackageZip, store: ObjectStore, media_shas: Iterable[str]) -> None:
    """Every transcript of the selected captures' media (``media_shas``, sorted), by every
    model: the record as stored (its hash is in a ``transcribed`` custody event) and the two
    objects it names."""
    for media_sha in media_shas:
        for key in store.list_keys(f"transcripts/{media_sha}/"):
            data = store.read_bytes(key)
            record = TranscriptRecord.model_validate_json(data)
            name = f"{media_sha}-{record.model_id}"
            package.add_bytes(f"evidence/transcript-record-{name}.json", data)
            transcript, vtt = record.transcript, record.webvtt
            path = f"evidence/transcript-{name}.json"
            _copy_object(package, store, transcript.key, transcript.sha256, path)
            _copy_object(package, store, vtt.key, vtt.sha256, f"evidence/transcript-{name}.vtt")


def _write_evidence(
    package: PackageZip, store: ObjectStore, plan: ExportPlan, created: str, scratch: ExportScratch
) -> tuple[DigestColumn, dict[str, ChainEvidence]]:
    """Manifests, texts and custody events; returns the selected manifests' SHA-256s (in
    selection order) and chain evidence."""
    manifest_sha = DigestColumn()
    # Custody: the captures, their manifests and WARCs, and the transcripts of their media.
    wanted = scratch.table()
    sources: set[str] = set()
    selected = len(plan.selected)
    # One pass per kind of evidence, each manifest read as it comes (memory stays flat).
    for manifest in plan.manifests(store):
        stored = package.add_bytes(
            f"evidence/manifest-{manifest.capture_id}.json", store.read_bytes(manifest.key)
        )
        if len(manifest_sha) < selected:  # the selection comes first, then extra originals
            manifest_sha.append(stored.sha256)
        wanted.add(manifest.capture_id)
        wanted.add(manifest.key)
        sources.add(manifest.source_id)
    texts, media = scratch.table(), scratch.table()
    copied = scratch.table()
    for manifest in plan.selected:
        if manifest.text is not None:
            texts.add(manifest.text.sha256, manifest.text.key)
        for item in manifest.media:
            wanted.add(item.sha256)
            media.add(item.sha256)
        for path, key, sha256, raw in _captured_objects(manifest):
            if copied.add(path):
                _copy_object(package, store, key, sha256, path, stored=raw)
    for sha256, key in texts.items():
        _copy_object(package, store, key, sha256, f"evidence/text-{sha256}.txt")
    _write_transcripts(package, store, (sha256 for sha256, _ in media.items()))
    for warc in plan.warcs.values():
        wanted.add(warc.key)
        wanted.add(warc.sha256)
    chains: dict[str, ChainEvidence] = {}
    for name in sorted(sources):
        chain = chains[name] = ChainEvidence(
            name, CustodyLog(store, name).verify(), scratch.table()
        )
        for record in chain_events(store, chain, wanted):
            package.add_bytes(f"evidence/custody-{name}-{record.seq:010d}.json", record.data)
        package.add_bytes(
            f"evidence/custody-{name}-verification.json", verification_json(chain.check, created)
        )
    return manifest_sha, chains


def _summary_items(
    plan: ExportPlan,
    manifest_sha: DigestColumn,
    chains: dict[str, ChainEvidence],
    warnings: list[str],
) -> Iterator[SummaryItem]:
    """The summary's rows, made one at a time; custody problems are added to ``warnings``."""
    for index, m in enumerate(plan.selected):
        note, warning = _custody_note(m, manifest_sha[index], chains)
        if warning:
            warnings.append(warning)
        original = plan.originals.get(m.capture_id) if m.warc.record_type == "revisit" else None
        yield SummaryItem(
            capture_id=m.capture_id,
            source_id=m.source_id,
            url=m.final_url,
            requested_url=m.requested_url,
            captured_at=m.captured_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC"),
            status=m.status,
            title=m.text.title if m.text else "",
            record_type=m.warc.record_type,
            payload_sha256=m.payload_sha256,
            warc_path=plan.warc_of(m).path,
            warc_sha256=m.warc.sha256,
            manifest_path=f"evidence/manifest-{m.capture_id}.json",
            manifest_sha256=manifest_sha[index],
            custody=note,
            text_sha256=m.text.sha256 if m.text else None,
            original_warc_path=original.warc.path if original else None,
        )


def _write_summary(
    package: PackageZip,
    header: SummaryHeader,
    plan: ExportPlan,
    manifest_sha: DigestColumn,
    chains: dict[str, ChainEvidence],
    sizes: dict[str, int],
) -> list[str]:
    """Stream ``evidence/summary.html`` into the package; returns the warnings it found."""
    warnings: list[str] = []
    warcs = [
        SummaryWarc(w.path, w.sha256, sizes[w.path], w.key, w.reason) for w in plan.warcs.values()
    ]
    checks = [c.check for c in chains.values()]
    items = _summary_items(plan, manifest_sha, chains, warnings)
    with package.entry("evidence/summary.html", stored=False) as entry:
        for chunk in summary_chunks(header, items, len(plan.selected), warcs, checks):
            entry.write(chunk.encode("utf-8"))
    warnings += [
        f"custody chain {c.chain} is broken at event {c.check.broken_at}: {c.check.reason}"
        for c in chains.values()
        if not c.check.intact
    ]
    return warnings


def export_wacz(
    store: ObjectStore,
    manifests: Sequence[CaptureManifest],
    out_path: Path,
    *,
    title: str,
    description: str = "",
    actor: str | None = None,
    allow_damaged: bool = False,
    signer: PackageSigner | None = None,
) -> ExportResult:
    """Write a WACZ package of the captures to ``out_path`` and record the export in custody.

    ``actor`` names who made the export (default: the operating-system user at the host).
    With a ``signer``, ``datapackage-digest.json`` carries a WACZ-auth signature by its key
    (time-stamped when it has TSAs); without one the package is unsigned.
    Raises ``ExportError`` when an object is missing or no longer matches its hash, or (unless
    ``allow_damaged``) when a manifest or custody chain fails its check, leaving no partial
    package behind.
    """
    if not manifests:
        raise ValueError("nothing to export: no captures were selected")
    out_path = Path(out_path)
    actor = actor or default_actor()
    now = datetime.now(UTC)
    created = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    header = SummaryHeader(title, description, created, software_string(), actor)
    plan = plan_export(store, manifests)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.partial")
    try:
        package = PackageZip(partial, now)
        cdxj = CdxjCollector()
        try:
            sizes = _copy_warcs(package, store, plan, cdxj)
            with package.entry("indexes/index.cdxj", stored=False) as entry:
                cdxj.write_sorted(entry)
            with package.entry("pages/pages.jsonl", stored=False) as entry:
                for line in pages_jsonl_lines(title, plan.selected):
                    entry.write(line)
            with ExportScratch() as scratch:
                manifest_sha, chains = _write_evidence(package, store, plan, created, scratch)
                warnings = _write_summary(package, header, plan, manifest_sha, chains, sizes)
            if warnings and not allow_damaged:
                raise ExportError(
                    f"the evidence does not match its custody record: {warnings[0]} "
                    "(run `osint-archive audit`; --allow-damaged packages it with the warning)"
                )
            listed = package.files  # datapackage.json lists every entry written before it
            with package.entry("datapackage.json", stored=False) as entry:
                for chunk in datapackage_chunks(
                    listed,
                    title=title,
                    description=description,
                    created=created,
                    software=header.software,
                ):
                    entry.write(chunk)
            datapackage_sha = package.last.sha256
            signature = None
            if signer is not None:
                signature = sign_datapackage(
                    signer, f"sha256:{datapackage_sha}", created=created, software=header.software
                )
            signed_data = signature.signed_data if signature else None
            package.add_bytes(
                "datapackage-digest.json", digest_json_of(f"sha256:{datapackage_sha}", signed_data)
            )
        finally:
            cdxj.discard()
            package.close()
        with partial.open("rb") as stream:
            sha256 = stream_sha256(stream).hexdigest()
        size = partial.stat().st_size
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    signed_by = signature.key_fingerprint if signature else None
    events = _record_export(
        store, plan, manifest_sha, actor, out_path.name, title, sha256, size, signed_by
    )
    return ExportResult(
        path=out_path,
        sha256=sha256,
        size=size,
        captures=_capture_ids(plan.selected),
        files=package.files,
        datapackage_sha256=datapackage_sha,
        warnings=tuple(warnings),
        custody_events=events,
        signature=signature,
    )


def _capture_ids(selected: Sequence[CaptureManifest]) -> tuple[str, ...]:
    """The selected capture ids, from the manifest keys when the selection is stored."""
    if isinstance(selected, StoredManifests):  # captures/…/<capture id>.json: no reading
        return tuple(key.rsplit("/", 1)[-1].removesuffix(".json") for key in selected.keys)
    return tuple(m.capture_id for m in selected)


def _record_export(
    store: ObjectStore,
    plan: ExportPlan,
    manifest_sha: DigestColumn,
    actor: str,
    filename: str,
    title: str,
    sha256: str,
    size: int,
    signed_by: str | None,
) -> tuple[tuple[str, int], ...]:
    """Append an ``exported`` event to each source chain the package draws on."""
    appended = []
    by_chain: dict[str, list[list[str]]] = {}
    # The event lists every capture with its manifest hash: inherently one entry per capture.
    for index, m in enumerate(plan.selected):
        by_chain.setdefault(m.source_id, []).append([m.capture_id, manifest_sha[index]])
    for chain, captures in sorted(by_chain.items()):
        details = {
            "filename": filename,
            "title": title,
            "sha256": sha256,
            "bytes": size,
            "format": f"WACZ {WACZ_VERSION}",
            "captures": captures,
            "warcs": [w.key for w in plan.warcs.values()],
        }
        if signed_by:
            details["signing_key"] = signed_by  # the key whose signature the package carries
        event = CustodyEvent(f"exported:{sha256}", "exported", f"sha256:{sha256}", details)
        for stored in CustodyLog(store, chain, actor=actor).append([event]):
            appended.append((chain, int(stored["seq"])))
    return tuple(appended)
