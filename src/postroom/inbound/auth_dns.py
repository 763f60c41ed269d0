"""The DNS resolver sender authentication uses: dnspython in production, replaceable in one place for tests.

The pure checkers (postroom.mail.auth) take a resolver as an argument; the screen stage asks `get_resolver` for
one. `resolver_factory` is the hook: tests set it to return an `InMemoryZone`, so no test reaches the network
(tests/conftest.py does so for every test).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Final, TypeVar

from postroom.mail.auth import DnsPythonResolver, Resolver
from postroom.mail.auth.resolver import AddressType, DnsTemporaryError, MxRecord

FAILURES_TO_OPEN: Final = 3  # consecutive temporary failures (timeouts, SERVFAIL, no server) before DNS is skipped
OPEN_SECONDS: Final = 60.0  # how long lookups are skipped before one is tried again
FAILED_NAME_SECONDS: Final = 300.0  # a name whose lookup failed is not asked again for this long
FAILED_NAMES_KEPT: Final = 10_000

T = TypeVar("T")


class CircuitBreakerResolver:
    """A resolver that stops asking for a while once DNS keeps failing.

    Each message needs several lookups (DKIM keys, DMARC policy, SPF includes), each bounded by the timeout: with
    the resolver down, every message would wait that long several times over and the line would crawl. After
    FAILURES_TO_OPEN consecutive temporary failures the lookups fail at once (a temperror, which only tags, never
    quarantines) for OPEN_SECONDS; then one lookup is tried again, and a success closes the circuit. A single name
    whose servers do not answer (a broken or made-up domain) is not asked again for FAILED_NAME_SECONDS: without
    that, every message from it would wait out the timeout."""

    def __init__(
        self,
        inner: Resolver,
        *,
        failures_to_open: int = FAILURES_TO_OPEN,
        open_seconds: float = OPEN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._failures_to_open = failures_to_open
        self._open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._failed_names: dict[tuple[str, str], float] = {}  # (type, name) -> until when it is not asked
        self._lock = threading.Lock()

    def _call(self, key: tuple[str, str], lookup: Callable[[], T]) -> T:
        with self._lock:
            now = self._clock()
            if now < self._open_until:
                raise DnsTemporaryError("DNS lookups paused after repeated failures (resolver unreachable?)")
            if self._failed_names.get(key, 0.0) > now:
                raise DnsTemporaryError(f"{key[0]} {key[1]}: failed recently, not asked again yet")
        try:
            result = lookup()
        except DnsTemporaryError:
            with self._lock:
                now = self._clock()
                self._failures += 1
                if self._failures >= self._failures_to_open:
                    self._open_until = now + self._open_seconds
                if len(self._failed_names) >= FAILED_NAMES_KEPT:
                    self._failed_names = {k: t for k, t in self._failed_names.items() if t > now}
                self._failed_names[key] = now + FAILED_NAME_SECONDS
            raise
        with self._lock:
            self._failures = 0
        return result

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        return self._call(("TXT", name), lambda: self._inner.resolve_txt(name))

    def resolve_addresses(self, name: str, rdtype: AddressType) -> tuple[str, ...]:
        return self._call((rdtype, name), lambda: self._inner.resolve_addresses(name, rdtype))

    def resolve_mx(self, name: str) -> tuple[MxRecord, ...]:
        return self._call(("MX", name), lambda: self._inner.resolve_mx(name))

    def resolve_ptr(self, name: str) -> tuple[str, ...]:
        return self._call(("PTR", name), lambda: self._inner.resolve_ptr(name))


@functools.lru_cache(maxsize=4)
def build_dns_resolver(timeout_seconds: float) -> Resolver:
    """One dnspython resolver per timeout and process, reading /etc/resolv.conf once, behind a circuit breaker."""
    return CircuitBreakerResolver(DnsPythonResolver(lifetime=timeout_seconds))


# The hook: (per-lookup timeout in seconds) -> resolver. Replace it (e.g. with pytest's monkeypatch), never call
# DnsPythonResolver directly from a stage.
resolver_factory: Callable[[float], Resolver] = build_dns_resolver


def get_resolver(timeout_seconds: float) -> Resolver:
    return resolver_factory(timeout_seconds)
