"""S3-specific guarantees: object lock, retention, versions, checksums, multipart, settings.

These run against a real S3-protocol server (moto's server on loopback, or the endpoint in
``OSINT_ARCHIVE_S3_*``). Where moto lacks a feature, the test says so and checks what holds.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error
from minio.helpers import DictType

from archive.s3_store import BucketNotLockedError, S3Config, S3ConfigError, S3Store
from archive.store import ObjectExistsError, put_payload_bytes
from tests.s3_server import TEST_RETENTION_DAYS, S3TestServer

MIB = 1024 * 1024
StoreFactory = Callable[..., S3Store]


def lock_of(client: Minio, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    """Object-lock headers of one version, as HEAD reports them."""
    # moto 5.2 has no GetObjectRetention (GET ?retention returns the object's bytes), but
    # HEAD carries the same mode and date on moto, MinIO and AWS alike.
    headers = client.stat_object(bucket, key, version_id=version_id).metadata or {}
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-amz-object-lock")}


def assert_locked(server: S3TestServer, store: S3Store, key: str) -> None:
    client = server.client()
    lock = lock_of(client, store.bucket, key)
    assert lock.get("x-amz-object-lock-mode") == "COMPLIANCE"
    until = datetime.fromisoformat(lock["x-amz-object-lock-retain-until-date"])
    assert until > datetime.now(UTC) + timedelta(days=TEST_RETENTION_DAYS) - timedelta(hours=1)
    if not server.is_moto:
        retention = client.get_object_retention(store.bucket, key)
        assert retention is not None
        assert retention.mode == "COMPLIANCE"


def head_checksum(client: Minio, bucket: str, key: str) -> str | None:
    """The SHA-256 checksum the server stored with an object (HEAD with checksum mode)."""
    response = client._execute(
        "HEAD", bucket, key, headers={"x-amz-checksum-mode": "ENABLED"}, preload_content=True
    )
    value = response.headers.get("x-amz-checksum-sha256")
    return str(value) if value else None


def test_bucket_is_created_with_object_lock_and_nothing_public(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory()
    client = s3_server.client()
    client.get_object_lock_config(store.bucket)  # raises when the bucket has no object lock
    assert client.get_bucket_versioning(store.bucket).status == "Enabled"
    with pytest.raises(S3Error) as err:
        client.get_bucket_policy(store.bucket)
    assert err.value.code == "NoSuchBucketPolicy"
    S3Store(store.config)  # reopening an existing locked bucket is fine


def test_existing_bucket_without_object_lock_is_refused(s3_server: S3TestServer) -> None:
    config = s3_server.config_for_new_bucket()
    s3_server.client().make_bucket(config.bucket, location=config.region)
    with pytest.raises(BucketNotLockedError, match=f"{config.bucket}.*without object lock"):
        S3Store(config)


def test_evidence_has_compliance_retention_and_state_has_none(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory()
    stored = put_payload_bytes(store, b"payload under lock")
    assert_locked(s3_server, store, stored.key)
    record = "custody/src/00000001.json"
    store.put_record(record, b'{"event": 1}')
    assert_locked(s3_server, store, record)
    store.put_state("state/cursor/src.json", b"1")
    assert lock_of(s3_server.client(), store.bucket, "state/cursor/src.json") == {}
    meta = s3_server.client().stat_object(store.bucket, stored.key).metadata or {}
    assert meta.get("x-amz-meta-sha256") == stored.sha256


def test_locked_version_cannot_be_deleted(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory()
    data = b"evidence that must survive"
    stored = put_payload_bytes(store, data)
    client = s3_server.client()
    version_id = client.stat_object(store.bucket, stored.key).version_id
    assert version_id
    with pytest.raises(S3Error) as err:
        client.remove_object(store.bucket, stored.key, version_id=version_id)
    assert err.value.code == "AccessDenied"
    assert store.read_bytes(stored.key) == data
    # A delete without a version id only adds a delete marker: the key looks gone, but the
    # locked version is still there, retrievable by its id.
    client.remove_object(store.bucket, stored.key)
    assert store.exists(stored.key) is False
    response = client.get_object(store.bucket, stored.key, version_id=version_id)
    assert response.read() == data


def test_overwrite_adds_a_version_and_the_locked_original_remains(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory()
    key = "captures/src/2026/01/02/abc.json"
    original = b'{"a": 1}'
    assert store.put_record(key, original) is True
    with pytest.raises(ObjectExistsError):
        store.put_record(key, b'{"a": 2}')
    client = s3_server.client()
    original_version = client.stat_object(store.bucket, key).version_id
    tampered = client.put_object(store.bucket, key, io.BytesIO(b"tampered"), 8)
    assert tampered.version_id != original_version
    response = client.get_object(store.bucket, key, version_id=original_version)
    assert response.read() == original
    with pytest.raises(ObjectExistsError):
        store.put_record(key, original)  # the store never papers over a changed record


def test_conditional_put_refuses_an_existing_key(s3_store_factory: StoreFactory) -> None:
    """The server honours If-None-Match: *, so racing writers cannot both create a record."""
    store = s3_store_factory()
    key = "custody/src/00000002.json"
    data = b"first"
    digest = hashlib.sha256(data).digest()
    assert store._put_new(key, data, digest, {}) is True
    assert store._put_new(key, b"second", hashlib.sha256(b"second").digest(), {}) is False
    assert store.read_bytes(key) == data


def test_uploads_carry_their_sha256(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory()
    data = b"checksummed bytes"
    stored = put_payload_bytes(store, data)
    expected = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert head_checksum(s3_server.client(), store.bucket, stored.key) == expected


def test_server_rejects_a_wrong_checksum(
    request: pytest.FixtureRequest, s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    # moto 5.2.5 stores x-amz-checksum-sha256 as sent without checking it against the body
    # (moto/s3/responses.py: _get_checksum); MinIO and AWS answer 400. Strict, so this
    # fails loudly once moto starts verifying.
    request.applymarker(
        pytest.mark.xfail(s3_server.is_moto, reason="moto does not verify checksums", strict=True)
    )
    store = s3_store_factory()
    wrong = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()
    headers: DictType = {"x-amz-checksum-sha256": wrong, "x-amz-sdk-checksum-algorithm": "SHA256"}
    with pytest.raises(S3Error):
        store.client._put_object(store.bucket, "state/corrupt", b"these bytes", headers)


def test_multipart_payload_round_trips_with_part_checksums(
    s3_server: S3TestServer, s3_store_factory: StoreFactory
) -> None:
    store = s3_store_factory(part_size=5 * MIB)
    chunk = bytes(range(256)) * 4096  # 1 MiB
    digest = hashlib.sha256()
    with store.payload_writer() as writer:
        for _ in range(12):
            writer.write(chunk)
            digest.update(chunk)
        stored = writer.commit()
    assert stored.sha256 == digest.hexdigest()
    assert stored.size == 12 * MIB
    assert stored.created is True
    client = s3_server.client()
    stat = client.stat_object(store.bucket, stored.key)
    assert stat.etag is not None and stat.etag.endswith("-3")  # 5 + 5 + 2 MiB: three parts
    assert (stat.metadata or {}).get("x-amz-meta-sha256") == stored.sha256
    assert_locked(s3_server, store, stored.key)
    read_back = hashlib.sha256()
    with store.open(stored.key) as stream:
        while block := stream.read(MIB):
            read_back.update(block)
    assert read_back.hexdigest() == stored.sha256
    again = put_payload_bytes(store, chunk * 12)
    assert (again.key, again.created) == (stored.key, False)


def test_damaged_temporary_file_is_never_completed(
    s3_server: S3TestServer, s3_store_factory: StoreFactory, tmp_path: Path
) -> None:
    store = s3_store_factory(part_size=5 * MIB)
    path = tmp_path / "payload"
    path.write_bytes(b"\x01" * (6 * MIB))
    claimed = hashlib.sha256(b"what was hashed while writing").hexdigest()
    key = f"objects/sha256/{claimed[:2]}/{claimed[2:4]}/{claimed}"
    with pytest.raises(OSError, match="changed on disk"):
        store.upload_payload(path, key, claimed, 6 * MIB, "application/octet-stream")
    assert store.exists(key) is False
    assert list(s3_server.client().list_objects(store.bucket, recursive=True)) == []


VALID_ENV = {
    "OSINT_ARCHIVE_S3_ENDPOINT": "minio.internal:9000",
    "OSINT_ARCHIVE_S3_ACCESS_KEY": "archive",
    "OSINT_ARCHIVE_S3_SECRET_KEY": "s3cret-value",
}


def test_config_from_env_reads_every_variable() -> None:
    config = S3Config.from_env(
        {
            **VALID_ENV,
            "OSINT_ARCHIVE_S3_BUCKET": "evidence",
            "OSINT_ARCHIVE_S3_SECURE": "0",
            "OSINT_ARCHIVE_S3_REGION": "eu-central-1",
            "OSINT_ARCHIVE_S3_RETENTION_MODE": "GOVERNANCE",
            "OSINT_ARCHIVE_S3_RETENTION_DAYS": "30",
        }
    )
    assert config == S3Config(
        endpoint="minio.internal:9000",
        access_key="archive",
        secret_key="s3cret-value",
        bucket="evidence",
        secure=False,
        region="eu-central-1",
        retention_mode="GOVERNANCE",
        retention_days=30,
    )
    defaults = S3Config.from_env(VALID_ENV)
    assert (defaults.bucket, defaults.secure, defaults.retention_mode) == (
        "osint-archive",
        True,
        "COMPLIANCE",
    )
    assert "s3cret-value" not in repr(defaults)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OSINT_ARCHIVE_S3_ENDPOINT", None),
        ("OSINT_ARCHIVE_S3_ACCESS_KEY", None),
        ("OSINT_ARCHIVE_S3_SECRET_KEY", ""),
        ("OSINT_ARCHIVE_S3_ENDPOINT", "https://minio.internal:9000"),
        ("OSINT_ARCHIVE_S3_SECURE", "yes"),
        ("OSINT_ARCHIVE_S3_RETENTION_MODE", "FOREVER"),
        ("OSINT_ARCHIVE_S3_RETENTION_DAYS", "ten"),
        ("OSINT_ARCHIVE_S3_RETENTION_DAYS", "0"),
    ],
)
def test_config_from_env_errors_name_the_variable(variable: str, value: str | None) -> None:
    environ = dict(VALID_ENV)
    if value is None:
        environ.pop(variable)
    else:
        environ[variable] = value
    with pytest.raises(S3ConfigError, match=variable):
        S3Config.from_env(environ)
