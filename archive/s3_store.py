"""S3/MinIO object store: payloads and records under object lock (WORM), state without.

The bucket is created with object lock (which also turns on versioning) and every evidence
object is written with its own retention, so not even the credentials used here can delete
or replace a stored version before the retention ends. Every upload carries the SHA-256 of
its bytes (``x-amz-checksum-sha256``) so a verifying server (MinIO, AWS) refuses corrupted
bytes instead of storing them; the hex digest is also kept as user metadata for audits.

minio-py 7.2 has no checksum option, and ``put_object`` would send object-level headers on
CreateMultipartUpload only, never per part; so uploads go through its lower-level request
methods (``_put_object``, ``_create_multipart_upload``, ``_upload_part``, ``_execute``).
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal, cast, get_args

from minio import Minio
from minio.error import S3Error
from minio.helpers import DictType, genheaders, md5sum_hash
from minio.retention import Retention
from minio.xml import Element, SubElement, getbytes
from urllib3 import BaseHTTPResponse

from archive.hashing import HashingPayloadWriter
from archive.keys import STATE_PREFIX, check_key, is_evidence_key
from archive.store import ObjectNotFoundError, StoredObject, existing_record_matches, put_payload

MIB = 1024 * 1024
MIN_PART_SIZE = 5 * MIB  # S3's floor for every part but the last
MAX_PART_SIZE = 5 * 1024 * MIB
MAX_PARTS = 10_000  # S3's ceiling on parts per upload
RetentionMode = Literal["COMPLIANCE", "GOVERNANCE"]
_NOT_FOUND_CODES = ("NoSuchKey", "NoSuchObject", "NoSuchVersion")


class S3ConfigError(ValueError):
    """An S3 setting is missing or invalid; the message names the setting."""


class BucketNotLockedError(RuntimeError):
    """The configured bucket exists without object lock, so evidence would not be WORM."""


@dataclass(frozen=True)
class S3Config:
    """Connection and retention settings of the S3/MinIO backend."""

    endpoint: str  # "host:port", no scheme: ``secure`` picks https or http
    access_key: str
    secret_key: str = field(repr=False)  # never printed in logs or tracebacks
    bucket: str = "osint-archive"
    secure: bool = True
    region: str | None = None
    retention_mode: RetentionMode = "COMPLIANCE"
    retention_days: int = 3650
    part_size: int = 64 * MIB

    def __post_init__(self) -> None:
        if not self.endpoint or "://" in self.endpoint or "/" in self.endpoint:
            raise S3ConfigError(
                f"endpoint must be host:port without scheme or path, got {self.endpoint!r}"
            )
        if self.retention_mode not in get_args(RetentionMode):
            raise S3ConfigError(
                f"retention_mode must be COMPLIANCE or GOVERNANCE, got {self.retention_mode!r}"
            )
        if self.retention_days < 1:
            raise S3ConfigError(f"retention_days must be >= 1, got {self.retention_days}")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise S3ConfigError(f"part_size must be 5 MiB to 5 GiB, got {self.part_size}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> S3Config:
        """Read ``OSINT_ARCHIVE_S3_*`` variables; errors name the missing or invalid one."""

        def required(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise S3ConfigError(f"{name} is not set (required for the S3 backend)")
            return value

        endpoint = required("OSINT_ARCHIVE_S3_ENDPOINT")
        if "://" in endpoint or "/" in endpoint:
            raise S3ConfigError(
                f"OSINT_ARCHIVE_S3_ENDPOINT must be host:port without scheme or path, got "
                f"{endpoint!r}; use OSINT_ARCHIVE_S3_SECURE=0 for plain http"
            )
        secure = environ.get("OSINT_ARCHIVE_S3_SECURE", "1").strip()
        if secure not in ("0", "1"):
            raise S3ConfigError(f"OSINT_ARCHIVE_S3_SECURE must be 0 or 1, got {secure!r}")
        mode = environ.get("OSINT_ARCHIVE_S3_RETENTION_MODE", "COMPLIANCE").strip().upper()
        if mode not in get_args(RetentionMode):
            raise S3ConfigError(
                f"OSINT_ARCHIVE_S3_RETENTION_MODE must be COMPLIANCE or GOVERNANCE, got {mode!r}"
            )
        days_text = environ.get("OSINT_ARCHIVE_S3_RETENTION_DAYS", "3650").strip()
        if not days_text.isdigit() or int(days_text) < 1:
            raise S3ConfigError(
                f"OSINT_ARCHIVE_S3_RETENTION_DAYS must be a whole number of days >= 1, "
                f"got {days_text!r}"
            )
        return cls(
            endpoint=endpoint,
            access_key=required("OSINT_ARCHIVE_S3_ACCESS_KEY"),
            secret_key=required("OSINT_ARCHIVE_S3_SECRET_KEY"),
            bucket=environ.get("OSINT_ARCHIVE_S3_BUCKET", "").strip() or "osint-archive",
            secure=secure == "1",
            region=environ.get("OSINT_ARCHIVE_S3_REGION", "").strip() or None,
            retention_mode=cast(RetentionMode, mode),
            retention_days=int(days_text),
        )


def _sha256_base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _checksum_headers(digest: bytes) -> DictType:
    """Headers that make the server verify the SHA-256 of the request body."""
    # x-amz-sdk-checksum-algorithm is what AWS SDKs send with a checksum; AWS and moto also
    # demand it (or Content-MD5) on uploads that carry object-lock retention.
    return {
        "x-amz-checksum-sha256": _sha256_base64(digest),
        "x-amz-sdk-checksum-algorithm": "SHA256",
    }


def _is_not_found(err: S3Error) -> bool:
    return err.code in _NOT_FOUND_CODES


@contextmanager
def _response_stream(response: BaseHTTPResponse) -> Iterator[BinaryIO]:
    """Yield an HTTP response body as a stream, then hand its connection back to the pool."""
    try:
        yield cast(BinaryIO, response)
    finally:
        response.close()
        response.release_conn()


class S3Store:
    """Object store in one S3/MinIO bucket with object lock, keys as in the archive layout."""

    name = "s3"

    def __init__(self, config: S3Config, client: Minio | None = None) -> None:
        self.config = config
        self.bucket = config.bucket
        self.client = client or Minio(
            config.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            secure=config.secure,
            region=config.region,
        )
        self._ensure_locked_bucket()

    # -- bucket ---------------------------------------------------------------------------

    def _ensure_locked_bucket(self) -> None:
        """Create the bucket with object lock, or check that the existing one has it."""
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket, location=self.config.region, object_lock=True)
                return
            except S3Error as err:
                # Another worker created it between the two calls: check it like any other.
                if err.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
        try:
            self.client.get_object_lock_config(self.bucket)
        except S3Error as err:
            if err.code != "ObjectLockConfigurationNotFoundError":
                raise
            raise BucketNotLockedError(
                f"bucket {self.bucket!r} exists without object lock, so evidence in it could be "
                "deleted or overwritten; point OSINT_ARCHIVE_S3_BUCKET at a new bucket name "
                "(osint-archive creates it with object lock) or enable object lock on it"
            ) from err
        if self.client.get_bucket_versioning(self.bucket).status != "Enabled":
            raise BucketNotLockedError(
                f"bucket {self.bucket!r} has object lock but versioning is not enabled"
            )

    def _retention(self) -> Retention:
        """Per-object retention from now: evidence stays locked even without a bucket default."""
        until = datetime.now(UTC).replace(microsecond=0) + timedelta(
            days=self.config.retention_days
        )
        return Retention(self.config.retention_mode, until)

    def _retention_headers(self) -> DictType:
        return genheaders(None, None, None, self._retention(), False)

    # -- writes ---------------------------------------------------------------------------

    def _put_new(self, key: str, data: bytes, digest: bytes, headers: DictType) -> bool:
        """PUT unless the key exists: True if created, False if the server had the key."""
        # If-None-Match makes create-once atomic on servers that support it (AWS, recent
        # MinIO, moto); callers stat first, which is all a server that ignores it gets.
        headers = {**headers, **_checksum_headers(digest), "If-None-Match": "*"}
        try:
            self.client._put_object(self.bucket, key, data, headers)
        except S3Error as err:
            if err.code == "PreconditionFailed":
                return False
            raise
        return True

    def upload_payload(
        self, path: Path, key: str, sha256_hex: str, size: int, content_type: str
    ) -> bool:
        """Upload a finished temporary file to its content key; False if already stored."""
        if self.exists(key):
            return False
        headers = {
            **self._retention_headers(),
            "Content-Type": content_type,
            "x-amz-meta-sha256": sha256_hex,
        }
        if size <= self.config.part_size:
            # One request body in memory, bounded by part_size; the checksum comes from the
            # hash taken while writing, so bytes damaged on disk since are refused too.
            data = path.read_bytes()
            return self._put_new(key, data, bytes.fromhex(sha256_hex), headers)
        # Past MAX_PARTS parts, grow the part size rather than fail (64 MiB covers 625 GiB).
        part_size = max(self.config.part_size, -(-size // MAX_PARTS))
        return self._put_multipart(path, key, sha256_hex, part_size, headers)

    def _put_multipart(
        self, path: Path, key: str, sha256_hex: str, part_size: int, headers: DictType
    ) -> bool:
        """Upload in parts, each with its own verified SHA-256; one part in memory at a time."""
        create_headers = {**headers, "x-amz-checksum-algorithm": "SHA256"}
        upload_id = self.client._create_multipart_upload(self.bucket, key, create_headers)
        try:
            parts: list[tuple[int, str, str]] = []
            whole = hashlib.sha256()
            with path.open("rb") as stream:
                while chunk := stream.read(part_size):
                    whole.update(chunk)
                    digest = hashlib.sha256(chunk).digest()
                    number = len(parts) + 1
                    etag = self.client._upload_part(
                        self.bucket, key, chunk, _checksum_headers(digest), upload_id, number
                    )
                    parts.append((number, etag, _sha256_base64(digest)))
            # The part checksums were taken on re-read; compare with the hash taken while
            # writing so a temporary file damaged on disk is never completed.
            if whole.hexdigest() != sha256_hex:
                raise OSError(f"temporary file for {key} changed on disk before upload")
            version_id = self._complete_multipart(key, upload_id, parts)
        except BaseException:
            # Keep the original error; a lifecycle rule (AbortIncompleteMultipartUpload)
            # cleans up any upload that this abort cannot reach.
            with suppress(S3Error, OSError):
                self.client._abort_multipart_upload(self.bucket, key, upload_id)
            raise
        if version_id is None:
            self.client._abort_multipart_upload(self.bucket, key, upload_id)
            return False
        self._ensure_retention(key, version_id)
        return True

    def _complete_multipart(
        self, key: str, upload_id: str, parts: list[tuple[int, str, str]]
    ) -> str | None:
        """CompleteMultipartUpload with part checksums; the version id, None if key exists."""
        # minio's _complete_multipart_upload cannot send ChecksumSHA256 per part, which AWS
        # requires once the upload was created with a checksum algorithm.
        root = Element("CompleteMultipartUpload")
        for number, etag, checksum in parts:
            part = SubElement(root, "Part")
            SubElement(part, "PartNumber", str(number))
            SubElement(part, "ETag", f'"{etag}"')
            SubElement(part, "ChecksumSHA256", checksum)
        body = getbytes(root)
        headers: DictType = {
            "Content-Type": "application/xml",
            "Content-MD5": cast(str, md5sum_hash(body)),
            "If-None-Match": "*",
        }
        try:
            response = self.client._execute(
                "POST",
                self.bucket,
                key,
                body=body,
                headers=headers,
                query_params={"uploadId": upload_id},
            )
        except S3Error as err:
            if err.code == "PreconditionFailed":
                return None
            raise
        # S3 may report a failed completion inside a 200 response.
        if b"<Error>" in response.data:
            raise OSError(f"completing the upload of {key} failed: {response.data[:500]!r}")
        return str(response.headers.get("x-amz-version-id") or "")

    def _ensure_retention(self, key: str, version_id: str) -> None:
        """Apply retention to a new version if the server dropped it from the upload."""
        # moto 5.2 ignores object-lock headers on CreateMultipartUpload (AWS and MinIO apply
        # them); PutObjectRetention can only extend a lock, so this never weakens one.
        stat = self.client.stat_object(self.bucket, key, version_id=version_id or None)
        if stat.metadata and stat.metadata.get("x-amz-object-lock-mode"):
            return
        self.client.set_object_retention(
            self.bucket, key, self._retention(), version_id=version_id or None
        )

    def payload_writer(
        self, content_type: str = "application/octet-stream"
    ) -> HashingPayloadWriter:
        """A writer that hashes into a local temporary file, then uploads it by content key."""
        return HashingPayloadWriter(
            None,
            lambda path, key, sha256, size: self.upload_payload(
                path, key, sha256, size, content_type
            ),
        )

    def adopt_payload(
        self, path: Path, sha256: str, size: int, content_type: str = "application/octet-stream"
    ) -> StoredObject:
        """Upload the file (hashed again on the way, and checked against ``sha256``)."""
        with open(path, "rb") as stream:
            stored = put_payload(self, stream, content_type)
        if stored.sha256 != sha256:
            raise ValueError(f"{path} changed since it was hashed: {stored.sha256} != {sha256}")
        return stored

    def put_record(self, key: str, data: bytes) -> bool:
        """Create an immutable record under retention; False if identical bytes existed."""
        check_key(key)
        if not is_evidence_key(key) or key.startswith("objects/"):
            raise ValueError(f"records live under captures/ or custody/: {key!r}")
        if not self.exists(key):
            digest = hashlib.sha256(data)
            headers = {
                **self._retention_headers(),
                "Content-Type": "application/json"
                if key.endswith(".json")
                else "application/octet-stream",
                "x-amz-meta-sha256": digest.hexdigest(),
            }
            # Race: on a server that ignores If-None-Match, two writers that both saw the key
            # missing both store a version; the later one becomes current, the earlier one
            # stays locked and retrievable by version id.
            if self._put_new(key, data, digest.digest(), headers):
                return True
        return existing_record_matches(self, key, data)

    def put_state(self, key: str, data: bytes) -> None:
        """Write or replace a mutable cursor under ``state/``; no retention (not evidence)."""
        if not check_key(key).startswith(STATE_PREFIX):
            raise ValueError(f"state lives under {STATE_PREFIX}: {key!r}")
        # The bucket is versioned, so replaced state stays as noncurrent versions; a
        # lifecycle rule on state/ can expire those, since none of them is locked.
        headers: DictType = {"Content-Type": "application/octet-stream"}
        headers.update(_checksum_headers(hashlib.sha256(data).digest()))
        self.client._put_object(self.bucket, key, data, headers)

    # -- reads ----------------------------------------------------------------------------

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Stream an object's bytes; the HTTP connection is released on exit."""
        try:
            response = self.client.get_object(self.bucket, check_key(key))
        except S3Error as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        return _response_stream(response)

    def open_range(self, key: str, offset: int, length: int) -> AbstractContextManager[BinaryIO]:
        """Stream a byte range (an HTTP range request; nothing before it is transferred)."""
        if offset < 0 or length < 0:
            raise ValueError(f"invalid range {offset}+{length} of {key}")
        if length == 0:
            return nullcontext(cast(BinaryIO, io.BytesIO()))
        try:
            response = self.client.get_object(
                self.bucket, check_key(key), offset=offset, length=length
            )
        except S3Error as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        return _response_stream(response)

    def read_bytes(self, key: str) -> bytes:
        """Read a small object whole (records, state)."""
        with self.open(key) as stream:
            return stream.read()

    def local_path(self, key: str) -> Path | None:
        return None  # objects live on the server; callers stream them

    def exists(self, key: str) -> bool:
        """Whether a current version is stored under the key."""
        try:
            self.size(key)
        except ObjectNotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        """Stored size in bytes."""
        try:
            stat = self.client.stat_object(self.bucket, check_key(key))
        except S3Error as err:
            if _is_not_found(err):
                raise ObjectNotFoundError(key) from err
            raise
        return int(stat.size or 0)

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys of current versions under a prefix, in lexical order."""
        objects = self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
        yield from sorted(obj.object_name for obj in objects if obj.object_name)
