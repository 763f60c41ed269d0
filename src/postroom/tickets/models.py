"""Queues, contacts, tickets, messages and attachments: the conversation an email becomes."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from postroom.core.models import TenantOwnedModel


class UnknownSenderPolicy(models.TextChoices):
    """What a follow-up from someone who is not on the ticket becomes (issue #3, item 4)."""

    NOTE = "note", "Add it as an internal note"
    NEW_TICKET = "new_ticket", "Open a new ticket"
    QUARANTINE = "quarantine", "Quarantine it (cause unknown_sender_update)"


class ClosedReplyPolicy(models.TextChoices):
    """What a customer reply to a resolved or closed ticket does."""

    REOPEN = "reopen", "Reopen the ticket"
    NEW_LINKED = "new_linked", "Open a new ticket linked to the old one"
    NEW_AFTER_DAYS = "new_after_days", "Reopen within N days, after that a new linked ticket"
    REJECT = "reject", "Reject with an automatic notice"


class Queue(TenantOwnedModel):
    name = models.CharField(max_length=200)
    slug = models.SlugField()
    is_default = models.BooleanField(default=False, help_text="Where mail lands when nothing else routes it.")
    from_address = models.EmailField(blank=True, help_text="The address replies are sent from.")
    from_name = models.CharField(max_length=200, blank=True)
    signature = models.TextField(blank=True, help_text="Added to replies; merge fields like {agent_name}.")
    reply_to_token = models.BooleanField(
        default=False, help_text="Send a plus-addressed Reply-To carrying the signed thread token."
    )
    unknown_sender_policy = models.CharField(
        max_length=16, choices=UnknownSenderPolicy.choices, default=UnknownSenderPolicy.NOTE
    )
    allow_organization_followups = models.BooleanField(
        default=True, help_text="People of the requester's organisation may add to a ticket."
    )
    closed_reply_policy = models.CharField(
        max_length=16, choices=ClosedReplyPolicy.choices, default=ClosedReplyPolicy.REOPEN
    )
    reopen_within_days = models.PositiveIntegerField(
        default=14, help_text="For 'new_after_days': replies later than this open a new linked ticket."
    )
    foreign_reference_patterns = models.JSONField(
        default=list, blank=True, help_text=r'Other systems\' numbers in subjects, e.g. ["\\[Ticket#(\\d+)\\]"].'
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="queue_unique_slug")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Organization(TenantOwnedModel):
    """A customer organisation; contacts whose address is in one of its domains belong to it."""

    name = models.CharField(max_length=200)
    domains = models.JSONField(default=list, blank=True, help_text='Lower-case mail domains, e.g. ["acme.example"].')

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwnedModel):
    """A person who writes to us; `email_key` is the address as compared (domain and local part lower case)."""

    email = models.CharField(max_length=320)
    email_key = models.CharField(max_length=320)
    name = models.CharField(max_length=300, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    # Hard bounces (issue #6): mail to this address is held until the mark expires or the address writes in again.
    undeliverable_until = models.DateTimeField(
        null=True, blank=True, help_text="A hard bounce marked the address undeliverable until then."
    )
    undeliverable_reason = models.CharField(
        max_length=500, blank=True, help_text="The bounce that marked it: reason, status code and reply text."
    )

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


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Ticket(TenantOwnedModel):
    number = models.PositiveBigIntegerField()
    reference = models.CharField(max_length=32, help_text="The number as carried in subjects, e.g. PR-000123.")
    queue = models.ForeignKey(Queue, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=998, blank=True)
    status = models.CharField(max_length=16, choices=TicketStatus.choices, default=TicketStatus.NEW)
    priority = models.CharField(max_length=8, choices=TicketPriority.choices, default=TicketPriority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
        help_text="Set when this ticket was merged into another: its messages moved there and it was closed.",
    )
    requester = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When it was last resolved or closed.")
    linked_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="follow_up_tickets",
        help_text="The resolved ticket a late reply came in on.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="ticket_unique_number"),
        ]
        indexes = [
            models.Index(fields=["tenant", "queue", "status", "-last_message_at"], name="ticket_list_idx"),
            models.Index(fields=["tenant", "assignee", "status", "-last_message_at"], name="ticket_assignee_idx"),
        ]
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
    safe_html = models.TextField(
        null=True,
        blank=True,
        help_text="The HTML sanitised at ingest (postroom.mail.sanitise): no remote content, no tracking pixels.",
    )
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
    new_text = models.TextField(blank=True, help_text="What the sender wrote now: quotes and signature removed.")
    quoted_text = models.TextField(blank=True)
    signature_text = models.TextField(blank=True)
    thread_index = models.CharField(
        max_length=64, blank=True, help_text="Outlook Thread-Index conversation root (first 22 bytes, base64)."
    )
    forwarded = models.JSONField(null=True, blank=True, help_text="The forwarded original: from, date, subject.")
    is_automatic = models.BooleanField(default=False, help_text="An automatic reply (RFC 3834, out of office).")
    possible_spoof = models.BooleanField(default=False, help_text="Sender authentication says it may be forged.")
    probable_spam = models.BooleanField(
        default=False, help_text="The spam scanner's score reached the mailbox's tag threshold (or it was released)."
    )
    spam_score = models.FloatField(null=True, blank=True, help_text="The spam scanner's score, when it scanned it.")
    auth_evidence = models.JSONField(default=list, blank=True, help_text="Sender authentication's evidence lines.")

    class Meta:
        constraints = [
            # Every message that came in by mail has a fingerprint, also one stored as an internal note (a stranger's
            # follow-up); messages written here have none.
            models.UniqueConstraint(
                fields=["tenant", "fingerprint"],
                condition=~models.Q(fingerprint=""),
                name="message_unique_mail_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "message_id"], name="message_msgid_idx"),
            models.Index(fields=["ticket", "sent_at", "id"], name="message_timeline_idx"),
            models.Index(
                fields=["tenant", "thread_index"], condition=~models.Q(thread_index=""), name="message_threadidx_idx"
            ),
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


class ParticipantRole(models.TextChoices):
    TO = "to", "To"
    CC = "cc", "Cc"


class Participant(TenantOwnedModel):
    """Someone besides the requester who is on the conversation: copied on replies, allowed to follow up."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="participants")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=4, choices=ParticipantRole.choices, default=ParticipantRole.CC)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["ticket", "contact"], name="participant_unique")]

    def __str__(self) -> str:
        return f"{self.contact} on {self.ticket_id}"


class ExternalReference(TenantOwnedModel):
    """Another system's ticket number carried in a ticket's subjects (e.g. `[Ticket#4711]` of a vendor's desk)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="external_references")
    reference = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "reference", "ticket"], name="external_reference_unique")
        ]

    def __str__(self) -> str:
        return self.reference
