"""Record a delivery, read or feedback report on the outbound message it answers (its communication log), and
mark the addresses a hard bounce proved dead as undeliverable for a while (docs/architecture/bounces.md)."""

from __future__ import annotations

import datetime as dt
from typing import Final

from django.conf import settings
from django.utils import timezone

from postroom.mail.reports import RecipientStatus, Report, ReportKind
from postroom.outbound.models import Delivery, DeliveryEvent, DeliveryStatus, EventKind
from postroom.tickets.models import Contact, Message
from postroom.tickets.services import build_email_key

MAX_DETAIL_CHARS: Final = 2000  # DeliveryEvent.detail and Delivery.last_reply as shown to agents
MAX_REASON_CHARS: Final = 500  # Contact.undeliverable_reason's column


def describe_recipient(status: RecipientStatus) -> str:
    """One recipient of a bounce for agents: "bob@x: hard bounce (userunknown), 5.1.1, reply 550: <server text>"."""
    weight = "hard bounce" if status.hard else "soft bounce"
    codes = ", ".join(
        piece for piece in (status.status, f"reply {status.reply_code}" if status.reply_code else "") if piece
    )
    head = f"{status.recipient or 'unknown recipient'}: {weight} ({status.reason})" + (f", {codes}" if codes else "")
    return head + (f": {status.diagnostic}" if status.diagnostic else "")


def describe_report(report: Report) -> str:
    """The communication-log line: the outcome, then each failed or delayed recipient with reason and hard/soft."""
    if report.kind is ReportKind.FEEDBACK:
        return f"feedback report: {report.summary}"
    if report.kind is not ReportKind.DSN or report.outcome not in ("failed", "delayed"):
        return report.summary
    lines = [describe_recipient(r) for r in report.recipients if r.action in ("failed", "delayed")]
    return f"{report.outcome}: " + "; ".join(lines or [report.summary])


def record_receipt(message: Message, report: Report, inbound: object | None) -> DeliveryEvent | None:
    """Add the report to the message's log; a failure report after a hand-off marks the delivery failed, and its
    hard-bounced recipients (only addresses this delivery went to) undeliverable."""
    delivery = Delivery.objects.filter(message=message).first()
    if delivery is None:
        return None
    detail = describe_report(report)[:MAX_DETAIL_CHARS]
    if report.kind == ReportKind.DSN and report.outcome == "failed" and delivery.status == DeliveryStatus.SENT:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_reply = detail
        delivery.save(update_fields=["status", "last_reply"])
    if report.kind == ReportKind.DSN:
        mark_undeliverable(delivery, report)
    return DeliveryEvent.objects.create(
        tenant_id=message.tenant_id,
        delivery=delivery,
        kind=EventKind.MDN if report.kind == ReportKind.MDN else EventKind.DSN,  # a complaint is logged with DSNs
        outcome=report.outcome[:16],
        detail=detail,
        inbound_id=getattr(inbound, "pk", None),
        at=timezone.now(),
    )


def mark_undeliverable(delivery: Delivery, report: Report, now: dt.datetime | None = None) -> list[str]:
    """Mark the contacts of hard-bounced recipients undeliverable for POSTROOM_BOUNCE_HOLD_DAYS; the keys marked.

    Only addresses the delivery was sent to count: a report cannot mark a stranger's address, whatever it says.
    """
    sent_to = {build_email_key(address) for address in delivery.recipients}
    until = (now or timezone.now()) + dt.timedelta(days=settings.POSTROOM.bounce_hold_days)
    marked: list[str] = []
    for status in report.recipients:
        key = build_email_key(status.recipient) if status.recipient else ""
        if not (status.hard and status.action == "failed" and key in sent_to) or key in marked:
            continue
        reason = f"{status.reason} {status.status} {status.reply_code} {status.diagnostic}"
        Contact.objects.filter(tenant_id=delivery.tenant_id, email_key=key).update(
            undeliverable_until=until, undeliverable_reason=" ".join(reason.split())[:MAX_REASON_CHARS]
        )
        marked.append(key)
    return marked
