"""Hand queued deliveries to SMTP: claim one under a lease, send it over a pooled connection, record the result.

At-least-once: a worker that dies after the server accepted but before the result was recorded leaves the row
`sending`; when the lease runs out it is sent again with the same bytes and Message-ID, which receivers and our own
inbound fingerprint treat as the same message.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Final

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from postroom.core.blobs import BlobNotFoundError, get_blob_store
from postroom.core.dispatch import send_task
from postroom.mail.tokens import BOUNCE_PURPOSE, ThreadToken, build_bounce_address, build_token
from postroom.mail.transport.smtp import SendResult, SendStatus, next_retry_delay
from postroom.outbound.graph_send import find_graph_sending_mailbox, send_with_graph
from postroom.outbound.models import Delivery, DeliveryEvent, DeliveryStatus, EventKind
from postroom.outbound.relay import RelayNotConfiguredError, find_relay_settings, get_pool
from postroom.outbound.sent_copy import copy_to_sent
from postroom.outbound.services import SEND_TASK
from postroom.tenants.keys import get_key_ring

log = logging.getLogger(__name__)

LEASE_SECONDS: Final = 300  # longer than the SMTP timeouts of one attempt, so a live sender is never overtaken
MAX_ATTEMPTS: Final = 12  # with capped exponential backoff this spans about a day, like an MTA's queue lifetime
DUE_STATUSES: Final = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED, DeliveryStatus.SENDING)


def _claim(delivery_id: int, now: dt.datetime) -> Delivery | None:
    with transaction.atomic():
        row = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status__in=DUE_STATUSES, next_attempt_at__lte=now)
            .first()
        )
        if row is None:
            return None
        row.status = DeliveryStatus.SENDING
        row.attempts += 1
        row.next_attempt_at = now + dt.timedelta(seconds=LEASE_SECONDS)
        row.save(update_fields=["status", "attempts", "next_attempt_at"])
        return row


def _attempt(row: Delivery) -> SendResult:
    try:
        raw = get_blob_store().get(row.raw_sha256)
    except BlobNotFoundError:
        return SendResult(SendStatus.FAILED, None, "the message's stored bytes are missing", {})
    graph_mailbox = find_graph_sending_mailbox(row.tenant, row.envelope_from)
    if graph_mailbox is not None:  # `"send_via": "graph"` (docs/architecture/connector-graph.md)
        return send_with_graph(graph_mailbox, list(row.recipients), raw)
    try:
        smtp = find_relay_settings(row.tenant, row.envelope_from)
    except RelayNotConfiguredError as e:
        return SendResult(SendStatus.DEFERRED, None, str(e), {})
    return get_pool(smtp).send(build_envelope_sender(row), list(row.recipients), raw)


def build_envelope_sender(row: Delivery) -> str:
    """The VERP return path for this delivery (`support+rb-<token>@...`, docs/architecture/bounces.md): a bounce
    comes back to it and names the message it answers; the plain sender when the tagged local part is too long."""
    if not settings.POSTROOM.verp:  # a relay that refuses tagged envelope senders: bounces link by Message-ID only
        return row.envelope_from
    ring = get_key_ring(row.tenant)
    message = ThreadToken(row.message.ticket_id, row.message_id, ring.signing_key_id)
    try:
        return build_bounce_address(row.envelope_from, build_token(message, ring.signing_key, BOUNCE_PURPOSE))
    except ValueError:
        return row.envelope_from


def _record(row: Delivery, result: SendResult, now: dt.datetime) -> None:
    status = DeliveryStatus(result.status.value)
    if status == DeliveryStatus.DEFERRED and row.attempts >= MAX_ATTEMPTS:
        status = DeliveryStatus.FAILED
    with transaction.atomic():
        row.status = status
        row.last_code = result.code
        row.last_reply = result.reply[:2000]
        row.refused = {rcpt: [code, text] for rcpt, (code, text) in result.refused.items()}
        if status == DeliveryStatus.SENT:
            row.sent_at = now
        if status == DeliveryStatus.DEFERRED:
            row.next_attempt_at = now + dt.timedelta(seconds=next_retry_delay(row.attempts))
        row.save(update_fields=["status", "last_code", "last_reply", "refused", "sent_at", "next_attempt_at"])
        DeliveryEvent.objects.create(
            tenant_id=row.tenant_id,
            delivery=row,
            kind=EventKind.ATTEMPT,
            outcome=status,
            detail=result.reply[:2000],
            at=now,
        )


def send_delivery(delivery_id: int) -> str | None:
    """Try one delivery now if it is due; return its new status (None when another worker has it or not due)."""
    row = _claim(delivery_id, timezone.now())
    if row is None:
        return None
    try:
        result = _attempt(row)
    except Exception as e:  # our bug, not the server's answer: keep the row retrying and the error visible
        log.exception("sending delivery %s failed", delivery_id)
        result = SendResult(SendStatus.DEFERRED, None, f"internal error: {type(e).__name__}", {})
    _record(row, result, timezone.now())
    log.info("delivery %s: %s %s", delivery_id, row.status, result.code or "")
    if row.status == DeliveryStatus.SENT:
        _copy_to_sent_folder(row)
    return str(row.status)


def _copy_to_sent_folder(row: Delivery) -> None:
    """The optional IMAP copy, after the send is recorded (network I/O outside any transaction)."""
    outcome = copy_to_sent(row)
    if outcome is None:
        return
    DeliveryEvent.objects.create(
        tenant_id=row.tenant_id,
        delivery=row,
        kind=EventKind.SENT_COPY,
        outcome="copied" if outcome.startswith("copied") else "copy_failed",
        detail=outcome[:2000],
        at=timezone.now(),
    )


def find_due_deliveries(limit: int = 100, now: dt.datetime | None = None) -> list[int]:
    moment = now or timezone.now()
    return list(
        Delivery.objects.filter(status__in=DUE_STATUSES, next_attempt_at__lte=moment)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def send_due_deliveries(limit: int = 100) -> int:
    """The sweeper's part: send everything due (new rows whose task was lost, retries, expired leases)."""
    sent = 0
    for delivery_id in find_due_deliveries(limit):
        sent += send_delivery(delivery_id) is not None
    return sent


def requeue_due_deliveries(limit: int = 500) -> int:
    """Distributed mode's scheduler: hand due deliveries to the Celery workers (a claim makes repeats harmless)."""
    due = find_due_deliveries(limit)
    for delivery_id in due:
        send_task(SEND_TASK, delivery_id=delivery_id)
    return len(due)
