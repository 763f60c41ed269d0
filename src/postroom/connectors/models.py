"""What the mailbox connectors keep: a lease per mailbox, a cursor per IMAP folder, and each mailbox's health.

Not tenant-owned on purpose: these rows are the pollers' machinery (any poller serves every tenant); each one
hangs off a mailbox, which carries the tenant.
"""

from __future__ import annotations

from django.db import models


class MailboxLease(models.Model):
    """Which poller process reads a mailbox. Held while `expires_at` is in the future; renewed every heartbeat."""

    mailbox = models.OneToOneField("mailboxes.Mailbox", on_delete=models.CASCADE, primary_key=True, related_name="+")
    holder = models.CharField(max_length=200, blank=True, help_text="The poller's id (host:pid:random); empty: free.")
    acquired_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Another poller may claim the lease from this moment on.")

    def __str__(self) -> str:
        return f"mailbox {self.mailbox_id} -> {self.holder or 'free'}"


class PollerProcess(models.Model):
    """A live poller process, renewed every heartbeat: how many pollers share the mailboxes (leases.fair_share)."""

    holder = models.CharField(max_length=200, primary_key=True)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="Counted as alive until then (1.5 heartbeats after its last tick).")

    def __str__(self) -> str:
        return self.holder


class FolderCursor(models.Model):
    """How far one IMAP folder has been read: UIDs up to `last_uid` under `uidvalidity` are committed and acted on."""

    mailbox = models.ForeignKey("mailboxes.Mailbox", on_delete=models.CASCADE, related_name="+")
    folder = models.CharField(max_length=500)
    uidvalidity = models.BigIntegerField()
    last_uid = models.BigIntegerField(default=0)
    resync_below_uid = models.BigIntegerField(
        default=0,
        help_text="After a UIDVALIDITY change: messages with a lower UID may be known already (matched by sha256).",
    )
    state = models.JSONField(
        default=dict,
        blank=True,
        help_text="Connector-specific sync state beside the UID cursor: a Graph delta link, an EWS sync state.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mailbox", "folder"], name="folder_cursor_unique")]

    def __str__(self) -> str:
        return f"{self.mailbox_id}:{self.folder} {self.uidvalidity}/{self.last_uid}"


class MailboxHealth(models.Model):
    """The outcome of a mailbox's fetch cycles: what the console shows and what alerts are decided on."""

    mailbox = models.OneToOneField("mailboxes.Mailbox", on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, help_text="One plain line; never a secret.")
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_lag_seconds = models.FloatField(
        null=True, blank=True, help_text="Newest message's INTERNALDATE to its commit, in the last cycle with mail."
    )
    token_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="When the OAuth access token in use expires (none for password logins)."
    )
    unhealthy_since = models.DateTimeField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When admins were told; one alert per outage.")
    alert_ticket = models.ForeignKey(
        "tickets.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The ticket the alert and the recovery notice were sent from (one thread per outage).",
    )

    @property
    def is_healthy(self) -> bool:
        return self.unhealthy_since is None

    def __str__(self) -> str:
        return f"mailbox {self.mailbox_id}: {'healthy' if self.is_healthy else 'unhealthy'}"
