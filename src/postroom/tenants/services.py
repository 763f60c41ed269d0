"""Writes on tenants."""

from __future__ import annotations

from typing import Final

from postroom.tenants.models import Tenant

DEFAULT_TENANT_SLUG: Final = "default"


def get_default_tenant() -> Tenant:
    tenant, _ = Tenant.objects.get_or_create(slug=DEFAULT_TENANT_SLUG, defaults={"name": "Default"})
    return tenant
