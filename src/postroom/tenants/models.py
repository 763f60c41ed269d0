"""The tenant: an organisation whose mail, queues and people are isolated from every other tenant's."""

from __future__ import annotations

from django.db import models

from postroom.core.fields import EncryptedJSONField


class Tenant(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    disclaimer = models.TextField(blank=True, help_text="Added below every reply's signature, in every queue.")
    mail_domain = models.CharField(
        max_length=253, blank=True, help_text="Right-hand side of outbound Message-IDs when a queue has no address."
    )

    def __str__(self) -> str:
        return self.name


class ThreadingKey(models.Model):
    """A per-tenant HMAC key that signs the threading tokens of outbound mail (postroom.mail.tokens).

    Keys rotate: `postroom keys rotate` makes a new key the signing key; older keys keep verifying replies to
    mail they signed until they are retired (then such tokens are traced as `retired_key` and ignored).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="threading_keys")
    key_id = models.CharField(max_length=8)
    secret = EncryptedJSONField(help_text='{"secret": base64}: encrypted at rest.')
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key_id"], name="threading_key_unique_id")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.key_id}"
