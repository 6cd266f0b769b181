"""pytest plugin: the local test web site (HTTP and HTTPS) and a tripwire on outgoing connects."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.http_site import LocalHttpSite, TlsMaterial, make_tls_material


@pytest.fixture
def http_site() -> Iterator[LocalHttpSite]:
    """A fresh site per test on 127.0.0.1, so retry counters start at zero."""
    with LocalHttpSite() as site:
        yield site


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A throwaway CA and a server certificate for 127.0.0.1."""
    return make_tls_material(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def https_site(tls_material: TlsMaterial) -> Iterator[LocalHttpSite]:
    """The same site over TLS, with the certificate from ``tls_material``."""
    with LocalHttpSite(ssl_context=tls_material.server_context()) as site:
        yield site


class ConnectionLog:
    """Every address a socket in this process tried to connect to during the test."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.addresses: list[tuple[str, int]] = []

    def record(self, address: Any) -> None:
        with self._lock:
            self.addresses.append((str(address[0]), int(address[1])))

    def hosts(self) -> set[str]:
        with self._lock:
            return {host for host, _ in self.addresses}


@pytest.fixture
def connection_log(monkeypatch: pytest.MonkeyPatch) -> ConnectionLog:
    """Record every outgoing TCP/UDP connect, and refuse any that is not to loopback.

    The refusal is a safety net, not the thing under test: a test that sends a blocked target
    to the fetcher asserts the fetcher's own guard refused it and that no connect was even
    attempted to that address, while the tripwire guarantees no packet leaves this machine if
    the guard were ever broken.
    """
    log = ConnectionLog()
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            log.record(address)
            host = str(address[0]).split("%", 1)[0]
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"test tripwire: refused connect to {address!r}")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return original_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return log
