"""Record a delivery or read report on the outbound message it answers (its communication log)."""

from __future__ import annotations

from django.utils import timezone

from postroom.mail.reports import Report, ReportKind
from postroom.outbound.models import Delivery, DeliveryEvent, DeliveryStatus, EventKind
from postroom.tickets.models import Message


def record_receipt(message: Message, report: Report, inbound: object | None) -> DeliveryEvent | None:
    """Add the report to the message's log; a failure report after a hand-off marks the delivery failed."""
    delivery = Delivery.objects.filter(message=message).first()
    if delivery is None:
        return None
    if report.kind == ReportKind.DSN and report.outcome == "failed" and delivery.status == DeliveryStatus.SENT:
        delivery.status = DeliveryStatus.FAILED
        delivery.last_reply = report.summary[:2000]
        delivery.save(update_fields=["status", "last_reply"])
    return DeliveryEvent.objects.create(
        tenant_id=message.tenant_id,
        delivery=delivery,
        kind=EventKind.DSN if report.kind == ReportKind.DSN else EventKind.MDN,
        outcome=report.outcome[:16],
        detail=report.summary[:2000],
        inbound_id=getattr(inbound, "pk", None),
        at=timezone.now(),
    )
