"""RFC 3161 timestamps against a local TSA with real certificates (``tests.tsa_server``)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import tsp

from archive.local_store import LocalStore
from archive.store import ObjectStore
from archive.timestamps import (
    CA_FILE_VARIABLE,
    URLS_VARIABLE,
    CheckOutcome,
    TimestampAuthority,
    TimestampCheck,
    TimestampConfig,
    TimestampConfigError,
    TimestampError,
    request_timestamp,
    stamp_digest,
    stamp_record,
    token_keys_for,
    verify_record_timestamps,
    verify_timestamp,
)
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    LocalTsa,
    TsaMode,
    TsaPki,
    make_tsa_pki,
    other_tsa_fixture,
    tsa_fixture,
    tsa_pki_fixture,
    untrusted_pki_fixture,
)

DIGEST = hashlib.sha256(b"a capture manifest").digest()
OTHER_DIGEST = hashlib.sha256(b"another capture manifest").digest()
RECORD_KEY = "captures/example-news/2024/05/01/01HZX3V7Q2CAPTURE.json"
RECORD = json.dumps(
    {"schema_version": 1, "capture_id": "01HZX3V7Q2CAPTURE", "url": "https://example.org/"},
    sort_keys=True,
).encode()


def authority(
    server: LocalTsa, name: str = "local", roots: bytes | None = None
) -> TimestampAuthority:
    """The client's view of a local TSA; with ``roots`` each new token is verified too."""
    return TimestampAuthority(url=server.url, name=name, ca_bundle=roots)


@pytest.fixture(scope="module")
def token_and_pki() -> tuple[bytes, TsaPki]:
    """One granted token for ``DIGEST``, shared by the read-only verification tests."""
    pki = make_tsa_pki("shared")
    with LocalTsa(pki=pki) as server:
        return request_timestamp(DIGEST, authority(server)), pki


