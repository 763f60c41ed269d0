"""How often sign-in links may be asked for: fixed one-hour windows per address and per client, in Django's cache.

The per-address limit keeps the portal from being used to flood someone's mailbox; the per-client limit slows a
visitor trying many addresses. Counters live in Django's cache (the default is per process: with several web
processes, configure a shared cache such as Redis or the database cache for the limits to hold across them).
Keys carry a SHA-256 of the address, so the cache never holds the address itself.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Final

from django.core.cache import cache

WINDOW_SECONDS: Final = 3600  # the limits are "per hour"
KEY_PREFIX: Final = "postroom:portal:rate"
UNKNOWN_CLIENT: Final = "unknown"
IPV6_SUBSCRIBER_PREFIX: Final = 64  # one home or phone gets a whole /64 (RFC 6177), so count it as one client


def build_client_bucket(remote_addr: str) -> str:
    """The client a request counts against: the IPv4 address, or the IPv6 /64 it belongs to."""
    try:
        address = ipaddress.ip_address(remote_addr.strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/{IPV6_SUBSCRIBER_PREFIX}", strict=False))
    return str(address)


def _key(kind: str, subject: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{hashlib.sha256(subject.encode()).hexdigest()}"


def count_and_check(kind: str, subject: str, limit: int) -> bool:
    """Count one more request of `kind` for `subject`; True while the window's count is within `limit`.

    The window starts with the first request and lasts WINDOW_SECONDS (a fixed window: at most `limit` per
    window, at worst twice that across a window boundary)."""
    key = _key(kind, subject)
    cache.add(key, 0, timeout=WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the entry expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS)
        count = 1
    return count <= limit
