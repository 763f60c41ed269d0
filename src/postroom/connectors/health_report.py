"""The poller's part of a mailbox's health, as components of postroom.inbound.mailbox_health (which cannot look
up here: connectors sit above inbound): who reads it, the last cycle, failures in a row, lag and token expiry."""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.utils import timezone

from postroom.connectors.leases import POLLED_KINDS
from postroom.connectors.models import MailboxHealth, MailboxLease
from postroom.inbound.mailbox_health import HealthComponent, HealthState, MailboxHealthReport, get_mailbox_health
from postroom.mailboxes.models import Mailbox

LAG_WARNING_SECONDS: Final = 300.0


def get_full_health(mailbox: Mailbox, now: dt.datetime | None = None) -> MailboxHealthReport:
    """The mailbox's whole health: ledger, connection test, and for polled mailboxes the poller and token."""
    return get_mailbox_health(mailbox, now, extra=poller_components(mailbox, now))


def poller_components(mailbox: Mailbox, now: dt.datetime | None = None) -> tuple[HealthComponent, ...]:
    """The "poller" component (and "token" for OAuth mailboxes) of a polled mailbox; none for pushed or imported."""
    if mailbox.kind not in POLLED_KINDS:
        return ()
    now = now or timezone.now()
    health = MailboxHealth.objects.filter(mailbox_id=mailbox.pk).first()
    lease = MailboxLease.objects.filter(mailbox_id=mailbox.pk).first()
    components = [_poller_component(mailbox, health, lease, now)]
    if health is not None and health.token_expires_at is not None:
        components.append(_token_component(health.token_expires_at, now))
    return tuple(components)


def _reader(lease: MailboxLease | None, now: dt.datetime) -> str:
    if lease is None or not lease.holder:
        return "no poller holds it"
    if lease.expires_at <= now:
        return f"its poller {lease.holder} stopped renewing at {lease.expires_at:%H:%M:%S} UTC"
    return f"read by {lease.holder}"


def _poller_component(
    mailbox: Mailbox, health: MailboxHealth | None, lease: MailboxLease | None, now: dt.datetime
) -> HealthComponent:
    reader = _reader(lease, now)
    if health is None or health.last_attempt_at is None:
        state = HealthState.WARNING if mailbox.is_active and lease is not None and lease.holder else HealthState.UNKNOWN
        return HealthComponent("poller", state, f"not fetched yet; {reader}")
    if health.unhealthy_since is not None:
        detail = (
            f"failing since {health.unhealthy_since:%Y-%m-%d %H:%M} UTC, {health.consecutive_failures} failed cycles "
            f"in a row: {health.last_error}; {reader}"
        )
        return HealthComponent("poller", HealthState.FAILING, detail, health.last_error_at)
    parts = [f"last fetched {health.last_success_at:%Y-%m-%d %H:%M:%S} UTC" if health.last_success_at else "no success"]
    state = HealthState.OK
    if health.consecutive_failures:
        state = HealthState.WARNING
        parts.append(f"{health.consecutive_failures} failed cycles in a row: {health.last_error}")
    if health.last_lag_seconds is not None:
        parts.append(f"newest mail took {health.last_lag_seconds:.1f} s to reach the desk")
        if health.last_lag_seconds > LAG_WARNING_SECONDS:
            state = HealthState.WARNING
    if mailbox.is_active and (lease is None or not lease.holder or lease.expires_at <= now):
        state = HealthState.WARNING
    parts.append(reader)
    return HealthComponent("poller", state, "; ".join(parts), health.last_attempt_at)


def _token_component(expires_at: dt.datetime, now: dt.datetime) -> HealthComponent:
    """Access tokens live about an hour and are refreshed before they expire; one past its expiry means the last
    refresh did not happen (the poller component says why when the refresh failed)."""
    if expires_at <= now:
        detail = f"access token expired at {expires_at:%Y-%m-%d %H:%M} UTC and was not refreshed yet"
        return HealthComponent("token", HealthState.WARNING, detail, expires_at)
    return HealthComponent(
        "token", HealthState.OK, f"access token valid until {expires_at:%Y-%m-%d %H:%M} UTC", expires_at
    )
