"""Console preferences: an agent's saved ticket-list views."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SavedView(models.Model):
    """A named ticket-list query (filters and search as the list's query string), private to its user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=1000, blank=True, help_text="The list's query string, e.g. status=open&q=vpn.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
