"""Writes and reads on routes (address -> queue) for the CLI and the console."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet
from django.utils.text import slugify

from postroom.inbound.models import Route
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Queue


def add_route(address: str, queue_name: str) -> Route:
    """Route `address` (or `@domain`) to the queue of that name, creating the queue when needed."""
    tenant = get_default_tenant()
    with transaction.atomic():
        queue, _ = Queue.objects.get_or_create(
            tenant=tenant, slug=slugify(queue_name) or "queue", defaults={"name": queue_name}
        )
        route, _ = Route.objects.update_or_create(
            tenant=tenant, address=address.strip().lower(), mailbox=None, defaults={"queue": queue}
        )
    return route


def list_routes() -> QuerySet[Route]:
    return Route.objects.select_related("queue").order_by("address")
