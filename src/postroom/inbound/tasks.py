"""Celery tasks of the inbound pipeline: thin, idempotent, ids only."""

from __future__ import annotations

from celery import shared_task

from postroom.inbound import services


@shared_task(name=services.PROCESS_TASK, acks_late=True, time_limit=300, soft_time_limit=240)
def process_inbound_task(inbound_id: int, tenant_id: int) -> str | None:
    return services.process_inbound(inbound_id)
