"""The password policy of web accounts: length, and a strength estimate (zxcvbn) that knows
common passwords, patterns and the account's own name; the CLI refuses what it refuses."""

from __future__ import annotations

import re
import secrets
import subprocess
from pathlib import Path

import pytest

from tests.cli_runs import BIN, REPO, cli_env
from web.accounts import AccountError, Accounts, Role, check_password

# (id, username, password, refusal fragment or None when allowed)
PASSWORD_CASES = [
    ("too-short", "alice", "Xk9#qL2!", "at least 12 characters"),
    ("twelve-spaces", "alice", " " * 12, "only spaces"),
    ("tabs-and-newlines", "alice", " \t \n " * 4, "only spaces"),
    ("common", "alice", "password1234", "very common password"),
    ("common-with-capital", "alice", "Password1234", "too easy to guess"),
    ("keyboard-row", "alice", "qwertyuiopasdf", "too easy to guess"),
    ("repeated", "alice", "abcabcabcabc", "too easy to guess"),
    ("username-and-year", "ivanova.kate", "ivanova.kate2024", "too easy to guess"),
    ("service-name", "alice", "osint-archive1", "too easy to guess"),
    ("sequence", "alice", "123456789012", "too easy to guess"),
    ("passphrase", "alice", "correct horse battery", None),
    ("mixed-words", "alice", "staple custody chain", None),
    ("random", "alice", "tK7v-Qm2x!Lp9z", None),
    ("long-passphrase", "alice", "vault lantern orbit " * 5, None),
]


@pytest.mark.parametrize(
    ("username", "password", "refusal"),
    [case[1:] for case in PASSWORD_CASES],
    ids=[case[0] for case in PASSWORD_CASES],
)
def test_password_policy(username: str, password: str, refusal: str | None) -> None:
    if refusal is None:
        assert check_password(password, username) == password
    else:
        with pytest.raises(AccountError, match=re.escape(refusal)):
            check_password(password, username)


def test_refusal_carries_the_estimators_advice() -> None:
    with pytest.raises(AccountError) as caught:
        check_password("password1234", "alice")
    assert str(caught.value) == (
        "the password is too easy to guess: This is a very common password."
        " Add another word or two. Uncommon words are better."
    )


def test_generated_passwords_pass() -> None:
    # The same generator as ``users add --generate-password``.
    for _ in range(200):
        check_password(secrets.token_urlsafe(15), "alice")


def test_accounts_refuse_weak_passwords_on_add_and_change(tmp_path: Path) -> None:
    accounts = Accounts(tmp_path / "accounts.sqlite")
    try:
        with pytest.raises(AccountError, match="too easy to guess"):
            accounts.add("alice", Role.INVESTIGATOR, "password1234")
        assert accounts.get("alice") is None
        accounts.add("alice", Role.INVESTIGATOR, "correct horse battery")
        with pytest.raises(AccountError, match="too easy to guess"):
            accounts.set_password("alice", "alice12345678")
        assert accounts.authenticate("alice", "correct horse battery") is not None
    finally:
        accounts.close()


def users_add(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "osint-archive"), "users", "add", *args],
        cwd=REPO,
        env=cli_env(home),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("password", ["password1234", " " * 12])
def test_cli_users_add_refuses_a_weak_password(tmp_path: Path, password: str) -> None:
    done = users_add(tmp_path, "alice", "--password-stdin", stdin=password + "\n")
    assert done.returncode == 2, done.stdout
    assert "error:" in done.stderr and "password" in done.stderr
    assert "Traceback" not in done.stderr
    assert "created" not in done.stdout


def test_cli_users_add_generates_a_password_that_passes(tmp_path: Path) -> None:
    done = users_add(tmp_path, "alice", "--generate-password")
    assert done.returncode == 0, done.stderr
    shown = re.search(r"password \(shown once\): (\S+)", done.stdout)
    assert shown is not None
    accounts = Accounts(tmp_path / "web" / "accounts.sqlite")
    try:
        assert accounts.authenticate("alice", shown.group(1)) is not None
    finally:
        accounts.close()
