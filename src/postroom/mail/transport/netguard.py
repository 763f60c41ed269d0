"""The SSRF guard: a user-entered mail server must resolve to public addresses only (unless the operator allows).

An admin types a host name into a mailbox's settings and Postroom connects to it from inside the network, so a
host name could point the server at an internal service (a database, a cloud metadata endpoint). The name is
resolved once here; every address it resolves to must be public (loopback and private networks only when the
operator allows them, link-local, multicast and unspecified addresses never); the connection then goes to exactly
the addresses checked, so a second DNS answer (rebinding) cannot move it elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from postroom.mail.transport.proxy import ProxySettings, open_tunnel

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., Sequence[tuple[Any, ...]]]  # socket.getaddrinfo's shape

ALLOW_HINT: Final = "private hosts are not allowed here (the operator may allow them: POSTROOM_ALLOW_PRIVATE_HOSTS)"


class HostRefusedError(ValueError):
    """The host resolves to an address Postroom must not connect to; nothing was sent to it."""

    def __init__(self, detail: str, addresses: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.addresses = addresses


class HostUnresolvedError(OSError):
    """The host name does not resolve (no such name, or the resolver failed)."""


@dataclass(frozen=True, slots=True)
class ResolvedHost:
    """A checked host: its name and every address it resolved to, in the resolver's order (connect in this order)."""

    host: str
    addresses: tuple[str, ...]


def classify_address(address: IpAddress) -> str | None:
    """What kind of non-public address this is ("loopback", "private", ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "multicast"
    if address.is_link_local:
        return "link-local"
    if address.is_loopback:
        return "loopback"
    if address.is_private or not address.is_global:
        return "private"
    return None


ALWAYS_REFUSED: Final = frozenset({"unspecified", "multicast", "link-local"})  # no mail server lives there


def detect_refused_address(address: str, *, allow_private: bool) -> str | None:
    """Why Postroom must not connect to `address` (an IP literal), or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    except ValueError:
        return f"{address} is not an IP address"
    kind = classify_address(ip)
    if kind is None:
        return None
    if kind in ALWAYS_REFUSED:
        return f"{address} is a {kind} address, never a mail server's"
    if allow_private:
        return None
    return f"{address} is a {kind} address, and {ALLOW_HINT}"


def resolve_host(host: str, port: int, *, allow_private: bool, resolver: Resolver = socket.getaddrinfo) -> ResolvedHost:
    """Resolve `host` and check every address; raise HostRefusedError if any is refused (all or nothing).

    A name with one public and one private address is refused as a whole: which one a client would use is up to
    the resolver's order, so the private one must not be reachable through it.
    """
    name = host.strip().strip("[]")
    try:
        infos = resolver(name, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise HostUnresolvedError(f"{host} does not resolve: {_describe_gaierror(e)}") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise HostUnresolvedError(f"{host} does not resolve to any address")
    for address in addresses:
        reason = detect_refused_address(address, allow_private=allow_private)
        if reason is not None:
            shown = f"{host} resolves to {reason}" if address != name else reason
            raise HostRefusedError(f"refused to connect: {shown}", addresses)
    return ResolvedHost(host=name, addresses=addresses)


def connect_first(
    addresses: Sequence[str], port: int, timeout: float, proxy: ProxySettings | None = None
) -> socket.socket:
    """A TCP connection to the first of `addresses` that accepts (as socket.create_connection tries them); through
    `proxy` when the mailbox names one (mail/transport/proxy.py), which is asked for the checked address."""
    last_error: OSError | None = None
    for address in addresses:
        try:
            if proxy is not None:
                return open_tunnel(proxy, address, port, timeout)
            return socket.create_connection((address, port), timeout)
        except OSError as e:
            last_error = e
    if last_error is None:
        raise HostUnresolvedError("no address to connect to")
    raise last_error


def _describe_gaierror(error: BaseException) -> str:
    if isinstance(error, socket.gaierror) and error.errno in {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)}:
        return "no such host name"
    if isinstance(error, socket.gaierror) and error.errno == socket.EAI_AGAIN:
        return "the name server did not answer (try again later)"
    return str(error.args[-1]) if error.args else type(error).__name__
