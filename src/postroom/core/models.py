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


class MetricCounter(models.Model):
    """A monotonically increasing counter shared by every process (postroom.core.metrics), one row per labels."""

    name = models.CharField(max_length=200)
    labels = models.CharField(max_length=500, blank=True, help_text='Prometheus label set, e.g. kind="loop"')
    value = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "labels"], name="metric_counter_unique")]

    def __str__(self) -> str:
        return f"{self.name}{{{self.labels}}} {self.value}"
