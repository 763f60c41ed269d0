"""The outbox: one delivery per outbound message, sent by a worker, and the communication log agents see."""

from __future__ import annotations

from django.db import models

from postroom.core.models import TenantOwnedModel


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred (will retry)"
    FAILED = "failed", "Failed"


class Delivery(TenantOwnedModel):
    """An outbound message waiting for, or done with, its SMTP hand-off (the transactional outbox row).

    Written in the same transaction as the ticket change that caused it, so a reply is never lost and never
    sent for a change that rolled back. The raw bytes are built once and kept in the blob store: a retry sends
    exactly the same message (same Message-ID), so a receiver that already got it can discard the copy.
    """

    message = models.OneToOneField("tickets.Message", on_delete=models.CASCADE, related_name="delivery")
    envelope_from = models.CharField(max_length=320)
    recipients = models.JSONField(default=list)
    raw_sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="When a worker may (re)try; a lease while `sending`.")
    last_code = models.IntegerField(null=True, blank=True)
    last_reply = models.TextField(blank=True, help_text="The server's reply to the last attempt, for agents.")
    refused = models.JSONField(default=dict, blank=True, help_text="Recipients the server refused: code, reply.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"


class EventKind(models.TextChoices):
    ATTEMPT = "attempt", "Send attempt"
    DSN = "dsn", "Delivery status notification"
    MDN = "mdn", "Read receipt"
    SENT_COPY = "sent_copy", "Copy to the Sent folder"


class DeliveryEvent(TenantOwnedModel):
    """One line of a message's communication log: a send attempt's result or a receipt that answered it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    outcome = models.CharField(max_length=16, help_text="sent, deferred, failed, delivered, displayed, ...")
    detail = models.TextField(blank=True)
    inbound = models.ForeignKey(
        "inbound.InboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome}"
