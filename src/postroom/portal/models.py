"""The portal's rows: queued sign-in requests (its outbox), one-time sign-in links, and the marker on portal replies.

Only the SHA-256 of a link's token is stored; the token itself exists in the worker's memory while the mail is
built and handed to SMTP, and in the requester's mailbox (docs/architecture/portal.md).
"""

from __future__ import annotations

from django.db import models

from postroom.core.models import TenantOwnedModel
from postroom.tickets.models import Contact, Message


class SignInRequestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    DEFERRED = "deferred", "Deferred (will retry)"


class SignInRequest(models.Model):
    """Someone asked for a sign-in link for `email_key`: the outbox row a worker turns into mail.

    Written for every well-formed request, known address or not, so that the web request does the same work
    either way (no timing difference tells whether an address is known). Not tenant-owned: the address may belong
    to contacts of several tenants, or to none. The row is deleted once it is done (sent, nobody to send to, or
    expired), so unknown addresses are not kept.
    """

    email_key = models.CharField(max_length=320)
    link_origin = models.CharField(max_length=500, help_text="Scheme, host and path prefix the link starts with.")
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=SignInRequestStatus.choices, default=SignInRequestStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(help_text="When a worker may (re)try; a lease while `sending`.")
    done_contact_ids = models.JSONField(default=list, blank=True, help_text="Contacts whose mail went out already.")
    last_reply = models.TextField(blank=True, help_text="The SMTP server's answer to the last deferred attempt.")

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="portal_signin_due_idx")]

    def __str__(self) -> str:
        return f"sign-in request {self.pk} ({self.status})"


class SignInLink(TenantOwnedModel):
    """A one-time sign-in link of one contact: valid until `expires_at`, spent when `used_at` is set."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the token, hex.")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True, help_text="Used, or revoked by a later sign-in.")

    def __str__(self) -> str:
        return f"sign-in link {self.pk} of contact {self.contact_id}"


class PortalReply(TenantOwnedModel):
    """Marks an inbound message as written in the portal (not mailed): the agents' "via the portal" marker."""

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="portal_reply")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"portal reply {self.message_id}"
