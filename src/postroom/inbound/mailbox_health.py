"""A mailbox's health as far as Postroom knows it: what its ledger says (last mail received, recent failures) and
its last connection test.

The health is a list of components, each with a state and one line; the mailbox's state is the worst of them.
Polled mailboxes add "poller" and "token" components (postroom.connectors.health_report.get_full_health).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from django.utils import timezone

from postroom.inbound.models import InboundMessage, InboundStatus
from postroom.mailboxes.models import Mailbox

RECENT: Final = dt.timedelta(hours=24)


class HealthState(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # nothing to judge by yet (never tested, nothing received)
    WARNING = "warning"
    FAILING = "failing"


_SEVERITY: Final = {HealthState.OK: 0, HealthState.UNKNOWN: 1, HealthState.WARNING: 2, HealthState.FAILING: 3}


@dataclass(frozen=True, slots=True)
class HealthComponent:
    name: str  # "mailbox", "inbound", "connection test" (issue #5: "poller")
    state: HealthState
    detail: str
    at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class MailboxHealthReport:
    mailbox_id: int
    state: HealthState
    components: tuple[HealthComponent, ...]
    last_received_at: dt.datetime | None
    last_tracking_id: str
    received_recently: int  # in the last 24 hours
    failed_recently: int  # of those, failed or quarantined


def get_mailbox_health(
    mailbox: Mailbox, now: dt.datetime | None = None, extra: Sequence[HealthComponent] = ()
) -> MailboxHealthReport:
    """The mailbox's health; `extra` adds components known higher up (the poller's, postroom.connectors)."""
    now = now or timezone.now()
    rows = InboundMessage.objects.filter(tenant_id=mailbox.tenant_id, mailbox_id=mailbox.pk)
    last = rows.order_by("-id").only("received_at", "tracking_id", "status").first()
    recent = rows.filter(received_at__gte=now - RECENT)
    received = recent.count()
    failed = recent.filter(status__in=[InboundStatus.FAILED, InboundStatus.QUARANTINED]).count() if received else 0
    components = (
        _mailbox_component(mailbox),
        _inbound_component(last, received, failed),
        _test_component(mailbox),
        *extra,
    )
    state = max(
        (c.state for c in components if c.state is not HealthState.UNKNOWN), key=_SEVERITY.__getitem__, default=None
    )
    return MailboxHealthReport(
        mailbox_id=mailbox.pk,
        state=state or HealthState.UNKNOWN,
        components=components,
        last_received_at=last.received_at if last else None,
        last_tracking_id=last.tracking_id if last else "",
        received_recently=received,
        failed_recently=failed,
    )


def _mailbox_component(mailbox: Mailbox) -> HealthComponent:
    if mailbox.is_active:
        return HealthComponent("mailbox", HealthState.OK, "active")
    return HealthComponent("mailbox", HealthState.WARNING, "deactivated: its mail is not collected")


def _inbound_component(last: InboundMessage | None, received: int, failed: int) -> HealthComponent:
    if last is None:
        return HealthComponent("inbound", HealthState.UNKNOWN, "no mail received from this mailbox yet")
    detail = f"last message received {last.received_at:%Y-%m-%d %H:%M} UTC ({last.tracking_id}, {last.status})"
    detail += f"; {received} in the last 24 hours"
    if failed:
        return HealthComponent(
            "inbound", HealthState.WARNING, f"{detail}, {failed} failed or quarantined", last.received_at
        )
    return HealthComponent("inbound", HealthState.OK, detail, last.received_at)


def _test_component(mailbox: Mailbox) -> HealthComponent:
    if mailbox.last_test_at is None:
        return HealthComponent("connection test", HealthState.UNKNOWN, "not tested since the settings last changed")
    if mailbox.last_test_ok:
        return HealthComponent("connection test", HealthState.OK, "every server passed", mailbox.last_test_at)
    return HealthComponent(
        "connection test", HealthState.FAILING, _first_failure(mailbox.last_test_report), mailbox.last_test_at
    )


def _first_failure(report: object) -> str:
    """The first failed server's summary from a stored test report (postroom.mailboxes.probe)."""
    if not isinstance(report, Mapping):
        return "failed"
    if report.get("settings_error"):
        return str(report["settings_error"])
    for item in report.get("reports") or []:
        if isinstance(item, Mapping) and not item.get("ok"):
            return f"{item.get('purpose', '')} {str(item.get('protocol', '')).upper()}: {item.get('summary', '')}"
    return "failed"
