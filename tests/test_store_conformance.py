"""One conformance suite for every ``ObjectStore`` backend."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from archive.keys import payload_key
from archive.store import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    put_payload,
    put_payload_bytes,
)


def test_payload_is_content_addressed(store: ObjectStore) -> None:
    data = b"evidence bytes\n" * 1000
    stored = put_payload(store, io.BytesIO(data))
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha
    assert stored.key == payload_key(sha)
    assert stored.key.startswith(f"objects/sha256/{sha[:2]}/{sha[2:4]}/")
    assert stored.size == len(data)
    assert stored.created is True
    assert store.exists(stored.key)
    assert store.size(stored.key) == len(data)
    with store.open(stored.key) as stream:
        assert stream.read() == data


def test_byte_ranges_read_only_what_was_asked(store: ObjectStore) -> None:
    data = bytes(range(256)) * 40
    stored = put_payload_bytes(store, data)
    for offset, length in ((0, 10), (1000, 2500), (len(data) - 7, 7), (5, 0)):
        with store.open_range(stored.key, offset, length) as stream:
            assert stream.read() == data[offset : offset + length]
    with store.open_range(stored.key, 100, 50) as stream:
        assert stream.read(20) == data[100:120]
        assert stream.read() == data[120:150]
    with pytest.raises(ObjectNotFoundError):
        store.open_range(payload_key("0" * 64), 0, 1).__enter__()


def test_same_payload_is_stored_once(store: ObjectStore) -> None:
    first = put_payload_bytes(store, b"same")
    second = put_payload_bytes(store, b"same")
    assert first.key == second.key
    assert first.created is True
    assert second.created is False
    assert list(store.list_keys("objects/")) == [first.key]


def test_empty_payload(store: ObjectStore) -> None:
    stored = put_payload_bytes(store, b"")
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert store.read_bytes(stored.key) == b""


def test_aborted_writer_leaves_nothing(store: ObjectStore) -> None:
    writer = store.payload_writer()
    writer.write(b"half written")
    writer.abort()
    assert list(store.list_keys("objects/")) == []


def test_record_is_created_once_and_never_replaced(store: ObjectStore) -> None:
    key = "captures/src/2026/01/02/abc.json"
    assert store.put_record(key, b'{"a": 1}') is True
    assert store.put_record(key, b'{"a": 1}') is False  # idempotent retry
    with pytest.raises(ObjectExistsError):
        store.put_record(key, b'{"a": 2}')
    assert store.read_bytes(key) == b'{"a": 1}'


def test_records_outside_the_layout_are_refused(store: ObjectStore) -> None:
    for bad_key in ("state/x", "objects/sha256/aa/bb/cc", "../etc/passwd", "captures/../state/x"):
        with pytest.raises(ValueError):
            store.put_record(bad_key, b"x")


def test_state_is_mutable(store: ObjectStore) -> None:
    store.put_state("state/cursor/src.json", b"1")
    store.put_state("state/cursor/src.json", b"2")
    assert store.read_bytes("state/cursor/src.json") == b"2"
    with pytest.raises(ValueError):
        store.put_state("captures/src/x.json", b"1")


def test_missing_object(store: ObjectStore) -> None:
    missing = "captures/none/2026/01/01/nothing.json"
    assert store.exists(missing) is False
    with pytest.raises(ObjectNotFoundError):
        store.read_bytes(missing)
    with pytest.raises(ObjectNotFoundError):
        store.size(missing)


def test_list_keys_by_prefix_in_order(store: ObjectStore) -> None:
    keys = [
        "captures/b/2026/01/01/2.json",
        "captures/a/2026/01/01/1.json",
        "captures/a/2026/01/02/3.json",
        "custody/a/00000001.json",
    ]
    for key in keys:
        store.put_record(key, key.encode())
    assert list(store.list_keys("captures/a/")) == sorted(keys[1:3])
    assert list(store.list_keys("captures/")) == sorted(keys[:3])
    assert list(store.list_keys("captures/zzz/")) == []


def test_multi_chunk_payload_streams(store: ObjectStore) -> None:
    chunk = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256()
    writer = store.payload_writer()
    for _ in range(12):
        writer.write(chunk)
        digest.update(chunk)
    stored = writer.commit()
    writer.abort()
    assert stored.sha256 == digest.hexdigest()
    assert stored.size == 12 * len(chunk)
    with store.open(stored.key) as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == stored.sha256


def test_local_store_removes_only_abandoned_temp_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import time

    from archive.local_store import LocalStore

    root = tmp_path / "archive"
    store = LocalStore(root)
    old = store.incoming_dir / ".incoming-killed"
    fresh = store.incoming_dir / ".incoming-working"
    old.write_bytes(b"partial WARC of a killed run")
    fresh.write_bytes(b"a writer still at work")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    LocalStore(root)
    assert not old.exists()
    assert fresh.exists()


def test_a_downloaded_file_is_adopted_under_its_digest(store: ObjectStore, tmp_path: Path) -> None:
    data = b"downloaded media bytes " * 1000
    digest = hashlib.sha256(data).hexdigest()
    downloaded = tmp_path / "download.part"
    downloaded.write_bytes(data)
    stored = store.adopt_payload(downloaded, digest, len(data), "video/mp4")
    assert (stored.key, stored.sha256, stored.size, stored.created) == (
        payload_key(digest),
        digest,
        len(data),
        True,
    )
    assert store.read_bytes(stored.key) == data
    # The download's own file may go; the stored object stays. A second adoption stores nothing.
    downloaded.unlink()
    downloaded.write_bytes(data)
    assert store.adopt_payload(downloaded, digest, len(data)).created is False
    assert store.read_bytes(stored.key) == data
