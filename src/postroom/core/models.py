"""Abstract base models every domain table builds on."""

from __future__ import annotations

from django.db import models


class TenantOwnedModel(models.Model):
    """Every row belongs to exactly one tenant; queries filter on it (RLS underneath comes later)."""

    # No index of its own: every lookup index starts with the tenant, and a lone tenant index only tempts the
    # planner into scanning a whole tenant when statistics are fresh (one tenant = the whole table).
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
