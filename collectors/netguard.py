"""Which network targets a collector may reach.

Sources are configured by analysts, and pages redirect wherever they like, so every target is
checked twice: the URL itself (scheme, literal address) and every address DNS returns, on the
first request and on every redirect. Loopback, private, link-local (cloud metadata), reserved
and other non-global addresses are refused unless explicitly allowed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from yarl import URL

ALLOWED_SCHEMES = frozenset({"http", "https"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedTargetError(Exception):
    """The URL's scheme or address is not allowed; a permanent failure, not retried."""


@dataclass(frozen=True)
class NetworkPolicy:
    """Allow public addresses; private ones only when allowed wholesale or by network."""

    allow_private_networks: bool = False
    allowed_networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> NetworkPolicy:
        """Read ``OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS`` (1/0) and
        ``OSINT_ARCHIVE_ALLOW_NETWORKS`` (comma-separated CIDRs, e.g. an intranet mirror)."""
        allow_all = environ.get("OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS", "0").strip() == "1"
        networks = tuple(
            ipaddress.ip_network(item.strip(), strict=False)
            for item in environ.get("OSINT_ARCHIVE_ALLOW_NETWORKS", "").split(",")
            if item.strip()
        )
        return cls(allow_private_networks=allow_all, allowed_networks=networks)

    def check_address(self, address: IPAddress) -> None:
        """Raise ``BlockedTargetError`` unless the address may be contacted."""
        if isinstance(address, ipaddress.IPv6Address):
            embedded = embedded_ipv4(address)
            if embedded is not None:
                address = embedded  # judged by the IPv4 host it reaches
        if self.allow_private_networks or is_public(address):
            return
        if any(address in network for network in self.allowed_networks):
            return
        raise BlockedTargetError(
            f"address {address} is not public (loopback, private, link-local, multicast or "
            "reserved); set OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS=1 to allow it"
        )

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        """Every address a name resolves to must be allowed (no mixed answers)."""
        for text in addresses:
            try:
                self.check_address(ipaddress.ip_address(text.split("%", 1)[0]))
            except BlockedTargetError as err:
                raise BlockedTargetError(f"{host} resolves to {text}: {err}") from None

    def check_url(self, url: str) -> None:
        """Check scheme and, for hosts written as addresses (in any notation), the address."""
        parts = urlsplit(url)
        if parts.scheme.lower() not in ALLOWED_SCHEMES:
            raise BlockedTargetError(f"scheme {parts.scheme or '(none)'!r} is not http(s): {url}")
        host = parts.hostname
        if not host:
            raise BlockedTargetError(f"URL has no host: {url}")
        # The HTTP client parses the URL with yarl, which applies IDNA mapping: fullwidth
        # digits and ideographic dots ("１２７。０。０。１") become "127.0.0.1" there, and a
        # literal address skips DNS (and so the resolver's check). Check the host it connects to.
        try:
            client_host = URL(url).raw_host
        except ValueError:
            client_host = None  # the client cannot parse it either, and fails before connecting
        for name in dict.fromkeys(filter(None, (host, client_host))):
            literal = literal_address(name)
            if literal is not None:
                self.check_address(literal)

    def check_url_resolving(self, url: str) -> None:
        """``check_url``, then resolve the host and check every address (blocking).

        For programs that connect by themselves (yt-dlp): they resolve the name again, so a
        rebinding DNS answer could still differ; the fetcher's own connections are checked at
        connect time instead.
        """
        self.check_url(url)
        host = urlsplit(url).hostname or ""
        if literal_address(host) is not None:
            return
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except OSError:
            return  # the program's own lookup fails the same way and reports it
        self.check_addresses(host, [str(info[4][0]) for info in infos])


def is_public(address: IPAddress) -> bool:
    """``is_global`` without the ranges older Pythons (< 3.12.4) count as global: multicast
    (224.0.0.0/4, ff00::/8) and deprecated IPv6 site-local (fec0::/10)."""
    if address.is_multicast or (address.version == 6 and address.is_site_local):
        return False
    return address.is_global


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, including decimal, octal and hex IPv4 forms.

    ``inet_aton`` accepts the legacy notations (``2130706433``, ``0177.0.0.1``, ``0x7f.1``)
    that browsers and resolvers also accept, so they cannot sneak past as "names".
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 host an IPv6 address reaches: mapped, NAT64, 6to4 or Teredo forms.

    ``is_global`` is True for some of these prefixes whatever IPv4 address they carry, so
    ``64:ff9b::7f00:1`` or ``2002:7f00:1::`` would otherwise reach loopback through a gateway.
    """
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None
