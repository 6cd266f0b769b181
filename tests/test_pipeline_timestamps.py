"""With TSAs configured, every captured manifest gets an RFC 3161 token beside it."""

from __future__ import annotations

from pathlib import Path

from archive.local_store import LocalStore
from archive.manifest import iter_manifest_keys
from archive.timestamps import verify_record_timestamps
from osint_archive.demo_site import DemoSite
from tests.cli_runs import run_cli, write_web_source
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    LocalTsa,
    TsaPki,
    tsa_fixture,
    tsa_pki_fixture,
    untrusted_pki_fixture,
)


def test_every_manifest_is_timestamped_and_verifies(
    tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    roots = tmp_path / "roots.pem"
    roots.write_bytes(tsa_pki.root_pem)
    tsa_env = {
        "OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}",
        "OSINT_ARCHIVE_TSA_CA_FILE": str(roots),
    }
    with DemoSite() as site:
        config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
        done = run_cli(tmp_path, "run", "--config", str(config), env=tsa_env)
    assert done.returncode == 0, done.stderr
    store = LocalStore(tmp_path / "archive")
    keys = iter_manifest_keys(store)
    assert len(keys) == 10
    for key in keys:
        checks = verify_record_timestamps(store, key, tsa_pki.root_pem)
        assert [c.ok for c in checks] == [True], (key, checks)
    audited = run_cli(tmp_path, "audit", "--json", env=tsa_env)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert '"timestamps_verified": 10' in audited.stdout


def test_a_failing_tsa_is_reported_and_the_capture_kept(tmp_path: Path, tsa: LocalTsa) -> None:
    tsa.mode = "reject"
    with DemoSite() as site:
        config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
        done = run_cli(
            tmp_path,
            "run",
            "--config",
            str(config),
            env={"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}"},
        )
    assert done.returncode == 0, done.stderr
    assert "not timestamped" in done.stderr
    assert len(iter_manifest_keys(LocalStore(tmp_path / "archive"))) == 10


def test_an_edited_manifest_fails_its_timestamp_in_the_audit(
    tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    with DemoSite() as site:
        config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
        run_cli(
            tmp_path,
            "run",
            "--config",
            str(config),
            env={"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}"},
        )
    store = LocalStore(tmp_path / "archive")
    key = iter_manifest_keys(store)[0]
    path = store.root / key
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b'"status":200', b'"status":404'))
    audited = run_cli(tmp_path, "audit")
    assert audited.returncode == 1
    assert f"timestamp_invalid: {key}." in audited.stdout


def test_a_deleted_token_is_missing_in_the_audit(tmp_path: Path, tsa: LocalTsa) -> None:
    with DemoSite() as site:
        config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
        run_cli(
            tmp_path,
            "run",
            "--config",
            str(config),
            env={"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}"},
        )
    assert run_cli(tmp_path, "audit").returncode == 0
    store = LocalStore(tmp_path / "archive")
    token = next(k for k in store.list_keys("captures/") if k.endswith(".tsr"))
    (store.root / token).unlink()
    audited = run_cli(tmp_path, "audit")
    assert audited.returncode == 1
    assert f"missing: {token}" in audited.stdout


def test_a_tsa_that_does_not_speak_http_is_reported_not_fatal(tmp_path: Path) -> None:
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def babble() -> None:
        for _ in range(20):
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(b"this is not HTTP\r\n\r\n")

    threading.Thread(target=babble, daemon=True).start()
    try:
        with DemoSite() as site:
            config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
            done = run_cli(
                tmp_path,
                "run",
                "--config",
                str(config),
                env={"OSINT_ARCHIVE_TSA_URLS": f"http://127.0.0.1:{port}/tsr"},
            )
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    assert "not timestamped" in done.stderr


def test_timestamp_command_fills_the_gaps_an_outage_left(tmp_path: Path, tsa: LocalTsa) -> None:
    tsa_env = {"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}"}
    tsa.mode = "reject"
    with DemoSite() as site:
        config = write_web_source(tmp_path / "s.yaml", site.base_url, "stamped")
        run_cli(tmp_path, "run", "--config", str(config), env=tsa_env)
    store = LocalStore(tmp_path / "archive")
    assert not [k for k in store.list_keys("captures/") if k.endswith(".tsr")]
    still_down = run_cli(tmp_path, "timestamp", env=tsa_env)
    assert still_down.returncode == 1
    tsa.mode = "grant"
    done = run_cli(tmp_path, "timestamp", env=tsa_env)
    assert done.returncode == 0, done.stderr
    assert "10 of 10" in done.stdout
    tokens = [k for k in store.list_keys("captures/") if k.endswith(".tsr")]
    assert len(tokens) == 10
    again = run_cli(tmp_path, "timestamp", env=tsa_env)
    assert "0 of 0" in again.stdout  # idempotent: nothing left to stamp
    (store.root / tokens[0]).unlink()
    assert f"missing: {tokens[0]}" in run_cli(tmp_path, "audit").stdout


def test_timestamp_command_needs_a_tsa(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "timestamp")
    assert done.returncode == 2
    assert "OSINT_ARCHIVE_TSA_URLS" in done.stderr
