"""A mailbox: one source of inbound mail and the queue its unrouted mail lands in."""

from __future__ import annotations

from django.db import models

from postroom.core.fields import EncryptedJSONField
from postroom.core.models import TenantOwnedModel


class ConnectorKind(models.TextChoices):
    SMTP = "smtp", "SMTP/LMTP push"
    IMPORT = "import", "File import"
    IMAP = "imap", "IMAP"
    POP3 = "pop3", "POP3"
    GRAPH = "graph", "Microsoft Graph"
    EWS = "ews", "Exchange EWS"


class Mailbox(TenantOwnedModel):
    name = models.CharField(max_length=200)
    address = models.EmailField(blank=True, help_text="The address this mailbox receives, for display.")
    kind = models.CharField(max_length=16, choices=ConnectorKind.choices)
    settings = models.JSONField(default=dict, blank=True, help_text="Host, port, folders: nothing secret.")
    secrets = EncryptedJSONField(blank=True, default="", help_text="Passwords and tokens, AES-GCM at rest.")
    default_queue = models.ForeignKey("tickets.Queue", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)
    last_test_at = models.DateTimeField(null=True, blank=True, help_text="When the connection was last tested.")
    last_test_ok = models.BooleanField(null=True, blank=True, help_text="Whether every server passed that test.")
    last_test_report = models.JSONField(
        default=dict, blank=True, help_text="The last connection test's reports (postroom.mailboxes.probe); no secrets."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="mailbox_unique_name")]

    def __str__(self) -> str:
        return self.name
