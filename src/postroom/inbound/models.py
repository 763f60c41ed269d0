"""The inbound ledger (one row per received raw message) and the routes from addresses to queues."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower

from postroom.core.models import TenantOwnedModel


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    QUARANTINED = "quarantined", "Quarantined"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted"  # an admin (or the retention purge) deleted it from quarantine; raw bytes gone


class QuarantineCause(models.TextChoices):
    """Machine-readable causes (docs/architecture/quarantine.md lists them with what raises each)."""

    SPAM = "spam", "Scored as spam"
    AUTH_FAILED = "auth_failed", "Sender authentication failed (possible spoof)"
    BLOCKLISTED = "blocklisted", "The sender or its domain is on the block list"
    LOOP = "loop", "A mail loop (our own mail coming back, or a loop header)"
    AUTO_REPLY = "auto_reply", "An automatic reply that the mailbox holds"
    BOUNCE_UNMATCHED = "bounce_unmatched", "A delivery or read report for mail we did not send"
    OVERSIZED = "oversized", "Over a size limit"
    BLOCKED_TYPE = "blocked_type", "An attachment of a blocked type"
    MALFORMED = "malformed", "Cannot be parsed or has no usable sender"
    RATE_LIMITED = "rate_limited", "The sender wrote more often than the rate window allows"
    UNKNOWN_SENDER_UPDATE = "unknown_sender_update", "A follow-up from someone who is not on the ticket"
    TOO_MANY_ATTEMPTS = "too_many_attempts", "Processing failed repeatedly"


class InboundMessage(TenantOwnedModel):
    """The ledger: written with the raw bytes before anything else happens, unique on the source key."""

    mailbox = models.ForeignKey("mailboxes.Mailbox", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    source_kind = models.CharField(max_length=16)
    source_key = models.CharField(max_length=700, help_text="e.g. imap:<mailbox>:<folder>:<uidvalidity>:<uid>")
    raw_sha256 = models.CharField(max_length=64, db_index=True)
    raw_size = models.PositiveBigIntegerField()
    envelope_from = models.CharField(max_length=998, blank=True)
    envelope_to = models.JSONField(default=list, blank=True)
    client_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="The SMTP client's address (the listener's peer), for SPF; none otherwise."
    )
    helo = models.CharField(
        max_length=255, blank=True, help_text="The SMTP client's HELO/EHLO name: SPF checks it for bounces (RFC 7208)."
    )
    received_at = models.DateTimeField()
    tracking_id = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    cause = models.CharField(max_length=40, blank=True, help_text="Why it was quarantined or failed.")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    trace = models.JSONField(default=list, blank=True, help_text="[{stage, verdict, reason, data}, ...]")
    message = models.OneToOneField(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound"
    )
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Quarantine review (postroom.inbound.quarantine): what the list shows and filters on, and the admin's decisions.
    sender = models.CharField(
        max_length=320, blank=True, help_text="The requester's address: the quarantine review and the rate window."
    )
    subject = models.CharField(max_length=998, blank=True, help_text="Subject of quarantined mail, for the review.")
    released_causes = models.JSONField(
        default=list, blank=True, help_text="Causes an admin waived by releasing it; their stages let it through."
    )
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source_key"], name="inbound_unique_source_key"),
        ]
        indexes = [
            models.Index(fields=["status", "claimed_at"], name="inbound_sweep_idx"),
            # The quarantine list: newest first with keyset pagination on (received_at, id) within a status.
            models.Index(fields=["tenant", "status", "received_at", "id"], name="inbound_status_recv_idx"),
            # The automation screen's rate window: one sender's mail (any case) within the last minutes.
            models.Index(F("tenant"), Lower("sender"), F("received_at"), name="inbound_sender_recv_idx"),
        ]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tracking_id} {self.status}"


class ListKind(models.TextChoices):
    ALLOW = "allow", "Allow"
    BLOCK = "block", "Block"


class SenderListEntry(TenantOwnedModel):
    """An allow- or block-list entry: one address (`alice@example.com`) or a whole domain (`@example.com`).

    Allowed senders skip the spam score; they still face sender authentication unless `skip_auth` is set.
    Blocked senders are quarantined (cause `blocklisted`). An entry may apply to one mailbox or to all.
    """

    pattern = models.CharField(max_length=320, help_text="alice@example.com, or @example.com for a whole domain")
    kind = models.CharField(max_length=8, choices=ListKind.choices)
    mailbox = models.ForeignKey(
        "mailboxes.Mailbox",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only for mail from this mailbox; empty for every mailbox.",
    )
    skip_auth = models.BooleanField(
        default=False, help_text="Allow entries only: let the sender through even when authentication fails."
    )
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "pattern", "mailbox"], name="sender_list_unique_pattern")
        ]

    def save(self, *args: object, **kwargs: object) -> None:
        self.pattern = self.pattern.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind} {self.pattern}"


class Route(TenantOwnedModel):
    """An address (or `@domain`) whose mail goes to a queue; plus-tags are ignored when matching."""

    address = models.CharField(max_length=320, help_text="support@example.com, or @example.com for a whole domain")
    queue = models.ForeignKey("tickets.Queue", on_delete=models.CASCADE, related_name="routes")
    mailbox = models.ForeignKey(
        "mailboxes.Mailbox",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="routes",
        help_text="Only for mail from this mailbox; empty for every mailbox.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "address", "mailbox"], name="route_unique_address")]

    def save(self, *args: object, **kwargs: object) -> None:
        self.address = self.address.strip().lower()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.address} -> {self.queue}"
