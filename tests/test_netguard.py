"""The network policy: which URLs and addresses a collector may reach, in every notation."""

from __future__ import annotations

import ipaddress

import pytest

from collectors.netguard import BlockedTargetError, NetworkPolicy, literal_address

BLOCKED_ADDRESSES = [
    "127.0.0.1",  # loopback
    "127.255.255.254",
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # link-local: cloud metadata
    "0.0.0.0",  # unspecified
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "100.64.0.1",  # carrier-grade NAT (shared address space)
    "255.255.255.255",  # broadcast
    "240.0.0.1",  # reserved
    "::1",
    "::",
    "fe80::1",
    "fe80::1%eth0",
    "fc00::1",
    "fd12:3456:789a::1",
    "fec0::1",  # deprecated site-local
    "ff02::1",  # multicast
    "ff0e::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
]

BLOCKED_URLS = [
    "http://127.0.0.1/",
    "http://127.1/",  # short form
    "http://2130706433/",  # decimal
    "http://0177.0.0.1/",  # octal
    "http://0x7f000001/",  # hex
    "http://0x7f.1/",  # hex, short form
    "http://0x7F.0.0.1:8080/path",
    "http://0/",  # 0.0.0.0
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/",
    "http://[fe80::1%25eth0]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "https://10.1.2.3/admin",
    "http://user:secret@192.168.0.1/",
    # Hosts that the HTTP client (yarl, IDNA mapping) turns into 127.0.0.1.
    "http://１２７.０.０.１/",
    "http://127。0。0。1/",
]

PUBLIC_URLS = [
    "https://example.org/news",
    "http://93.184.215.14/",
    "https://[2606:4700:4700::1111]/",
    "http://8.8.8.8:8080/x",
    "https://xn--80ak6aa92e.com/",  # a name: checked after DNS, not here
]


@pytest.mark.parametrize("text", BLOCKED_ADDRESSES)
def test_non_public_addresses_are_refused(text: str) -> None:
    with pytest.raises(BlockedTargetError, match="not public"):
        NetworkPolicy().check_address(ipaddress.ip_address(text))


@pytest.mark.parametrize("text", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(text: str) -> None:
    NetworkPolicy().check_address(ipaddress.ip_address(text))


@pytest.mark.parametrize("url", BLOCKED_URLS)
def test_urls_naming_non_public_addresses_are_refused(url: str) -> None:
    with pytest.raises(BlockedTargetError, match="not public"):
        NetworkPolicy().check_url(url)


@pytest.mark.parametrize("url", PUBLIC_URLS)
def test_urls_naming_public_addresses_or_names_are_allowed(url: str) -> None:
    NetworkPolicy().check_url(url)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("example.org", None),
        ("localhost", None),
    ],
)
def test_literal_address_reads_every_ipv4_notation(host: str, expected: str | None) -> None:
    found = literal_address(host)
    assert (str(found) if found is not None else None) == expected


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.org/x", "gopher://example.org:70/", "example.org/x"],
)
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(BlockedTargetError, match="scheme"):
        NetworkPolicy().check_url(url)


def test_url_without_host_is_refused() -> None:
    with pytest.raises(BlockedTargetError, match="no host"):
        NetworkPolicy().check_url("http:///path")


def test_error_names_the_address() -> None:
    with pytest.raises(BlockedTargetError, match=r"169\.254\.169\.254"):
        NetworkPolicy().check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedTargetError, match=r"127\.0\.0\.1"):
        NetworkPolicy().check_url("http://0x7f.1/")


def test_check_addresses_refuses_a_mixed_dns_answer() -> None:
    with pytest.raises(BlockedTargetError, match=r"evil\.example resolves to 10\.0\.0\.5"):
        NetworkPolicy().check_addresses("evil.example", ["93.184.215.14", "10.0.0.5"])
    NetworkPolicy().check_addresses("example.org", ["93.184.215.14", "2606:4700:4700::1111"])


def test_from_env_defaults_to_public_only() -> None:
    policy = NetworkPolicy.from_env({})
    assert policy == NetworkPolicy()
    with pytest.raises(BlockedTargetError):
        policy.check_url("http://127.0.0.1/")


def test_from_env_allow_private_networks() -> None:
    policy = NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "1"})
    assert policy.allow_private_networks
    for url in ("http://127.0.0.1/", "http://2130706433/", "http://[::1]/", "http://10.0.0.1/"):
        policy.check_url(url)
    off = NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_PRIVATE_NETWORKS": "0"})
    with pytest.raises(BlockedTargetError):
        off.check_url("http://10.0.0.1/")


def test_from_env_allow_networks_allows_only_those() -> None:
    policy = NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_NETWORKS": "127.0.0.1/32"})
    assert policy.allowed_networks == (ipaddress.ip_network("127.0.0.1/32"),)
    policy.check_url("http://127.0.0.1:8080/")
    policy.check_url("http://2130706433/")  # the same address, written differently
    policy.check_url("http://[::ffff:127.0.0.1]/")  # and IPv4-mapped
    policy.check_url("https://example.org/")
    for url in (
        "http://127.0.0.2/",
        "http://0x7f.2/",
        "http://[::1]/",
        "http://169.254.169.254/",
        "http://10.0.0.1/",
    ):
        with pytest.raises(BlockedTargetError):
            policy.check_url(url)


