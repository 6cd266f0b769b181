"""pytest plugin and plain functions for the web UI's tests: the demo archive built once per
session, private copies of an archive, and ``osint-archive serve`` run as a real server.

``demo_archive``
    A session fixture: ``osint-archive demo`` run once into a temporary home; its path. Tests
    that only read it share it; a test that changes an archive works on ``copy_home``'s copy.
``copy_home(src, dst)``
    A copy of a whole home (archive, index, web state) for one test to change.
``web_server(home, users=...)``
    A context manager: the accounts created with ``osint-archive users add``, then
    ``osint-archive serve`` on a free loopback port; yields the base URL and stops the server
    on the way out. The end of the server's log is printed when the block fails, and added to
    the report of any test that fails while the server runs (a module fixture's server too).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_runs import BIN, REPO, cli_env, run_cli, unused_port

__all__ = [
    "CUSTODIAN",
    "INVESTIGATOR",
    "WebAccount",
    "copy_home",
    "demo_archive",
    "web_server",
]

DEMO_SECONDS = 600  # the demo takes 10 to 60 s; a slow machine gets room, a hang does not
SERVER_START_SECONDS = 30.0
SERVER_STOP_SECONDS = 10.0
LOG_TAIL_CHARS = 4000
_RUNNING: dict[str, Path] = {}  # base URL -> log of each server now running


@dataclass(frozen=True)
class WebAccount:
    """An account of the web UI, as a test signs in with it."""

    username: str
    role: str
    password: str


INVESTIGATOR = WebAccount("ivanova", "investigator", "correct horse battery")
CUSTODIAN = WebAccount("kowalski", "custodian", "staple custody chain")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report shows the end of the log of every server running."""
    report = yield
    if report.failed:
        for base_url, log in list(_RUNNING.items()):
            report.sections.append((f"osint-archive serve {base_url}", _log_tail(log)))
    return report


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The home of an archive built by ``osint-archive demo``, once per test session."""
    home = tmp_path_factory.mktemp("demo-home")
    done = run_cli(home, "demo", "--port", str(unused_port()), timeout=DEMO_SECONDS)
    assert done.returncode == 0, done.stderr[-3000:]
    return home


def copy_home(src: Path, dst: Path) -> Path:
    """A copy of the home ``src`` at ``dst`` (which must not exist), for a test to change.

    Archived files are read-only and stay so in the copy; a test that tampers with one
    changes its mode first, as an attacker with file access would.
    """
    shutil.copytree(src, dst, symlinks=True)
    return dst


def add_account(home: Path, account: WebAccount) -> None:
    """``osint-archive users add`` with the password on stdin; it must succeed."""
    done = subprocess.run(
        [
            str(BIN / "osint-archive"),
            "users",
            "add",
            account.username,
            "--role",
            account.role,
            "--password-stdin",
            "--exist-ok",
        ],
        cwd=REPO,
        env=cli_env(home),
        input=account.password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _log_tail(log: Path) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return text[-LOG_TAIL_CHARS:]


def _wait_until_answering(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"osint-archive serve exited with {process.returncode} while starting:\n"
                + _log_tail(log)
            )
        try:
            with urllib.request.urlopen(base_url + "/login", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"osint-archive serve did not answer within {SERVER_START_SECONDS:g} s:\n" + _log_tail(log)
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and its worker processes (``serve`` runs one per core)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=SERVER_STOP_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left
    process.wait(timeout=SERVER_STOP_SECONDS)


@contextmanager
def web_server(
    home: Path,
    users: Sequence[WebAccount] = (INVESTIGATOR,),
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """``osint-archive serve`` over ``home`` on a free loopback port, with ``users`` created
    first; yields the base URL (``http://127.0.0.1:PORT``, no trailing slash)."""
    for account in users:
        add_account(home, account)
    with tempfile.TemporaryDirectory(prefix="osint-serve-") as folder:
        log = Path(folder) / "serve.log"
        port = unused_port()
        base_url = f"http://127.0.0.1:{port}"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [str(BIN / "osint-archive"), "serve", "--host", "127.0.0.1", "--port", str(port)],
                cwd=REPO,
                env=cli_env(home, env),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, workers included
            )
            try:
                _wait_until_answering(process, base_url, log)
                _RUNNING[base_url] = log
                yield base_url
            except BaseException:
                print(f"--- osint-archive serve on {base_url}, last lines ---\n{_log_tail(log)}")
                raise
            finally:
                _RUNNING.pop(base_url, None)
                _stop(process)
