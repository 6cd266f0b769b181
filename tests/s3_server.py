"""A real S3-protocol server for the tests: moto's server on loopback, or a real endpoint.

When ``OSINT_ARCHIVE_S3_ENDPOINT`` (and the other ``OSINT_ARCHIVE_S3_*`` variables) are set,
the tests run against that endpoint instead, e.g. a throwaway MinIO. Objects written there
stay locked for a day (retention_days=1), since object lock forbids deleting them sooner.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from minio import Minio
from moto.server import ThreadedMotoServer

from archive.s3_store import S3Config

TEST_RETENTION_DAYS = 1


@dataclass(frozen=True)
class S3TestServer:
    """Where the tests' S3 server listens, and whether it is moto (whose gaps tests note)."""

    config: S3Config
    is_moto: bool

    def client(self) -> Minio:
        """A raw client, to inspect or tamper with objects behind the store's back."""
        return Minio(
            self.config.endpoint,
            access_key=self.config.access_key,
            secret_key=self.config.secret_key,
            secure=self.config.secure,
            region=self.config.region,
        )

    def config_for_new_bucket(self, **overrides: Any) -> S3Config:
        """The server's settings with a bucket name no other test uses."""
        bucket = f"osint-test-{uuid.uuid4().hex[:20]}"
        return replace(self.config, bucket=bucket, **overrides)


@contextmanager
def running_s3_server(environ: Mapping[str, str]) -> Iterator[S3TestServer]:
    """The endpoint from the environment if set, else moto's server on a free loopback port."""
    if environ.get("OSINT_ARCHIVE_S3_ENDPOINT"):
        config = S3Config.from_env(environ)
        yield S3TestServer(replace(config, retention_days=TEST_RETENTION_DAYS), is_moto=False)
        return
    # werkzeug logs every request at INFO; the test output only needs failures.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        config = S3Config(
            endpoint=f"{host}:{port}",
            access_key="osint-test",
            secret_key="osint-test-secret",  # moto accepts any credentials
            secure=False,
            region="us-east-1",
            retention_days=TEST_RETENTION_DAYS,
        )
        yield S3TestServer(config, is_moto=True)
    finally:
        server.stop()
