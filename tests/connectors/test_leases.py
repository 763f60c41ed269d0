"""Mailbox leases: one holder at a time, renewal, takeover after expiry, release; the poller's reaction (fake clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from connectorkit import make_mailbox

from postroom.connectors import leases
from postroom.connectors.models import MailboxLease
from postroom.connectors.poller import Poller

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=7.5)  # 1.5 heartbeats of 5 s


def mailbox_id(name: str = "inbox") -> int:
    return make_mailbox(name, host="imap.example.org", username="u").pk


def test_a_free_lease_goes_to_exactly_one_poller() -> None:
    """GIVEN a mailbox nobody holds WHEN two pollers claim it at the same moment THEN only the first wins."""
    mid = mailbox_id()
    assert leases.claim_free_leases("a", T0, TTL, [mid]) == {mid}
    assert leases.claim_free_leases("b", T0, TTL, [mid]) == set()
    assert MailboxLease.objects.get(mailbox_id=mid).holder == "a"


def test_renewal_keeps_the_lease_past_its_first_expiry() -> None:
    """GIVEN a held lease WHEN its holder renews before expiry THEN another poller cannot take it at the old expiry."""
    mid = mailbox_id()
    leases.claim_free_leases("a", T0, TTL, [mid])
    assert leases.renew_leases("a", T0 + dt.timedelta(seconds=5), TTL) == {mid}
    assert leases.claim_free_leases("b", T0 + dt.timedelta(seconds=8), TTL, [mid]) == set()
    lease = MailboxLease.objects.get(mailbox_id=mid)
    assert lease.expires_at == T0 + dt.timedelta(seconds=5) + TTL


def test_an_expired_lease_is_taken_over_and_the_old_holder_cannot_renew_it() -> None:
    """GIVEN a lease whose holder stopped renewing WHEN it expires THEN another poller takes it, and a late renewal
    by the old holder gets nothing back."""
    mid = mailbox_id()
    leases.claim_free_leases("a", T0, TTL, [mid])
    assert leases.claim_free_leases("b", T0 + TTL - dt.timedelta(microseconds=1), TTL, [mid]) == set()
    assert leases.claim_free_leases("b", T0 + TTL, TTL, [mid]) == {mid}
    assert leases.renew_leases("a", T0 + TTL + dt.timedelta(seconds=1), TTL) == set()
    assert MailboxLease.objects.get(mailbox_id=mid).holder == "b"


def test_a_released_lease_is_claimable_at_once() -> None:
    """GIVEN a held lease WHEN its poller stops cleanly THEN another claims it without waiting for the expiry."""
    mid = mailbox_id()
    leases.claim_free_leases("a", T0, TTL, [mid])
    assert leases.release_leases("a", T0 + dt.timedelta(seconds=1)) == 1
    assert leases.claim_free_leases("b", T0 + dt.timedelta(seconds=1), TTL, [mid]) == {mid}


def test_inactive_and_non_imap_mailboxes_are_not_polled() -> None:
    """GIVEN an active IMAP mailbox, an inactive one and an SMTP one THEN only the first is pollable."""
    active = mailbox_id("a")
    inactive = make_mailbox("b", host="h", username="u")
    inactive.is_active = False
    inactive.save()
    smtp = make_mailbox("c")
    smtp.kind = "smtp"
    smtp.save()
    assert leases.list_pollable_mailbox_ids() == [active]


class FakeRunner:
    def __init__(self, mailbox_id: int, lease_valid: Callable[[], bool]) -> None:
        self.mailbox_id = mailbox_id
        self.lease_valid = lease_valid
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def join(self, timeout: float) -> None:
        pass

    def is_alive(self) -> bool:
        return self.started and not self.stopped


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def build_poller(holder: str, clock: FakeClock, made: list[FakeRunner]) -> Poller:
    def factory(mid: int, check: Callable[[], bool]) -> FakeRunner:
        made.append(FakeRunner(mid, check))
        return made[-1]

    return Poller(heartbeat_seconds=5, holder=holder, clock=clock, runner_factory=factory)


def test_pollers_start_a_reader_per_held_mailbox_and_take_over_within_two_heartbeats() -> None:
    """GIVEN two pollers and two mailboxes WHEN the first ticks THEN it reads both; WHEN it dies after a renewal
    THEN the second wakes at the lease's expiry (1.5 heartbeats later, within two) and reads both."""
    first, second = mailbox_id("one"), mailbox_id("two")
    clock = FakeClock(T0)
    a_runners: list[FakeRunner] = []
    b_runners: list[FakeRunner] = []
    a = build_poller("a", clock, a_runners)
    b = build_poller("b", clock, b_runners)
    a.tick()
    assert {r.mailbox_id for r in a_runners} == {first, second}
    assert all(r.lease_valid() for r in a_runners)
    # "a" is SIGKILLed right after its renewal at T0: b ticks every heartbeat, but wakes early at a's expiry.
    elapsed = 0.0
    while not b_runners:
        wait = b.tick()
        if b_runners:
            break
        elapsed += wait
        clock.now = T0 + dt.timedelta(seconds=elapsed)
    assert {r.mailbox_id for r in b_runners} == {first, second}
    assert elapsed == pytest.approx(7.55)  # 1.5 heartbeats (+50 ms), not the 10 s of two full heartbeats


