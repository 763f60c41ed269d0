"""Reads on the outbox, and the one operator write it needs (retry now)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from postroom.outbound.models import Delivery, DeliveryStatus

LIST_LIMIT = 200


def list_deliveries(status: str | None = None) -> QuerySet[Delivery]:
    rows = Delivery.objects.order_by("-created_at", "-id")
    if status:
        rows = rows.filter(status=status)
    return rows[:LIST_LIMIT]


def retry_delivery(delivery_id: int) -> bool:
    """Make a failed or deferred delivery due now (an operator fixed the relay); False when there is none."""
    return bool(
        Delivery.objects.filter(pk=delivery_id, status__in=[DeliveryStatus.FAILED, DeliveryStatus.DEFERRED]).update(
            status=DeliveryStatus.DEFERRED, next_attempt_at=timezone.now(), attempts=0
        )
    )
