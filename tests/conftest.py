"""Shared fixtures: storage backends for the conformance suite, local sites on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.local_store import LocalStore
from archive.store import ObjectStore

pytest_plugins = [
    "tests.s3_fixtures",
    "tests.http_fixtures",
    "tests.media_fixtures",
    "tests.web_fixtures",
]
STORE_BACKENDS = ["local", "s3"]


@pytest.fixture(params=STORE_BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """Every storage backend, so one suite proves they behave the same."""
    if request.param == "local":
        yield LocalStore(tmp_path / "archive")
    else:
        s3_store_factory = request.getfixturevalue("s3_store_factory")
        yield s3_store_factory()


def _private_airflow_home() -> None:
    """Airflow reads its home when first imported: every test in this process gets a private
    one (its metadata database is made by the ``airflow_db`` fixture), never a developer's."""
    import atexit
    import os
    import shutil
    import tempfile

    home = tempfile.mkdtemp(prefix="osint-airflow-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["AIRFLOW_HOME"] = home
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"


_private_airflow_home()
