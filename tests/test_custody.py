"""The custody log of a real run: intact when untouched, and every kind of tampering is found.

The chain comes from ``osint-archive run`` over the demo site. Tampering is simulated on the
local store the way an intruder with file access would do it: make a read-only event file
writable, then edit, delete or swap it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import threading
from pathlib import Path

import pytest

from archive.custody import CustodyEvent, CustodyLog, custody_chains
from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys, read_manifest
from archive.store import ObjectStore
from tests.cli_runs import archive_of_demo_runs

SOURCE = "demo-news"


@pytest.fixture(scope="module")
def run_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The archive after three runs over the demo site (seven events), left untouched."""
    # Each run commits one segment: a `stored` and a `captured` event; the first run also
    # transcribes the demo video (a `transcribed` event).
    return archive_of_demo_runs(tmp_path_factory.mktemp("custody-run"), 3, SOURCE)


@pytest.fixture
def store(run_archive: Path, tmp_path: Path) -> LocalStore:
    """A private copy of the run's archive, free to tamper with."""
    root = tmp_path / "archive"
    shutil.copytree(run_archive, root)
    return LocalStore(root)


def event_path(store: LocalStore, seq: int) -> Path:
    return store.root / f"custody/{SOURCE}/{seq:010d}.json"


def rewrite(path: Path, data: bytes) -> None:
    """Overwrite a read-only evidence file (tampering needs write access first)."""
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    path.write_bytes(data)
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def test_the_chain_of_a_run_verifies_intact(store: LocalStore) -> None:
    assert custody_chains(store) == [SOURCE]
    check = CustodyLog(store, SOURCE).verify()
    assert check.intact, check.reason
    assert check.broken_at is None
    assert len(iter_manifest_keys(store)) == 30
    # Per run: the WARC stored, then one event listing its captures; once, the transcript.
    assert check.events == 7
    events = list(CustodyLog(store, SOURCE).events())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "stored"
    assert events[0]["prev_hash"] == "0" * 64
    assert all(e["actor"] for e in events)


def test_every_manifest_has_a_captured_event_binding_its_bytes(store: LocalStore) -> None:
    events = list(CustodyLog(store, SOURCE).events())
    listed = {
        capture_id: (event["subject"], manifest_sha256)
        for event in events
        if event["type"] == "captured"
        for capture_id, manifest_sha256 in event["details"]["captures"]
    }
    stored_warcs = {e["subject"] for e in events if e["type"] == "stored"}
    keys = iter_manifest_keys(store)
    assert len(listed) == len(keys) == 30
    for key in keys:
        manifest = read_manifest(store, key)
        warc_key, manifest_sha256 = listed[manifest.capture_id]
        assert manifest_sha256 == hashlib.sha256(store.read_bytes(key)).hexdigest()
        assert warc_key == manifest.warc.key
        assert manifest.warc.key in stored_warcs


def test_an_edited_event_is_detected_where_it_was_edited(store: LocalStore) -> None:
    path = event_path(store, 4)
    event = json.loads(path.read_bytes())
    event["details"]["url"] = "http://example.org/not-what-was-captured"
    rewrite(path, json.dumps(event, sort_keys=True).encode())
    check = CustodyLog(store, SOURCE).verify()
    assert not check.intact
    assert check.broken_at == 4
    assert "altered" in check.reason
    assert check.events == 3


def test_an_edited_event_with_a_recomputed_hash_breaks_the_next_link(store: LocalStore) -> None:
    from archive.custody import event_hash

    path = event_path(store, 4)
    event = json.loads(path.read_bytes())
    event["details"]["status"] = 404
    event["hash"] = event_hash(event)
    rewrite(path, json.dumps(event, sort_keys=True).encode())
    check = CustodyLog(store, SOURCE).verify()
    assert not check.intact
    assert check.broken_at == 5
    assert "does not follow" in check.reason


def test_a_deleted_event_is_detected(store: LocalStore) -> None:
    path = event_path(store, 6)
    path.unlink()
    check = CustodyLog(store, SOURCE).verify()
    assert not check.intact
    assert check.broken_at == 6
    assert check.events == 5


def test_a_deleted_last_event_is_detected(store: LocalStore) -> None:
    log = CustodyLog(store, SOURCE)
    last = log.head()[0]
    event_path(store, last).unlink()
    check = log.verify()
    assert not check.intact
    assert check.broken_at == last


def test_swapped_events_are_detected(store: LocalStore) -> None:
    third, fourth = event_path(store, 3), event_path(store, 4)
    a, b = third.read_bytes(), fourth.read_bytes()
    rewrite(third, b)
    rewrite(fourth, a)
    check = CustodyLog(store, SOURCE).verify()
    assert not check.intact
    assert check.broken_at == 3
    assert check.events == 2


def test_a_corrupt_event_file_is_detected(store: LocalStore) -> None:
    rewrite(event_path(store, 2), b"{ not json")
    check = CustodyLog(store, SOURCE).verify()
    assert (check.intact, check.broken_at) == (False, 2)
    assert "not JSON" in check.reason


@pytest.mark.parametrize("store_backend", ["local", "s3"])
def test_concurrent_appends_make_one_intact_chain(
    store_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shared: ObjectStore
    if store_backend == "local":
        shared = LocalStore(tmp_path / "archive")
    else:
        shared = request.getfixturevalue("s3_store_factory")()
    per_writer, batch = 30, 3
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str) -> None:
        # Each writer has its own log instance, as two processes would.
        log = CustodyLog(shared, "shared", actor=name)
        try:
            start.wait()
            for first in range(0, per_writer, batch):
                log.append(
                    CustodyEvent(f"{name}:{i}", "test", name, {"i": i})
                    for i in range(first, first + batch)
                )
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    log = CustodyLog(shared, "shared")
    check = log.verify()
    assert check.intact, check.reason
    assert check.events == 2 * per_writer
    ids = [e["event_id"] for e in log.events()]
    assert sorted(ids) == sorted(f"{n}:{i}" for n in ("alpha", "beta") for i in range(per_writer))
    # Each writer's own events keep their order in the chain.
    for name in ("alpha", "beta"):
        mine = [int(i.split(":")[1]) for i in ids if i.startswith(name)]
        assert mine == sorted(mine)


def test_newest_event_rewritten_with_a_recomputed_hash_is_detected(store: LocalStore) -> None:
    from archive.custody import event_hash

    log = CustodyLog(store, SOURCE)
    last = log.head()[0]
    path = event_path(store, last)
    event = json.loads(path.read_bytes())
    event["details"]["forged"] = True
    event["hash"] = event_hash(event)
    rewrite(path, json.dumps(event, sort_keys=True).encode())
    check = log.verify()
    assert not check.intact
    assert check.broken_at == last
    assert "head" in check.reason


def test_an_event_that_is_not_an_object_is_detected(store: LocalStore) -> None:
    rewrite(event_path(store, 3), b"[1, 2, 3]")
    check = CustodyLog(store, SOURCE).verify()
    assert (check.intact, check.broken_at) == (False, 3)
