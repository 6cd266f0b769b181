"""pytest plugin: a real S3-protocol server per session and S3 stores on fresh buckets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from archive.s3_store import S3Store
from tests.s3_server import S3TestServer, running_s3_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3TestServer]:
    """moto's S3 server on loopback, or the endpoint named by ``OSINT_ARCHIVE_S3_*``."""
    with running_s3_server(os.environ) as server:
        yield server


@pytest.fixture
def s3_store_factory(s3_server: S3TestServer) -> Callable[..., S3Store]:
    """Make an ``S3Store`` on a new, uniquely named bucket; keyword arguments override config."""

    def make(**overrides: Any) -> S3Store:
        return S3Store(s3_server.config_for_new_bucket(**overrides))

    return make
