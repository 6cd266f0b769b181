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
        """Raise ``BlockedTargetError`` unless the address may be contacted.

        An IPv6 address that carries an IPv4 address (mapped, compatible, translated, NAT64,
        6to4, Teredo) is judged by every IPv4 host it reaches; other IPv6 addresses by
        themselves, including ranges refused whatever they carry (``REFUSED_IPV6_RANGES``).
        """
        if self.allow_private_networks:
            return
        reached = embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else ()
        for judged in reached or (address,):
            if is_public(judged) or self._explicitly_allowed(address, judged):
                continue
            via = f" (it reaches the IPv4 host {judged})" if judged != address else ""
            raise BlockedTargetError(
                f"address {address}{via} is not public (loopback, private, link-local, "
                "multicast or reserved); set OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS=1 to allow it"
            )
        if isinstance(address, ipaddress.IPv6Address) and not reached:
            refused = refused_ipv6_range(address)
            if refused is not None and not self._explicitly_allowed(address, address):
                raise BlockedTargetError(
                    f"address {address} is not public ({refused}); "
                    "set OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS=1 to allow it"
                )

    def _explicitly_allowed(self, address: IPAddress, judged: IPAddress) -> bool:
        return any(
            candidate in network
            for network in self.allowed_networks
            for candidate in (address, judged)
            if candidate.version == network.version
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


# Where IANA's special-purpose registries (RFC 6890 and its updates) and RFC 6052 put an IPv4
# address inside an IPv6 one. ``is_global`` is True for some of these prefixes whatever IPv4
# address they carry, so ``::127.0.0.1`` or ``64:ff9b::7f00:1`` would otherwise reach loopback
# through the host's own stack or a translator.
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # RFC 4291 2.5.5.1, deprecated
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 (SIIT)
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052

# Ranges refused outright: the IPv4 address sits where the operator's chosen prefix length
# says (RFC 6052 allows /32 to /96), so it cannot be read back; or the range is documentation
# or special use that Python 3.11's tables do not list yet.
REFUSED_IPV6_RANGES: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "local-use IPv4/IPv6 translation, RFC 8215"),
    (ipaddress.IPv6Network("::/8"), "reserved by the IETF, holds IPv4-embedding forms"),
    (ipaddress.IPv6Network("2001::/23"), "IETF protocol assignments, RFC 2928"),
    (ipaddress.IPv6Network("3fff::/20"), "documentation, RFC 9637"),
    (ipaddress.IPv6Network("5f00::/16"), "segment routing SIDs, RFC 9602"),
)


def refused_ipv6_range(address: ipaddress.IPv6Address) -> str | None:
    """Why an IPv6 address lies in a range refused whatever it embeds, or None."""
    for network, reason in REFUSED_IPV6_RANGES:
        if address in network:
            return reason
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """Every IPv4 host an IPv6 address reaches, or ``()`` when it embeds none.

    Mapped (``::ffff:a.b.c.d``), compatible (``::a.b.c.d``), translated
    (``::ffff:0:a.b.c.d``), NAT64 well-known prefix (``64:ff9b::a.b.c.d``), 6to4
    (``2002:AABB:CCDD::``) and Teredo, whose packets go through a server and to a client
    that are both IPv4 hosts.
    """
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in IPV4_COMPATIBLE and int(address) > 1:  # "::" and "::1" are themselves
        return (low32,)
    if address in IPV4_TRANSLATED or address in NAT64_WELL_KNOWN:
        return (low32,)
    if address.sixtofour is not None:
        return (address.sixtofour,)
    if address.teredo is not None:
        return address.teredo
    return ()
