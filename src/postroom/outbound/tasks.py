"""Celery tasks of the outbox: thin, idempotent, ids only."""

from __future__ import annotations

from celery import shared_task

from postroom.outbound import sender, services


@shared_task(name=services.SEND_TASK, acks_late=True, time_limit=300, soft_time_limit=240)
def send_delivery_task(delivery_id: int, tenant_id: int | None = None) -> str | None:
    return sender.send_delivery(delivery_id)
