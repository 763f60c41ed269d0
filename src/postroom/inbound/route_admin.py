"""Writes on routes from the admin API and pages: an address (or `@domain`) to a queue, optionally for one mailbox.

Addresses are kept lower case (Route.save); the route stage tries the exact address, then without its plus-tag,
then the domain (postroom.inbound.queries.list_route_keys), and a mailbox's own route wins over a tenant-wide one.
One validation for every channel: ValidationError maps each field to what is wrong.
"""

from __future__ import annotations

import re
from typing import Final

from django.core.exceptions import ValidationError

from postroom.inbound.models import Route
from postroom.mailboxes.models import Mailbox
from postroom.tickets.models import Queue

_DOMAIN: Final = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}"
_ROUTE_ADDRESS: Final = re.compile(rf"(?:[^@\s\"<>(),;:\\\[\]]{{1,64}})?@{_DOMAIN}")


def validate_route(route: Route) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    route.address = route.address.strip().lower()
    if not _ROUTE_ADDRESS.fullmatch(route.address):
        errors["address"] = ["must be an address (support@example.com) or a whole domain (@example.com)"]
    if route.queue_id is None or not Queue.objects.filter(pk=route.queue_id, tenant_id=route.tenant_id).exists():
        errors["queue_id"] = ["no such queue"]
    if (
        route.mailbox_id is not None
        and not Mailbox.objects.filter(pk=route.mailbox_id, tenant_id=route.tenant_id).exists()
    ):
        errors["mailbox_id"] = ["no such mailbox"]
    duplicate = Route.objects.filter(tenant_id=route.tenant_id, address=route.address)
    if route.mailbox_id is None:
        duplicate = duplicate.filter(mailbox__isnull=True)
    else:
        duplicate = duplicate.filter(mailbox_id=route.mailbox_id)
    if "address" not in errors and duplicate.exclude(pk=route.pk).exists():
        scope = "for this mailbox" if route.mailbox_id else "for every mailbox"
        errors["address"] = [f"{route.address} is already routed {scope}"]
    return errors


def save_route(route: Route) -> Route:
    errors = validate_route(route)
    if errors:
        raise ValidationError(errors)
    route.save()
    return route
