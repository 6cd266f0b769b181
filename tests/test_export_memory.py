"""Export memory stays flat in the number of captures: manifests are read when used, not held."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import archive.export_manifests as export_manifests
from archive.export import export_wacz, select_captures
from archive.local_store import LocalStore
from archive.manifest import CaptureManifest
from tests.cli_runs import archive_of_demo_runs, wacz_validate


def live_manifests() -> int:
    """Parsed capture manifests still reachable in this process."""
    gc.collect()
    return sum(1 for item in gc.get_objects() if isinstance(item, CaptureManifest))


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
