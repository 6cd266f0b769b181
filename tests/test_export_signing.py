"""Signed exports (WACZ-auth): made by the real CLI, checked by py-wacz, openssl and `--verify`."""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from archive.export_metadata import datapackage_hash, digest_json
from archive.export_signing import PackageSigner, sign_datapackage
from archive.signing_key import SigningKey
from osint_archive.demo_site import DemoSite
from tests.cli_runs import REPO, stored_manifests, wacz_validate, write_web_source
from tests.cli_runs import run_cli as cli
from tests.tsa_server import (  # noqa: F401 - the fixtures are requested by name
    LocalTsa,
    TsaPki,
    tsa_fixture,
    tsa_pki_fixture,
    untrusted_pki_fixture,
)

KEY = "keys/export-signing-key.pem"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("export-signing")
    with DemoSite() as site:
        config = write_web_source(tmp / "s.yaml", site.base_url)
        assert cli(tmp, "run", "--config", str(config)).returncode == 0
    return tmp


def _capture(home: Path) -> str:
    return str(stored_manifests(home / "archive", "demo-news")[0]["capture_id"])


@pytest.fixture
def stamped(home: Path, tmp_path: Path, tsa: LocalTsa, tsa_pki: TsaPki) -> dict[str, Path]:
    """A package exported by the CLI with a TSA configured, and the TSA's root."""
    roots = tmp_path / "tsa-root.pem"
    roots.write_bytes(tsa_pki.root_pem)
    out = tmp_path / "signed.wacz"
    env = {"OSINT_ARCHIVE_TSA_URLS": f"local={tsa.url}", "OSINT_ARCHIVE_TSA_CA_FILE": str(roots)}
    done = cli(home, "export", "--capture", _capture(home), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "signature time-stamped by local" in done.stdout
    return {"package": out, "roots": roots}


def verify(home: Path, package: Path, *args: str) -> tuple[int, dict[str, object]]:
    done = cli(home, "export", "--verify", str(package), "--json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def outcomes(report: dict[str, object]) -> dict[str, str]:
    checks = report["checks"]
    assert isinstance(checks, list)
    return {check["name"]: check["outcome"] for check in checks}


def team_fingerprint(home: Path) -> str:
    events = [
        json.loads(path.read_bytes())
        for path in sorted((home / "archive" / "custody" / "demo-news").rglob("*.json"))
    ]
    exported = [e for e in events if e["type"] == "exported"]
    return str(exported[-1]["details"]["signing_key"])


def test_an_exported_package_is_reported_signed_by_independent_verifiers(
    home: Path, stamped: dict[str, Path]
) -> None:
    package, roots = stamped["package"], stamped["roots"]
    fingerprint = team_fingerprint(home)
    # Our verifier: every check passed, the key is the team's, both stamps verify.
    code, report = verify(home, package, "--expect-key", fingerprint, "--tsa-ca-file", str(roots))
    assert code == 0 and report["ok"] is True, report
    assert set(outcomes(report).values()) == {"passed"}, report
    assert {"files", "datapackage-digest", "signature", "key", "time-signature"} <= set(
        outcomes(report)
    )
    # py-wacz: hashes and datapackage digest pass, and it sees the signature.
    check = wacz_validate(package)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "Has signature" in check.stdout
    # openssl, by the exact commands of docs/verifying-exports.md.
    done = run_manual_steps(package, fingerprint, roots)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Verified OK" in done.stdout
    assert done.stdout.count("Verification: OK") == 2  # the signature's and the file's stamps


def run_manual_steps(
    package: Path, fingerprint: str, roots: Path
) -> subprocess.CompletedProcess[str]:
    """The documented by-hand steps, blocks concatenated, the three variables set first."""
    text = (REPO / "docs" / "verifying-exports.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    settings = f"PACKAGE={package}\nEXPECTED_KEY={fingerprint}\nTSA_ROOT={roots}\n"
    script = settings + "\n".join(block for block in blocks if "PACKAGE=/path" not in block)
    return subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=120, check=False
    )


def _flip_warc_byte(name: str, data: bytes) -> bytes:
    if not name.startswith("archive/"):
        return data
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def _change_digest(name: str, data: bytes) -> bytes:
    if name != "datapackage-digest.json":
        return data
    digest = json.loads(data)
    digest["hash"] = digest["hash"][:-1] + ("0" if digest["hash"][-1] != "0" else "1")
    return json.dumps(digest, indent=2).encode()


def _strip_signature(name: str, data: bytes) -> bytes:
    if name != "datapackage-digest.json":
        return data
    digest = json.loads(data)
    del digest["signedData"]
    return json.dumps(digest).encode()


def rewrite(package: Path, out: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """The package with entries changed and written back as a valid ZIP (CRCs recomputed),
    as a forger who knows ZIP would."""
    with zipfile.ZipFile(package) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            target.writestr(info, change(info.filename, source.read(info)))
    return out


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        (_flip_warc_byte, {"files"}),
        (_change_digest, {"datapackage-digest", "signature"}),
        (_strip_signature, {"signature"}),
    ],
    ids=["one-byte-in-a-warc", "changed-datapackage-digest", "signature-removed"],
)
def test_a_changed_package_fails_verification(
    home: Path,
    stamped: dict[str, Path],
    tmp_path: Path,
    change: Callable[[str, bytes], bytes],
    failed: set[str],
) -> None:
    changed = rewrite(stamped["package"], tmp_path / "changed.wacz", change)
    code, report = verify(home, changed, "--tsa-ca-file", str(stamped["roots"]))
    assert code == 1 and report["ok"] is False
    assert {name for name, outcome in outcomes(report).items() if outcome == "failed"} == failed


def test_one_byte_changed_in_place_fails_verification(
    home: Path, stamped: dict[str, Path], tmp_path: Path
) -> None:
    """A byte flipped in the file itself (the ZIP's CRC no longer matches either)."""
    with zipfile.ZipFile(stamped["package"]) as package:
        warc = next(i for i in package.infolist() if i.filename.startswith("archive/"))
    data = bytearray(stamped["package"].read_bytes())
    data[warc.header_offset + 200] ^= 0x01  # past the local header, inside the stored WARC
    changed = tmp_path / "flipped.wacz"
    changed.write_bytes(bytes(data))
    code, report = verify(home, changed)
    assert code == 1
    assert outcomes(report)["files"] == "failed"


def test_a_package_re_signed_with_another_key_fails_only_the_key_check(
    home: Path, stamped: dict[str, Path], tmp_path: Path
) -> None:
    """A forger who changes a WARC and recomputes every hash can sign with a key of their own:
    the signature verifies, and only the published fingerprint tells the packages apart."""
    forged = rewrite(stamped["package"], tmp_path / "step.wacz", _flip_warc_byte)
    with zipfile.ZipFile(forged) as package:
        entries = {i.filename: package.read(i) for i in package.infolist()}
    datapackage = json.loads(entries["datapackage.json"])
    import hashlib

    for resource in datapackage["resources"]:
        resource["hash"] = "sha256:" + hashlib.sha256(entries[resource["path"]]).hexdigest()
    entries["datapackage.json"] = json.dumps(datapackage).encode()
    key = SigningKey(ec.generate_private_key(ec.SECP384R1()), tmp_path / "forger.pem")
    signature = sign_datapackage(
        PackageSigner(key),
        datapackage_hash(entries["datapackage.json"]),
        created=datapackage["created"],
        software="forger",
    )
    entries["datapackage-digest.json"] = digest_json(
        entries["datapackage.json"], signature.signed_data
    )
    with zipfile.ZipFile(tmp_path / "forged.wacz", "w") as package:
        for name, data in entries.items():
            package.writestr(name, data)
    forged = tmp_path / "forged.wacz"
    code, report = verify(home, forged)
    assert code == 0 and outcomes(report)["signature"] == "passed"
    assert outcomes(report)["key"] == "not_checked"
    code, report = verify(home, forged, "--expect-key", team_fingerprint(home))
    assert code == 1
    assert {n for n, o in outcomes(report).items() if o == "failed"} == {"key"}


def test_the_key_is_made_once_outside_the_archive_with_mode_0600(
    home: Path, tmp_path: Path
) -> None:
    capture = _capture(home)
    key = tmp_path / "team" / "signing.pem"
    env = {"OSINT_ARCHIVE_SIGNING_KEY": str(key)}
    first = cli(home, "export", "--capture", capture, "--out", str(tmp_path / "a.wacz"), env=env)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (tmp_path / "team" / "signing.pub.pem").exists()
    again = cli(home, "export", "--capture", capture, "--out", str(tmp_path / "b.wacz"), env=env)
    fingerprints = {
        line.split()[3]
        for done in (first, again)
        for line in done.stdout.splitlines()
        if line.startswith("signed by key")
    }
    assert len(fingerprints) == 1  # the second export used the same key
    with zipfile.ZipFile(tmp_path / "b.wacz") as package:
        signed = json.loads(package.read("datapackage-digest.json"))["signedData"]
    assert "timeSignature" not in signed  # no TSA configured
    assert base64.b64decode(signed["publicKey"]) in _public_der(tmp_path / "team")
    assert not list((home / "archive").rglob("*.pem"))


def _public_der(folder: Path) -> bytes:
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_public_key((folder / "signing.pub.pem").read_bytes())
    return public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("key_at", "mode", "message"),
    [
        ("archive/keys/k.pem", None, "inside the archive"),
        ("outside/k.pem", 0o644, "chmod 600"),
    ],
    ids=["inside-the-object-store", "readable-by-others"],
)
def test_an_unsafe_signing_key_is_refused(
    home: Path, tmp_path: Path, key_at: str, mode: int | None, message: str
) -> None:
    base = home if key_at.startswith("archive/") else tmp_path
    key = base / key_at
    if mode is not None:
        from cryptography.hazmat.primitives import serialization

        key.parent.mkdir(parents=True)
        key.write_bytes(
            ec.generate_private_key(ec.SECP384R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key.chmod(mode)
    out = tmp_path / "x.wacz"
    done = cli(
        home, "export", "--capture", _capture(home), "--out", str(out), "--signing-key", str(key)
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert not out.exists()
    assert not (home / "archive" / "keys").exists()


def test_the_default_key_is_under_home_not_in_the_archive(home: Path, tmp_path: Path) -> None:
    done = cli(home, "export", "--capture", _capture(home), "--out", str(tmp_path / "d.wacz"))
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((home / KEY).stat().st_mode) == 0o600
    code, report = verify(home, tmp_path / "d.wacz", "--expect-key", team_fingerprint(home))
    assert code == 0, report
    assert outcomes(report)["time-signature"] == "not_checked"


def test_the_web_ui_export_is_signed_with_the_team_key(home: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.web_fixtures import copy_home
    from web.accounts import Accounts, Role
    from web.app import create_app
    from web.config import WebSettings

    web_home = copy_home(home, tmp_path / "home")
    accounts = Accounts(web_home / "web" / "accounts.sqlite")
    accounts.add("cora", Role.CUSTODIAN, "custodian-pass-12")
    accounts.close()
    settings = WebSettings.from_env(
        {"OSINT_ARCHIVE_HOME": str(web_home), "OSINT_ARCHIVE_WEB_ALLOWED_HOSTS": "testserver"}
    )
    with TestClient(create_app(settings), follow_redirects=False) as client:
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf
        login = {"username": "cora", "password": "custodian-pass-12", "next": "/search"}
        assert client.post("/login", data=login | {"csrf": csrf.group(1)}).status_code == 303
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/search").text)
        assert csrf
        answer = client.post(f"/captures/{_capture(home)}/export", data={"csrf": csrf.group(1)})
    assert answer.status_code == 200, answer.text[:2000]
    package = tmp_path / "web.wacz"
    package.write_bytes(answer.content)
    code, report = verify(home, package, "--expect-key", team_fingerprint(web_home))
    assert code == 0, report
