"""Records each fetch cycle's outcome per mailbox and decides when it turns unhealthy or recovers.

A success resets the failure count; the `threshold`-th failure in a row makes the mailbox unhealthy, and that
transition (once per outage) is what alerts admins; the first success after it is the recovery. The caller sends
the alert or notice (alerts.py) in the same transaction, so a crash never leaves one sent twice or not at all.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging

from django.db import transaction

from postroom.connectors.models import MailboxHealth
from postroom.core.metrics import increment

log = logging.getLogger(__name__)

UNHEALTHY_METRIC = "postroom_mailbox_unhealthy_total"  # +1 each time a mailbox turns unhealthy (label: mailbox id)


class Transition(enum.Enum):
    NONE = "none"
    UNHEALTHY = "unhealthy"  # the threshold was reached now: alert once
    RECOVERED = "recovered"  # the first success after an alert


def _locked(mailbox_id: int) -> MailboxHealth:
    MailboxHealth.objects.get_or_create(mailbox_id=mailbox_id)
    return MailboxHealth.objects.select_for_update().get(mailbox_id=mailbox_id)


def record_success(mailbox_id: int, now: dt.datetime, lag_seconds: float | None) -> Transition:
    """A cycle fetched everything there was (perhaps nothing); call inside a transaction."""
    row = _locked(mailbox_id)
    transition = Transition.RECOVERED if row.alerted_at is not None else Transition.NONE
    row.last_attempt_at = now
    row.last_success_at = now
    row.consecutive_failures = 0
    if lag_seconds is not None:
        row.last_lag_seconds = max(0.0, lag_seconds)
    row.unhealthy_since = None
    row.alerted_at = None
    row.save()
    return transition


def record_failure(mailbox_id: int, now: dt.datetime, error: str, threshold: int) -> Transition:
    """A cycle failed with `error` (one plain line); call inside a transaction."""
    row = _locked(mailbox_id)
    row.last_attempt_at = now
    row.last_error = " ".join(error.split())[:1000]
    row.last_error_at = now
    row.consecutive_failures += 1
    transition = Transition.NONE
    if row.consecutive_failures >= threshold and row.unhealthy_since is None:
        row.unhealthy_since = now
    if row.unhealthy_since is not None and row.alerted_at is None:
        row.alerted_at = now
        transition = Transition.UNHEALTHY
    row.save()
    return transition


def record_token_expiry(mailbox_id: int, expires_at: dt.datetime | None) -> None:
    """When the OAuth access token in use expires (connectors/oauth/store.py), for the console and the API."""
    if not MailboxHealth.objects.filter(mailbox_id=mailbox_id).update(token_expires_at=expires_at):
        MailboxHealth.objects.get_or_create(mailbox_id=mailbox_id, defaults={"token_expires_at": expires_at})


def get_health(mailbox_id: int) -> MailboxHealth | None:
    return MailboxHealth.objects.filter(mailbox_id=mailbox_id).first()


def record_cycle(
    mailbox_id: int,
    now: dt.datetime,
    *,
    error: str | None,
    lag_seconds: float | None = None,
    threshold: int,
) -> Transition:
    """Record one cycle and send the alert or recovery notice it calls for, all in one transaction."""
    from postroom.connectors.alerts import send_recovery_notice, send_unhealthy_alert

    with transaction.atomic():
        if error is None:
            transition = record_success(mailbox_id, now, lag_seconds)
        else:
            transition = record_failure(mailbox_id, now, error, threshold)
        if transition is Transition.UNHEALTHY:
            log.error("mailbox %s is unhealthy after %s failed cycles: %s", mailbox_id, threshold, error)
            send_unhealthy_alert(mailbox_id, now)
            increment(UNHEALTHY_METRIC, {"mailbox": mailbox_id})
        elif transition is Transition.RECOVERED:
            log.warning("mailbox %s recovered: mail is fetched again", mailbox_id)
            send_recovery_notice(mailbox_id, now)
    return transition
