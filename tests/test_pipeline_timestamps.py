"""With TSAs configured, every captured manifest gets an RFC 3161 token beside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys
from archive.timestamps import verify_record_timestamps
from osint_archive.demo_site import DemoSite
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    LocalTsa,
    TsaPki,
    tsa_fixture,
    tsa_pki_fixture,
    untrusted_pki_fixture,
)

BIN = Path(sys.executable).parent


def run(home: Path, config: Path, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSINT_ARCHIVE_")}
    env.update(OSINT_ARCHIVE_HOME=str(home), OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS="1", **extra_env)
    return subprocess.run(
        [str(BIN / "osint-archive"), "run", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_config(path: Path, url: str) -> Path:
    path.write_text(
        f"sources:\n  - id: stamped\n    kind: web\n    url: {url}\n    schedule: null\n"
        "    delay_seconds: 0\n    max_depth: 2\n",
        encoding="utf-8",
    )
    return path


def test_every_manifest_is_timestamped_and_verifies(
    tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(tsa_pki.root_pem)
    with DemoSite() as site:
        done = run(
            tmp_path,
            write_config(tmp_path / "s.yaml", site.base_url),
            {
                "OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}",
                "OSINT_ARCHIVE_TSA_CA_FILE": str(roots),
            },
        )
    assert done.returncode == 0, done.stderr
    store = LocalStore(tmp_path / "archive")
    keys = iter_manifest_keys(store)
    assert len(keys) == 9
    for key in keys:
        checks = verify_record_timestamps(store, key, tsa_pki.root_pem)
        assert [c.ok for c in checks] == [True], (key, checks)


def test_a_failing_tsa_is_reported_and_the_capture_kept(tmp_path: Path, tsa: LocalTsa) -> None:
    tsa.mode = "reject"
    with DemoSite() as site:
        done = run(
            tmp_path,
            write_config(tmp_path / "s.yaml", site.base_url),
            {"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}"},
        )
    assert done.returncode == 0, done.stderr
    assert "not timestamped" in done.stderr
    assert len(iter_manifest_keys(LocalStore(tmp_path / "archive"))) == 9
