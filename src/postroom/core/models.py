"""Abstract base models every domain table builds on."""

from __future__ import annotations

from django.db import models


class TenantOwnedModel(models.Model):
    """Every row belongs to exactly one tenant; queries filter on it (RLS underneath comes later)."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
