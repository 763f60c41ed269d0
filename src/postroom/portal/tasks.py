"""Celery tasks of the portal: thin, ids only."""

from __future__ import annotations

from celery import shared_task

from postroom.portal import outbox


@shared_task(name=outbox.SEND_TASK, acks_late=True, time_limit=300, soft_time_limit=240)
def send_sign_in_link_task(request_id: int) -> str | None:
    """Send one request's links, then any others due (retries that no scheduler has handed out yet)."""
    outcome = outbox.process_sign_in_request(request_id)
    outbox.send_due_sign_in_requests(outbox.SWEEP_BATCH)
    return outcome
