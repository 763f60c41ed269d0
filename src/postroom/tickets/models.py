"""Queues, contacts, tickets, messages and attachments: the conversation an email becomes."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from postroom.core.models import TenantOwnedModel


class Queue(TenantOwnedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField()
    is_default = models.BooleanField(default=False, help_text="Where mail lands when nothing else routes it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="queue_unique_slug")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwnedModel):
    """A person who writes to us; `email_key` is the address as compared (domain and local part lower case)."""

    email = models.CharField(max_length=320)
    email_key = models.CharField(max_length=320)
    name = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "email_key"], name="contact_unique_email")]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>" if self.name else self.email


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


class TicketSequence(TenantOwnedModel):
    """The next human-friendly ticket number per tenant, incremented under the row lock of an UPDATE."""

    next_number = models.PositiveBigIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="ticket_sequence_one_per_tenant")]


class Ticket(TenantOwnedModel):
    number = models.PositiveBigIntegerField()
    reference = models.CharField(max_length=32, help_text="The number as carried in subjects, e.g. PR-000123.")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=998, blank=True)
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.NEW)
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="ticket_unique_number"),
        ]
        indexes = [models.Index(fields=["tenant", "queue", "status", "-last_message_at"], name="ticket_list_idx")]
        ordering = ["-last_message_at"]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"
    NOTE = "note", "Internal note"


class Message(TenantOwnedModel):
    """One entry of a ticket's timeline. Inbound ones link to their ledger row and raw bytes."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    author = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    subject = models.CharField(max_length=998, blank=True)
    text = models.TextField(blank=True)
    html = models.TextField(null=True, blank=True)
    headers = models.JSONField(default=list, blank=True, help_text="[[name, value], ...] as received.")
    message_id = models.CharField(max_length=998, blank=True)
    in_reply_to = models.JSONField(default=list, blank=True)
    references = models.JSONField(default=list, blank=True)
    sent_at = models.DateTimeField()
    tracking_id = models.CharField(max_length=40, blank=True)
    raw_sha256 = models.CharField(max_length=64, blank=True)
    fingerprint = models.CharField(
        max_length=64,
        blank=True,
        help_text="Identity of an inbound message across redeliveries (see mail.fingerprint).",
    )
    defects = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "fingerprint"],
                condition=models.Q(direction="in"),
                name="message_unique_inbound_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "message_id"], name="message_msgid_idx"),
            models.Index(fields=["ticket", "sent_at", "id"], name="message_timeline_idx"),
        ]
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.direction} {self.message_id}"


class Attachment(TenantOwnedModel):
    """An attachment's metadata; its bytes live in the content-addressed blob store under `sha256`."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=500)
    content_type = models.CharField(max_length=255)
    sniffed_type = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField()
    md5 = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64, db_index=True)
    inline = models.BooleanField(default=False)
    content_id = models.CharField(max_length=998, blank=True)

    def __str__(self) -> str:
        return self.filename