def test_token_from_local_tsa_verifies_against_its_root(tsa: LocalTsa, tsa_pki: TsaPki) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    token = request_timestamp(DIGEST, authority(tsa))
    check = verify_timestamp(token, DIGEST, tsa_pki.root_pem)
    assert check.outcome is CheckOutcome.PASSED and check.ok, check.reason
    assert check.gen_time is not None and check.gen_time.tzinfo is not None
    assert before <= check.gen_time <= datetime.now(UTC) + timedelta(seconds=1)
    assert check.tsa is not None and "osint-archive trusted TSA" in check.tsa
    assert isinstance(check.serial_number, int)
    # The query on the wire: SHA-256 imprint of the digest, a nonce, certReq.
    [(content_type, body)] = tsa.requests
    query = tsp.TimeStampReq.load(body)
    assert content_type == "application/timestamp-query"
    assert query["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    assert query["message_imprint"]["hashed_message"].native == DIGEST
    assert query["cert_req"].native is True
    assert query["nonce"].native is not None


def test_token_for_another_digest_fails_on_the_imprint(token_and_pki: tuple[bytes, TsaPki]) -> None:
    token, pki = token_and_pki
    check = verify_timestamp(token, OTHER_DIGEST, pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "imprint" in check.reason and OTHER_DIGEST.hex() in check.reason


def test_token_fails_against_another_root(
    token_and_pki: tuple[bytes, TsaPki], untrusted_pki: TsaPki
) -> None:
    token, _ = token_and_pki
    check = verify_timestamp(token, DIGEST, untrusted_pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "certificate" in check.reason.lower()


def test_token_signed_by_an_untrusted_tsa_fails(tsa: LocalTsa, tsa_pki: TsaPki) -> None:
    tsa.mode = "untrusted"
    token = request_timestamp(DIGEST, authority(tsa))
    check = verify_timestamp(token, DIGEST, tsa_pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "issuer certificate" in check.reason
    # With roots configured, the client refuses such a token before anyone stores it.
    with pytest.raises(TimestampError, match="does not verify") as caught:
        request_timestamp(DIGEST, authority(tsa, roots=tsa_pki.root_pem))
    assert caught.value.url == tsa.url


def test_tsa_certificate_without_timestamping_eku_fails() -> None:
    pki = make_tsa_pki("no-eku", timestamping_eku=False)
    with LocalTsa(pki=pki) as server:
        token = request_timestamp(DIGEST, authority(server))
    check = verify_timestamp(token, DIGEST, pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "timeStamping" in check.reason or "purpose" in check.reason


def test_tampered_token_fails(token_and_pki: tuple[bytes, TsaPki]) -> None:
    token, pki = token_and_pki
    original = verify_timestamp(token, DIGEST, pki.root_pem)
    assert original.gen_time is not None
    # Move the signed time half a minute back, as a forger would (the certificate is still
    # valid then, so it is the signature over the TSTInfo that must catch it).
    stamped = original.gen_time.strftime("%Y%m%d%H%M%S").encode()
    earlier = (original.gen_time - timedelta(seconds=30)).strftime("%Y%m%d%H%M%S").encode()
    assert token.count(stamped) == 1
    check = verify_timestamp(token.replace(stamped, earlier), DIGEST, pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "digest failure" in check.reason


def test_no_bit_flip_changes_what_a_passing_token_attests(
    token_and_pki: tuple[bytes, TsaPki],
) -> None:
    """Flip each byte's lowest and highest bit: the token fails, or, where the flip hit bytes
    the signature does not cover (version numbers, algorithm labels), still attests the same
    time, serial and TSA. It never raises."""
    token, pki = token_and_pki
    original = verify_timestamp(token, DIGEST, pki.root_pem)
    attested = (original.gen_time, original.serial_number, original.tsa)
    outcomes: set[CheckOutcome] = set()
    for offset in range(len(token)):
        for bit in (0x01, 0x80):
            flipped = bytearray(token)
            flipped[offset] ^= bit
            check = verify_timestamp(bytes(flipped), DIGEST, pki.root_pem)
            outcomes.add(check.outcome)
            if check.ok:
                assert (check.gen_time, check.serial_number, check.tsa) == attested, offset
    assert outcomes == {CheckOutcome.PASSED, CheckOutcome.FAILED}


def test_truncated_or_garbage_token_fails() -> None:
    for token in (b"", b"\x30\x03\x02\x01", b"not a token at all"):
        check = verify_timestamp(token, DIGEST, None)
        assert check.outcome is CheckOutcome.FAILED
        assert "TimeStampResp" in check.reason


def test_without_roots_the_signature_is_not_checked(token_and_pki: tuple[bytes, TsaPki]) -> None:
    token, _ = token_and_pki
    unchecked = verify_timestamp(token, DIGEST, None)
    assert unchecked.outcome is CheckOutcome.NOT_CHECKED and not unchecked.ok
    assert CA_FILE_VARIABLE in unchecked.reason
    # The imprint needs no trust to compare: a mismatch is a failure all the same.
    assert verify_timestamp(token, OTHER_DIGEST, None).outcome is CheckOutcome.FAILED


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("reject", "status rejection: request rejected by test TSA"),
        ("wrong-nonce", "another nonce"),
        ("wrong-imprint", "another digest"),
        ("http-error", "HTTP 500"),
    ],
)
def test_failed_request_raises_naming_the_url(tsa: LocalTsa, mode: TsaMode, reason: str) -> None:
    tsa.mode = mode
    with pytest.raises(TimestampError) as caught:
        request_timestamp(DIGEST, authority(tsa))
    assert caught.value.url == tsa.url
    assert reason in caught.value.reason
    assert tsa.url in str(caught.value)


def test_unreachable_tsa_raises_naming_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/tsr"
    with pytest.raises(TimestampError, match="request failed") as caught:
        request_timestamp(DIGEST, TimestampAuthority(url=url, name="gone"), timeout=5)
    assert caught.value.url == url


def test_digest_must_be_sha256(tsa: LocalTsa) -> None:
    with pytest.raises(ValueError, match="32-byte"):
        request_timestamp(b"short", authority(tsa))
    assert tsa.requests == []


def _store_record(store: ObjectStore) -> None:
    assert store.put_record(RECORD_KEY, RECORD)


def test_stamp_record_stores_the_token_beside_the_record(
    store: ObjectStore, tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    _store_record(store)
    keys = stamp_record(store, RECORD_KEY, [authority(tsa, roots=tsa_pki.root_pem)])
    assert keys == [f"{RECORD_KEY}.local.tsr"]
    assert token_keys_for(store, RECORD_KEY) == keys
    token = store.read_bytes(keys[0])
    [check] = verify_record_timestamps(store, RECORD_KEY, tsa_pki.root_pem)
    assert check.ok, check.reason
    assert check.token_key == keys[0]
    # Idempotent: a rerun asks no TSA and leaves the stored token as it was.
    assert stamp_record(store, RECORD_KEY, [authority(tsa)]) == keys
    assert len(tsa.requests) == 1
    assert store.read_bytes(keys[0]) == token


def test_edited_record_fails_verification(tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki) -> None:
    store = LocalStore(tmp_path / "archive")
    _store_record(store)
    stamp_record(store, RECORD_KEY, [authority(tsa)])
    # Tampering as someone with shell access would: make the file writable, rewrite it.
    path = tmp_path / "archive" / RECORD_KEY
    os.chmod(path, 0o644)
    path.write_bytes(RECORD.replace(b"example.org", b"example.net"))
    [check] = verify_record_timestamps(store, RECORD_KEY, tsa_pki.root_pem)
    assert check.outcome is CheckOutcome.FAILED
    assert "imprint" in check.reason
    assert check.token_key == f"{RECORD_KEY}.local.tsr"


def test_two_tsas_give_two_tokens(
    tmp_path: Path, tsa: LocalTsa, other_tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    store = LocalStore(tmp_path / "archive")
    _store_record(store)
    roots = tsa_pki.root_pem + other_tsa.pki.root_pem
    tsas = [authority(tsa, "first", roots), authority(other_tsa, "second", roots)]
    keys = stamp_record(store, RECORD_KEY, tsas)
    assert keys == [f"{RECORD_KEY}.first.tsr", f"{RECORD_KEY}.second.tsr"]
    checks = verify_record_timestamps(store, RECORD_KEY, roots)
    assert [check.token_key for check in checks] == keys
    assert all(check.ok for check in checks), [check.reason for check in checks]
    assert {check.tsa for check in checks} == {
        "CN=osint-archive trusted TSA,O=osint-archive tests",
        "CN=osint-archive second TSA,O=osint-archive tests",
    }
    # Only the first TSA's root is trusted: the second token is reported, not hidden.
    partial = verify_record_timestamps(store, RECORD_KEY, tsa_pki.root_pem)
    assert [check.outcome for check in partial] == [CheckOutcome.PASSED, CheckOutcome.FAILED]


def test_one_failing_tsa_keeps_the_other_token_and_a_retry_fills_the_gap(
    tmp_path: Path, tsa: LocalTsa, other_tsa: LocalTsa
) -> None:
    store = LocalStore(tmp_path / "archive")
    _store_record(store)
    tsas = [authority(tsa, "first"), authority(other_tsa, "second")]
    tsa.mode = "reject"
    with pytest.raises(TimestampError) as caught:
        stamp_record(store, RECORD_KEY, tsas)
    assert caught.value.url == tsa.url
    assert token_keys_for(store, RECORD_KEY) == [f"{RECORD_KEY}.second.tsr"]
    tsa.mode = "grant"
    assert len(stamp_record(store, RECORD_KEY, tsas)) == 2
    assert len(other_tsa.requests) == 1


def test_token_keys_ignore_other_records_with_the_same_prefix(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "archive")
    _store_record(store)
    store.put_record(f"{RECORD_KEY}.bak", b"x")
    store.put_record(f"{RECORD_KEY}.a.b.tsr", b"x")
    store.put_record(f"{RECORD_KEY}.ok.tsr", b"x")
    assert token_keys_for(store, RECORD_KEY) == [f"{RECORD_KEY}.ok.tsr"]
    [check] = verify_record_timestamps(store, RECORD_KEY, None)
    assert check == TimestampCheck(
        CheckOutcome.FAILED, check.reason, token_key=f"{RECORD_KEY}.ok.tsr"
    )


def test_stamp_digest_returns_one_token_per_tsa(
    tsa: LocalTsa, other_tsa: LocalTsa, tsa_pki: TsaPki
) -> None:
    tokens = stamp_digest(DIGEST, [authority(tsa, "first"), authority(other_tsa, "second")])
    assert sorted(tokens) == ["first", "second"]
    assert verify_timestamp(tokens["first"], DIGEST, tsa_pki.root_pem).ok
    assert verify_timestamp(tokens["second"], DIGEST, other_tsa.pki.root_pem).ok


def test_stamp_digest_raises_for_a_failing_tsa(tsa: LocalTsa) -> None:
    tsa.mode = "http-error"
    with pytest.raises(TimestampError, match="HTTP 500"):
        stamp_digest(DIGEST, [authority(tsa)])


def test_config_from_env(tmp_path: Path, tsa_pki: TsaPki) -> None:
    assert not TimestampConfig.from_env({}).enabled
    assert not TimestampConfig.from_env({URLS_VARIABLE: " , "}).enabled
    ca_file = tmp_path / "roots.pem"
    ca_file.write_bytes(tsa_pki.root_pem)
    config = TimestampConfig.from_env(
        {
            URLS_VARIABLE: "https://tsa.example.org/tsr, backup=http://127.0.0.1:8318/tsr",
            CA_FILE_VARIABLE: str(ca_file),
        }
    )
    assert config.enabled
    assert [(a.name, a.url) for a in config.authorities] == [
        ("tsa-example-org", "https://tsa.example.org/tsr"),
        ("backup", "http://127.0.0.1:8318/tsr"),
    ]
    assert config.trusted_roots_pem() == tsa_pki.root_pem
    assert all(a.trusted_roots_pem() == tsa_pki.root_pem for a in config.authorities)
    default_name = TimestampConfig.from_env({URLS_VARIABLE: "http://127.0.0.1:8318/tsr"})
    assert default_name.authorities[0].name == "127-0-0-1-8318"
    assert default_name.trusted_roots_pem() is None


@pytest.mark.parametrize(
    ("environ", "variable", "message"),
    [
        ({URLS_VARIABLE: "ftp://tsa.example.org/"}, URLS_VARIABLE, "http:// or https://"),
        ({URLS_VARIABLE: "tsa.example.org"}, URLS_VARIABLE, "http:// or https://"),
        ({URLS_VARIABLE: "https://a.org/x,https://a.org/y"}, URLS_VARIABLE, "two TSAs"),
        ({CA_FILE_VARIABLE: "/nonexistent/roots.pem"}, CA_FILE_VARIABLE, "cannot read"),
        ({CA_FILE_VARIABLE: "NOT_PEM"}, CA_FILE_VARIABLE, "not a PEM file"),
    ],
)
def test_config_errors_name_the_variable(
    tmp_path: Path, environ: dict[str, str], variable: str, message: str
) -> None:
    if environ.get(CA_FILE_VARIABLE) == "NOT_PEM":
        not_pem = tmp_path / "not.pem"
        not_pem.write_text("hello\n")
        environ = {CA_FILE_VARIABLE: str(not_pem)}
    with pytest.raises(TimestampConfigError, match=message) as caught:
        TimestampConfig.from_env(environ)
    assert str(caught.value).startswith(f"{variable}:")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed: no cross-check")
def test_openssl_ts_agrees(tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki) -> None:
    token_path = tmp_path / "token.tsr"
    root_path = tmp_path / "root.pem"
    token_path.write_bytes(request_timestamp(DIGEST, authority(tsa)))
    root_path.write_bytes(tsa_pki.root_pem)
    check = verify_timestamp(token_path.read_bytes(), DIGEST, tsa_pki.root_pem)
    assert check.ok and check.serial_number is not None

    def openssl_ts(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["openssl", "ts", *args], capture_output=True, text=True, timeout=30, check=False
        )

    reply = openssl_ts("-reply", "-in", str(token_path), "-text")
    assert reply.returncode == 0, reply.stderr
    assert "Status: Granted." in reply.stdout
    serial = re.search(r"^Serial number: 0x([0-9A-F]+)$", reply.stdout, re.MULTILINE)
    assert serial is not None and int(serial.group(1), 16) == check.serial_number
    ok = openssl_ts(
        "-verify", "-digest", DIGEST.hex(), "-in", str(token_path), "-CAfile", str(root_path)
    )
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stdout + ok.stderr
    wrong = openssl_ts(
        "-verify", "-digest", OTHER_DIGEST.hex(), "-in", str(token_path), "-CAfile", str(root_path)
    )
    assert wrong.returncode != 0 and "imprint mismatch" in wrong.stderr
