"""The audit's memory is flat in the number of captures: what it learns per capture is on disk.

A real demo run's archive gets N and then 4N more captures (its manifest cloned under new ids,
listed by custody, as ``bench/audit_scale.py`` does); the audit's peak traced heap must not
grow with them. Held in Python, the per-capture lookups cost about 1 KB per capture.
"""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

import pytest

from archive.audit import audit_archive
from archive.local_store import LocalStore
from bench.audit_scale import add_captures
from tests.test_audit_tamper import run_demo_archive

CAPTURES = 500
# Bytes the peak may grow per capture added: one directory listing of names is held while
# it is walked (all the synthetic captures share one day), about 70 bytes each.
ALLOWED_PER_CAPTURE = 200


@pytest.fixture(scope="module")
def run_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo_archive(tmp_path_factory.mktemp("audit-memory"), runs=1)


def archive_with_captures(run_archive: Path, root: Path, captures: int) -> LocalStore:
    shutil.copytree(run_archive, root)
    store = LocalStore(root)
    add_captures(store, captures)
    return store


def peak_traced_bytes(store: LocalStore) -> int:
    tracemalloc.start()
    try:
        report = audit_archive(store, workers=4)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.intact, report.failures[:3]
    return peak


def test_audit_peak_memory_does_not_grow_with_captures(run_archive: Path, tmp_path: Path) -> None:
    small = archive_with_captures(run_archive, tmp_path / "small", CAPTURES)
    large = archive_with_captures(run_archive, tmp_path / "large", 4 * CAPTURES)
    # A first audit fills the bounded caches below the audit (pydantic's string cache, the
    # interpreter's interned strings) so that only what the audit itself holds is compared.
    peak_traced_bytes(large)
    growth = peak_traced_bytes(large) - peak_traced_bytes(small)
    assert growth < 3 * CAPTURES * ALLOWED_PER_CAPTURE, f"{growth} bytes for {3 * CAPTURES}"
