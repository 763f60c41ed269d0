"""The DNS resolver sender authentication uses: dnspython in production, replaceable in one place for tests.

The pure checkers (postroom.mail.auth) take a resolver as an argument; the screen stage asks `get_resolver` for
one. `resolver_factory` is the hook: tests set it to return an `InMemoryZone`, so no test reaches the network
(tests/conftest.py does so for every test).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from postroom.mail.auth import DnsPythonResolver, Resolver


@functools.lru_cache(maxsize=4)
def build_dns_resolver(timeout_seconds: float) -> Resolver:
    """One dnspython resolver per timeout, reading /etc/resolv.conf once (it keeps no state between lookups)."""
    return DnsPythonResolver(lifetime=timeout_seconds)


# The hook: (per-lookup timeout in seconds) -> resolver. Replace it (e.g. with pytest's monkeypatch), never call
# DnsPythonResolver directly from a stage.
resolver_factory: Callable[[float], Resolver] = build_dns_resolver


def get_resolver(timeout_seconds: float) -> Resolver:
    return resolver_factory(timeout_seconds)