def test_from_env_reads_several_networks() -> None:
    policy = NetworkPolicy.from_env(
        {"OSINT_ARCHIVE_ALLOW_NETWORKS": " 10.20.0.0/16, fd00::/8 ,192.168.1.7"}
    )
    policy.check_address(ipaddress.ip_address("10.20.3.4"))
    policy.check_address(ipaddress.ip_address("fd00::5"))
    policy.check_address(ipaddress.ip_address("192.168.1.7"))
    with pytest.raises(BlockedTargetError):
        policy.check_address(ipaddress.ip_address("10.21.0.1"))


def test_from_env_rejects_a_malformed_network() -> None:
    with pytest.raises(ValueError, match="not-a-network"):
        NetworkPolicy.from_env({"OSINT_ARCHIVE_ALLOW_NETWORKS": "not-a-network"})


# Every IPv6 form that carries an IPv4 address (IANA special-purpose registries, RFC 6890 and
# RFC 6052/8215), and IPv6 ranges that are not global whatever they carry.
IPV6_EMBEDDING_CASES = [
    # (id, address, allowed)
    ("mapped-loopback", "::ffff:127.0.0.1", False),
    ("mapped-public", "::ffff:93.184.216.34", True),
    ("compatible-loopback", "::127.0.0.1", False),
    ("compatible-metadata", "::169.254.169.254", False),
    ("compatible-private", "::a00:1", False),
    ("compatible-public", "::93.184.216.34", True),
    ("translated-loopback", "::ffff:0:127.0.0.1", False),
    ("translated-private", "::ffff:0:c0a8:101", False),
    ("translated-public", "::ffff:0:5db8:d822", True),
    ("nat64-loopback", "64:ff9b::7f00:1", False),
    ("nat64-private", "64:ff9b::a00:1", False),
    ("nat64-public", "64:ff9b::5db8:d822", True),
    ("nat64-local-use-loopback-96", "64:ff9b:1::7f00:1", False),
    ("nat64-local-use-loopback-48", "64:ff9b:1:7f00:1::", False),
    ("nat64-local-use-public", "64:ff9b:1::5db8:d822", False),  # prefix length unknown
    ("6to4-loopback", "2002:7f00:1::", False),
    ("6to4-metadata", "2002:a9fe:a9fe::1", False),
    ("6to4-public", "2002:5db8:d822::1", True),
    ("teredo-private-client", "2001:0:4136:e378:8000:63bf:80ff:fffe", False),
    ("teredo-loopback-server", "2001:0:7f00:1:8000:63bf:a247:29dd", False),
    ("reserved-ietf", "0:0:1::1", False),
    ("documentation-3fff", "3fff::1", False),
    ("documentation-2001-db8", "2001:db8::1", False),
    ("srv6-sid", "5f00::1", False),
    ("discard-only", "100::1", False),
    ("loopback", "::1", False),
    ("unspecified", "::", False),
    ("global-unicast", "2606:4700:4700::1111", True),
]


@pytest.mark.parametrize(
    ("address", "allowed"),
    [case[1:] for case in IPV6_EMBEDDING_CASES],
    ids=[case[0] for case in IPV6_EMBEDDING_CASES],
)
def test_ipv4_hidden_in_ipv6_is_judged_by_the_ipv4_host(address: str, allowed: bool) -> None:
    policy = NetworkPolicy()
    if allowed:
        policy.check_address(ipaddress.ip_address(address))
        policy.check_url(f"http://[{address}]/")
    else:
        with pytest.raises(BlockedTargetError, match="not public"):
            policy.check_address(ipaddress.ip_address(address))
        with pytest.raises(BlockedTargetError, match="not public"):
            policy.check_url(f"http://[{address}]/")


def test_embedded_ipv4_error_names_both_addresses() -> None:
    with pytest.raises(
        BlockedTargetError, match=r"::7f00:1 \(it reaches the IPv4 host 127\.0\.0\.1\)"
    ):
        NetworkPolicy().check_address(ipaddress.ip_address("::127.0.0.1"))


def test_allowed_network_also_allows_its_ipv4_compatible_form() -> None:
    policy = NetworkPolicy(allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    policy.check_address(ipaddress.ip_address("::127.0.0.1"))
    with pytest.raises(BlockedTargetError):
        policy.check_address(ipaddress.ip_address("::127.0.0.2"))


def test_a_name_that_resolves_to_a_private_address_is_refused_for_other_programs() -> None:
    # yt-dlp connects by itself: its guard resolves the name first ("localhost" is loopback).
    with pytest.raises(BlockedTargetError, match="resolves to"):
        NetworkPolicy().check_url_resolving("http://localhost:9/video")
    NetworkPolicy(allow_private_networks=True).check_url_resolving("http://localhost:9/video")
