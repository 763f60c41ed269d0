"""The DNS circuit breaker: a resolver that keeps failing is skipped for a while instead of stalling every message."""

from __future__ import annotations

import contextlib

import pytest

from postroom.inbound.auth_dns import CircuitBreakerResolver
from postroom.mail.auth.resolver import DnsTemporaryError, InMemoryZone, ZoneRecord


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingZone(InMemoryZone):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked = 0

    def resolve_txt(self, name: str) -> tuple[bytes, ...]:
        self.asked += 1
        return super().resolve_txt(name)


def test_repeated_timeouts_pause_lookups_then_one_is_tried_again() -> None:
    """
    GIVEN a resolver whose every lookup times out, behind the breaker (3 failures, 60 s)
    WHEN five names are looked up, then the clock passes 60 s and the zone answers again
    THEN the first three reach the resolver and fail, the next two fail at once without asking it; after the pause
         one lookup is asked again and its success lets the following ones through
    """
    clock = Clock()
    names = [f"d{i}.example" for i in range(5)]
    zone = CountingZone(timeouts=names)
    breaker = CircuitBreakerResolver(zone, failures_to_open=3, open_seconds=60, clock=clock)
    for name in names:
        with pytest.raises(DnsTemporaryError):
            breaker.resolve_txt(name)
    assert zone.asked == 3

    clock.now += 61
    healthy = CountingZone([ZoneRecord("example.org", "TXT", b"v=spf1 -all")])
    breaker._inner = healthy  # the resolver came back
    assert breaker.resolve_txt("example.org") == (b"v=spf1 -all",)
    assert breaker.resolve_txt("example.org") == (b"v=spf1 -all",)
    assert healthy.asked == 2


def test_failures_must_be_consecutive() -> None:
    """GIVEN failures separated by a success WHEN counted THEN the breaker stays closed."""
    clock = Clock()
    zone = CountingZone([ZoneRecord("ok.example", "TXT", b"x")], timeouts=["down1.example", "down2.example"])
    breaker = CircuitBreakerResolver(zone, failures_to_open=2, open_seconds=60, clock=clock)
    for name in ("down1.example", "ok.example", "down2.example", "ok.example"):
        with contextlib.suppress(DnsTemporaryError):
            breaker.resolve_txt(name)
    assert zone.asked == 4


def test_a_name_that_failed_is_not_asked_again_for_a_while() -> None:
    """
    GIVEN a breaker that opens only after many failures, and a zone where one made-up domain times out
    WHEN that domain is looked up twice, another domain in between, and again after five minutes
    THEN the second lookup fails at once without asking; the other domain is asked; after the pause it is asked again
    """
    clock = Clock()
    zone = CountingZone([ZoneRecord("ok.example", "TXT", b"x")], timeouts=["broken.loc"])
    breaker = CircuitBreakerResolver(zone, failures_to_open=100, open_seconds=60, clock=clock)
    for _ in range(2):
        with pytest.raises(DnsTemporaryError):
            breaker.resolve_txt("broken.loc")
    assert breaker.resolve_txt("ok.example") == (b"x",)
    assert zone.asked == 2
    clock.now += 301
    with pytest.raises(DnsTemporaryError):
        breaker.resolve_txt("broken.loc")
    assert zone.asked == 3