def test_a_poller_stops_the_reader_of_a_lease_it_lost() -> None:
    """GIVEN a poller reading a mailbox WHEN another poller holds its lease at the next heartbeat THEN its reader is
    stopped and no longer passes its lease check."""
    mid = mailbox_id()
    clock = FakeClock(T0)
    made: list[FakeRunner] = []
    a = build_poller("a", clock, made)
    a.tick()
    MailboxLease.objects.filter(mailbox_id=mid).update(holder="b", expires_at=T0 + dt.timedelta(minutes=1))
    clock.now = T0 + dt.timedelta(seconds=5)
    a.tick()
    assert made[0].stopped
    assert not made[0].lease_valid()


def test_a_stopped_poller_releases_its_leases() -> None:
    """GIVEN a poller holding a lease WHEN it shuts down THEN the lease is free and its readers are stopped."""
    mid = mailbox_id()
    clock = FakeClock(T0)
    made: list[FakeRunner] = []
    a = build_poller("a", clock, made)
    a.tick()
    a.shutdown()
    assert made[0].stopped
    assert MailboxLease.objects.get(mailbox_id=mid).holder == ""


def test_a_second_poller_gets_half_the_mailboxes_without_a_failure() -> None:
    """GIVEN one poller reading four mailboxes WHEN a second poller starts THEN within two heartbeats each reads two:
    the first gives back its highest ids (their readers stopped and fenced off), the second claims them."""
    ids = [mailbox_id(f"box{n}") for n in range(4)]
    clock = FakeClock(T0)
    a_runners: list[FakeRunner] = []
    b_runners: list[FakeRunner] = []
    a = build_poller("a", clock, a_runners)
    b = build_poller("b", clock, b_runners)
    a.tick()
    assert {r.mailbox_id for r in a_runners} == set(ids)
    b.tick()  # registered, but every lease is a's until a hands some over
    assert b_runners == []
    clock.now = T0 + dt.timedelta(seconds=5)
    a.tick()
    handed = {r.mailbox_id for r in a_runners if r.stopped}
    assert handed == set(ids[2:])
    assert all(not r.lease_valid() for r in a_runners if r.stopped)
    b.tick()
    assert {r.mailbox_id for r in b_runners} == set(ids[2:])
    holders = dict(MailboxLease.objects.values_list("mailbox_id", "holder"))
    assert holders == {ids[0]: "a", ids[1]: "a", ids[2]: "b", ids[3]: "b"}
    clock.now = T0 + dt.timedelta(seconds=10)
    a.tick()
    b.tick()  # a stable split: nobody hands anything over again
    assert sum(r.stopped for r in a_runners) == 2 and not any(r.stopped for r in b_runners)


def test_fair_share_covers_every_mailbox() -> None:
    assert [leases.fair_share(n, 3) for n in (0, 1, 3, 4, 7)] == [0, 1, 1, 2, 3]
    assert leases.fair_share(5, 0) == 5
    assert leases.pick_excess({5, 1, 9, 3}, 2) == {5, 9}
    assert leases.pick_excess({1, 2}, 2) == set()
