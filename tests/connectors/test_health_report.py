"""The poller's health components of a mailbox (lease, last cycle, failures, lag, token), as the API shows them."""

from __future__ import annotations

import datetime as dt

import pytest
from connectorkit import make_mailbox

from postroom.connectors.health_report import get_full_health, poller_components
from postroom.connectors.models import MailboxHealth, MailboxLease
from postroom.inbound.mailbox_health import HealthState

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)


def by_name(components: tuple[object, ...]) -> dict[str, object]:
    return {c.name: c for c in components}  # type: ignore[attr-defined]


def test_a_polled_mailbox_read_by_a_live_poller_is_ok_with_its_lag_and_token() -> None:
    mailbox = make_mailbox("ok", host="imap.example.org", username="u")
    MailboxLease.objects.create(mailbox=mailbox, holder="host:1:ab", expires_at=NOW + dt.timedelta(seconds=5))
    MailboxHealth.objects.create(
        mailbox=mailbox, last_attempt_at=NOW, last_success_at=NOW, last_lag_seconds=0.8,
        token_expires_at=NOW + dt.timedelta(minutes=50),
    )  # fmt: skip
    parts = by_name(poller_components(mailbox, NOW))
    poller, token = parts["poller"], parts["token"]
    assert poller.state is HealthState.OK  # type: ignore[attr-defined]
    assert "read by host:1:ab" in poller.detail and "0.8 s to reach the desk" in poller.detail  # type: ignore[attr-defined]
    assert token.state is HealthState.OK and "valid until 2026-11-27 12:50" in token.detail  # type: ignore[attr-defined]


def test_an_unhealthy_mailbox_fails_the_whole_health_with_the_error() -> None:
    """GIVEN a mailbox over the failure threshold whose poller died THEN the poller component fails, naming the error,
    the failures in a row and the stale lease, and the mailbox's overall state is failing."""
    mailbox = make_mailbox("broken", host="imap.example.org", username="u")
    MailboxLease.objects.create(mailbox=mailbox, holder="host:2:cd", expires_at=NOW - dt.timedelta(seconds=30))
    MailboxHealth.objects.create(
        mailbox=mailbox, last_attempt_at=NOW, last_error="connection refused", last_error_at=NOW,
        consecutive_failures=4, unhealthy_since=NOW - dt.timedelta(minutes=3),
        token_expires_at=NOW - dt.timedelta(minutes=1),
    )  # fmt: skip
    report = get_full_health(mailbox, NOW)
    parts = by_name(report.components)
    assert report.state is HealthState.FAILING
    detail = parts["poller"].detail  # type: ignore[attr-defined]
    assert "4 failed cycles in a row: connection refused" in detail and "stopped renewing" in detail
    assert parts["token"].state is HealthState.WARNING  # type: ignore[attr-defined]


def test_pushed_mailboxes_have_no_poller_component_and_unfetched_ones_say_so() -> None:
    smtp = make_mailbox("pushed")
    smtp.kind = "smtp"
    smtp.save()
    assert poller_components(smtp, NOW) == ()
    fresh = make_mailbox("fresh", host="imap.example.org", username="u")
    (poller,) = poller_components(fresh, NOW)
    assert poller.state is HealthState.UNKNOWN and poller.detail == "not fetched yet; no poller holds it"
