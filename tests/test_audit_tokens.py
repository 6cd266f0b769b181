"""The audit verifies RFC 3161 tokens in its worker pool, streamed record by record."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import pytest

from archive.audit import audit_archive
from archive.local_store import LocalStore
from archive.timestamps import _timestamp_query, token_key
from archive.token_verifier import verify_tokens
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    TsaPki,
    build_response,
    tsa_pki_fixture,
)

RECORDS = 12


class ThreadRecordingStore(LocalStore):
    """A local store that notes which thread read each token (where verification runs)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.token_readers: set[str] = set()

    def read_bytes(self, key: str) -> bytes:
        if key.endswith(".tsr"):
            self.token_readers.add(threading.current_thread().name)
        return super().read_bytes(key)


def stamp(store: LocalStore, pki: TsaPki, key: str, data: bytes, serial: int) -> str:
    """Store a record and a token for it signed by ``pki`` (no HTTP: the TSA's own signer)."""
    store.put_record(key, data)
    query = _timestamp_query(hashlib.sha256(data).digest(), serial)
    token = build_response(query, pki, serial, nonce_delta=0, other_imprint=False)
    store.put_record(token_key(key, "local"), token)
    return token_key(key, "local")


@pytest.fixture
def stamped(tmp_path: Path, tsa_pki: TsaPki) -> ThreadRecordingStore:
    store = ThreadRecordingStore(tmp_path / "archive")
    for n in range(RECORDS):
        key = f"captures/s/2026/01/01/{n:04d}.record"  # not .json: no manifest
        stamp(store, tsa_pki, key, json.dumps({"n": n}).encode(), n + 1)
    return store


def test_tokens_are_verified_in_the_audit_workers(
    stamped: ThreadRecordingStore, tsa_pki: TsaPki
) -> None:
    report = audit_archive(stamped, workers=4, timestamp_roots=tsa_pki.root_pem)
    assert report.totals.timestamps_verified == RECORDS
    assert stamped.token_readers and all(
        name.startswith("audit") for name in stamped.token_readers
    ), stamped.token_readers


def test_a_token_without_its_record_is_reported_once(
    stamped: ThreadRecordingStore, tsa_pki: TsaPki
) -> None:
    record = "captures/s/2026/01/01/0003.record"
    (stamped.root / record).unlink()
    report = audit_archive(stamped, workers=2, timestamp_roots=tsa_pki.root_pem)
    assert [(f.kind, f.key) for f in report.failures] == [("missing", record)]
    assert report.totals.timestamps_verified == RECORDS - 1


@pytest.mark.parametrize("processes", [1, 2])
def test_worker_processes_verify_as_this_process_does(
    stamped: ThreadRecordingStore, tsa_pki: TsaPki, processes: int
) -> None:
    items = []
    for n in range(RECORDS):
        key = f"captures/s/2026/01/01/{n:04d}.record"
        digest = hashlib.sha256(stamped.read_bytes(key)).digest()
        items.append((token_key(key, "local"), stamped.read_bytes(token_key(key, "local")), digest))
    wrong_digest = (items[0][0], items[0][1], hashlib.sha256(b"edited").digest())
    garbage = ("captures/x.local.tsr", b"not a token", items[1][2])
    checks = verify_tokens(
        [*items, wrong_digest, garbage], tsa_pki.root_pem, processes=processes, threshold=4
    )
    outcomes = sorted((key, outcome.value) for key, outcome, _ in checks)
    passed = [key for key, outcome in outcomes if outcome == "passed"]
    assert sorted(passed) == sorted(key for key, _, _ in items)
    failed = sorted(key for key, outcome in outcomes if outcome == "failed")
    assert failed == sorted([garbage[0], wrong_digest[0]])
