"""Roles and queue memberships of the console's users (Django's own user model holds the login)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from postroom.core.models import TenantOwnedModel


class Role(models.TextChoices):
    """What a user may do; see docs/architecture/console.md, "Roles and permissions"."""

    ADMIN = "admin", "Admin"
    QUEUE_MANAGER = "queue_manager", "Queue manager"
    AGENT = "agent", "Agent"
    AUDITOR = "auditor", "Auditor (read-only)"
    REQUESTER = "requester", "Requester (portal only)"


class AgentProfile(TenantOwnedModel):
    """A user's role in one tenant. A user without one is an agent of no queue (a superuser: an admin)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profile")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class QueueMembership(TenantOwnedModel):
    """A queue manager or agent belongs to a queue: they see its tickets and act on them."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="queue_memberships")
    queue = models.ForeignKey("tickets.Queue", on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "queue"], name="queue_membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.queue_id}"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A personal access token for the API: shown once, stored only as a SHA-256 hash, scoped and revocable.

    The token is `pr_<prefix>_<secret>`; the prefix (not secret) finds the row, the hash of the whole token is
    compared in constant time. A token acts as its user, with the user's role and queues, never more.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    token_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
