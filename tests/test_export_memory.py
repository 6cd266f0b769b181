"""Export memory stays flat in the number of captures: manifests are read when used, not held."""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path

import pytest

import archive.export_manifests as export_manifests
import archive.export_sort as export_sort
from archive.export import export_wacz, select_captures
from archive.local_store import LocalStore
from archive.manifest import CaptureManifest
from tests.cli_runs import archive_of_demo_runs, wacz_validate


def live_manifests() -> int:
    """Parsed capture manifests still reachable in this process."""
    gc.collect()
    # type(), not isinstance(): a lazy proxy among the objects (Airflow's) must not be touched.
    return sum(1 for item in gc.get_objects() if type(item) is CaptureManifest)


def test_selection_and_export_never_hold_every_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(archive_of_demo_runs(tmp_path, 3))  # pages, then two runs of revisits
    before = live_manifests()
    selection = select_captures(store)
    assert len(selection) >= 30
    assert live_manifests() == before  # the selection is keys, not parsed manifests
    counts: list[int] = []
    read = export_manifests.read_manifest

    def counting_read(store: LocalStore, key: str) -> CaptureManifest:
        counts.append(live_manifests())
        return read(store, key)

    monkeypatch.setattr(export_manifests, "read_manifest", counting_read)
    result = export_wacz(store, selection, tmp_path / "all.wacz", title="all", actor="test")
    assert len(result.captures) == len(selection)
    # Only the revisits' original responses (one per page) stay in memory, never the selection.
    assert max(counts) - before <= len(selection) // 2, max(counts)
    check = wacz_validate(tmp_path / "all.wacz")
    assert check.returncode == 0, check.stdout + check.stderr


def synthetic_archive(root: Path, segments: int, monkeypatch: pytest.MonkeyPatch) -> LocalStore:
    """The export benchmark's archive (pages, media, then a revisit of every page, with their
    WARCs, manifests and custody events), with 4 KiB media so it builds in seconds: 82
    captures per segment."""
    import bench.export as synthetic

    monkeypatch.setattr(synthetic, "MEDIA_BYTES", 4096)
    monkeypatch.setattr(synthetic, "SEGMENT_BYTES", 2**20)  # so "megabytes" counts segments
    synthetic.build_archive(root, segments, workers=1)
    return LocalStore(root)


def make_room_in_interned_strings(held: int = 100_000) -> None:
    """Leave CPython's table of interned strings room for ``held`` more before it grows.

    pathlib interns every part of every path it parses, so each manifest an export reads
    (its key names the capture) adds an entry to that one process-wide table. The entries go
    when the paths do, but the table is only rebuilt when its free slots run out, and the
    rebuilt table (megabytes in a test process) is a single new allocation: whichever export
    it lands in gains a step unrelated to its size. Growing the table while ``held`` strings
    are alive, then letting them go, leaves it that many free slots.
    """
    keep = [sys.intern(f"export-memory-held-{i}") for i in range(held)]
    tracemalloc.start()
    try:
        # Intern and drop strings until the table is rebuilt (a jump in traced memory, the
        # new table): it is then sized for ``keep`` too, and keeps those slots free.
        start = tracemalloc.get_traced_memory()[0]
        for i in range(10 * held):
            sys.intern(f"export-memory-churn-{i}")
            if tracemalloc.get_traced_memory()[0] - start > 256 * 1024:
                break
        else:
            raise AssertionError("the interned-string table was never rebuilt")
    finally:
        tracemalloc.stop()
    del keep


def traced_export_peak(store: LocalStore, out: Path) -> tuple[int, int]:
    """(captures exported, peak bytes Python allocated while exporting the selection)."""
    selection = select_captures(store)
    make_room_in_interned_strings()
    gc.collect()
    tracemalloc.start()
    try:
        export_wacz(store, selection, out, title="memory", actor="test")
        return len(selection), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_per_capture_stays_under_a_kibibyte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CDXJ sorter buffers up to BUFFER_CHARS (1 Mi characters) of lines before it spills
    # a sorted run: more than these archives' whole index (about 380 characters a capture),
    # so unshrunk the buffer would grow with the captures here and count ~500 bytes each,
    # though it is bounded at scale. Shrunk, both exports spill and merge, each holding one
    # full buffer, and the slope is what the export keeps per capture.
    monkeypatch.setattr(export_sort, "BUFFER_CHARS", 16 * 1024)
    monkeypatch.setattr(export_sort, "MERGE_FAN_IN", 4)
    # Each archive is exported once: an export's own custody event lists every capture, and a
    # second export of the same archive carries (and parses) that event as evidence.
    warm = synthetic_archive(tmp_path / "warm", 1, monkeypatch)
    traced_export_peak(warm, tmp_path / "warm.wacz")  # imports and caches, measured by neither
    small = synthetic_archive(tmp_path / "small", 3, monkeypatch)
    large = synthetic_archive(tmp_path / "large", 12, monkeypatch)
    few, few_peak = traced_export_peak(small, tmp_path / "small.wacz")
    many, many_peak = traced_export_peak(large, tmp_path / "large.wacz")
    assert many == 4 * few, (few, many)
    per_capture = (many_peak - few_peak) / (many - few)
    # Held per capture before streaming: a parsed original per revisit, every custody event
    # with its bytes, sets of ids and paths, a ZipInfo and a PackageFile per entry, the CDXJ
    # lines and datapackage.json whole: about 8 KiB. What is left is packed (keys, digests).
    assert per_capture <= 1024, f"{per_capture:.0f} bytes per capture ({few_peak}, {many_peak})"
    check = wacz_validate(tmp_path / "large.wacz")
    assert check.returncode == 0, check.stdout + check.stderr
