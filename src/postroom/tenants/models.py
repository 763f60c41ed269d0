"""The tenant: an organisation whose mail, queues and people are isolated from every other tenant's."""

from __future__ import annotations

from django.db import models


class Tenant(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name
