"""The SSRF guard: which addresses a connection test may reach, decided on every address a name resolves to."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from postroom.mail.transport.imap_append import encode_mailbox_name
from postroom.mail.transport.netguard import (
    HostRefusedError,
    HostUnresolvedError,
    detect_refused_address,
    resolve_host,
)
from postroom.mail.transport.probe_imap import decode_mailbox_name, parse_list_response


def resolver_for(*addresses: str) -> Callable[..., Sequence[tuple[Any, ...]]]:
    """A stand-in for socket.getaddrinfo answering with these addresses (what a DNS server would say)."""

    def resolve(host: str, port: int, **_: object) -> list[tuple[Any, ...]]:
        family = socket.AF_INET6 if any(":" in a for a in addresses) else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]

    return resolve


@pytest.mark.parametrize(
    ("address", "allow_private", "refused_because"),
    [
        ("93.184.216.34", False, None),
        ("2606:2800:220:1::1", False, None),
        ("127.0.0.1", False, "loopback"),
        ("127.0.0.1", True, None),
        ("::1", False, "loopback"),
        ("10.1.2.3", False, "private"),
        ("192.168.0.10", True, None),
        ("100.64.0.1", False, "private"),  # carrier-grade NAT (RFC 6598): not global
        ("::ffff:10.0.0.1", False, "private"),  # an IPv4-mapped IPv6 address is the IPv4 address
        ("169.254.169.254", True, "link-local"),  # cloud metadata: never, whatever the operator allows
        ("fe80::1%eth0", True, "link-local"),
        ("0.0.0.0", True, "unspecified"),  # noqa: S104 (an address under test, nothing binds to it)
        ("224.0.0.1", True, "multicast"),
    ],
)
def test_addresses_are_classified(address: str, allow_private: bool, refused_because: str | None) -> None:
    """GIVEN an address and the operator's choice WHEN checked THEN it is allowed, or refused naming its kind."""
    reason = detect_refused_address(address, allow_private=allow_private)
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and f"a {refused_because} address" in reason


def test_a_name_with_any_private_address_is_refused_as_a_whole() -> None:
    """
    GIVEN a name resolving to a public and a private address (DNS pointing inwards)
    WHEN it is resolved for a connection test
    THEN it is refused naming the private address, with every address kept for the report
    """
    with pytest.raises(HostRefusedError) as refused:
        resolve_host("mail.example.com", 993, allow_private=False, resolver=resolver_for("93.184.216.34", "10.0.0.5"))

    assert "mail.example.com resolves to 10.0.0.5 is a private address" in refused.value.detail
    assert refused.value.addresses == ("93.184.216.34", "10.0.0.5")


def test_a_public_name_resolves_to_every_address_in_order() -> None:
    """GIVEN a name with two public addresses WHEN resolved THEN both, in the resolver's order, duplicates once."""
    resolved = resolve_host(
        "mail.example.com",
        993,
        allow_private=False,
        resolver=resolver_for("93.184.216.34", "93.184.216.35", "93.184.216.34"),
    )
    assert resolved.addresses == ("93.184.216.34", "93.184.216.35")


def test_an_unknown_name_says_so() -> None:
    """GIVEN a resolver that knows no such name WHEN resolved THEN HostUnresolvedError in plain words."""

    def nothing(*_: object, **__: object) -> list[tuple[Any, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(HostUnresolvedError) as unresolved:
        resolve_host("imap.nowhere.example", 993, allow_private=True, resolver=nothing)
    assert str(unresolved.value) == "imap.nowhere.example does not resolve: no such host name"


@pytest.mark.parametrize("name", ["INBOX", "Entwürfe", "Gesendete Elemente", "Q&A", "日本語", "a/b"])
def test_folder_names_round_trip_through_modified_utf7(name: str) -> None:
    """GIVEN a folder name WHEN encoded (RFC 3501 5.1.3) and decoded THEN it is the same name."""
    assert decode_mailbox_name(encode_mailbox_name(name)) == name


def test_list_responses_give_selectable_folder_names() -> None:
    """GIVEN LIST lines (atom, quoted with escapes, literal, \\Noselect) WHEN parsed THEN the selectable names."""
    data: list[object] = [
        b'(\\HasNoChildren) "/" INBOX',
        b'(\\HasNoChildren) "/" "Entw&APw-rfe"',
        b'(\\HasNoChildren) "/" "say \\"hi\\""',
        (b'(\\HasNoChildren) "/" {10}', b"Lit folder"),
        b'(\\Noselect \\HasChildren) "/" Archive',
        b"(\\HasNoChildren) NIL Flat",
    ]
    assert parse_list_response(data) == ("INBOX", "Entwürfe", 'say "hi"', "Lit folder", "Flat")


def test_proxy_lists_parse_names_schemes_and_credentials() -> None:
    from postroom.mail.transport.proxy import ProxyConfigError, find_proxy, parse_proxy_list

    proxies = parse_proxy_list("corp=http://proxy.lan, dmz=socks5://user:p%40ss@gw.example:1081")
    assert (proxies["corp"].scheme, proxies["corp"].host, proxies["corp"].port) == ("http", "proxy.lan", 3128)
    dmz = proxies["dmz"]
    assert (dmz.host, dmz.port, dmz.username, dmz.password) == ("gw.example", 1081, "user", "p@ss")
    assert "p@ss" not in repr(dmz) and "p@ss" not in dmz.describe()
    assert find_proxy(proxies, "") is None
    for bad, message in (
        ("x=ftp://h", "scheme must be one of"),
        ("x=http://", "no host"),
        ("justaurl", "must look like name="),
        ("a=http://h,a=http://i", "named twice"),
    ):
        with pytest.raises(ProxyConfigError, match=message):
            parse_proxy_list(bad)
    with pytest.raises(ProxyConfigError, match="no proxy named other; known: corp, dmz"):
        find_proxy(proxies, "other")
