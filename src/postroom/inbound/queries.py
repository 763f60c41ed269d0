"""Reads on the ledger and the routes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q

from postroom.core.localcache import TtlCache
from postroom.inbound.models import InboundMessage, InboundStatus, Route
from postroom.mail.recipients import RecipientCandidate, strip_plus_tag
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant
from postroom.tickets.models import Queue


@dataclass(frozen=True, slots=True)
class RouteMatch:
    queue: Queue
    candidate: RecipientCandidate
    route_address: str


def list_route_keys(address: str) -> tuple[str, ...]:
    """Most specific first: the exact address, without its plus-tag, then the whole domain."""
    keys = [address]
    base = strip_plus_tag(address)
    if base != address:
        keys.append(base)
    domain = address.rpartition("@")[2]
    if domain:
        keys.append("@" + domain)
    return tuple(keys)


_routes_cache: TtlCache[tuple[int, int | None], dict[str, Route]] = TtlCache()


def load_routes(tenant_id: int, mailbox_id: int | None) -> dict[str, Route]:
    """Address -> route for this mailbox; a route bound to the mailbox wins over a tenant-wide one."""
    scope = Q(mailbox__isnull=True) | Q(mailbox_id=mailbox_id) if mailbox_id is not None else Q(mailbox__isnull=True)
    routes = Route.objects.filter(scope, tenant_id=tenant_id).select_related("queue")
    by_address: dict[str, Route] = {}
    for route in sorted(routes, key=lambda r: r.mailbox_id is not None):
        by_address[route.address] = route
    return by_address


def find_route_queue(
    tenant: Tenant, mailbox: Mailbox | None, candidates: Sequence[RecipientCandidate]
) -> RouteMatch | None:
    if not candidates:
        return None
    mailbox_id = mailbox.pk if mailbox is not None else None
    by_address = _routes_cache.get_or_load((tenant.pk, mailbox_id), lambda: load_routes(tenant.pk, mailbox_id))
    for candidate in candidates:
        for key in list_route_keys(candidate.address):
            found = by_address.get(key)
            if found is not None:
                return RouteMatch(queue=found.queue, candidate=candidate, route_address=found.address)
    return None


def list_stale_inbound_ids(now: dt.datetime, stale_after: dt.timedelta, limit: int = 500) -> list[tuple[int, int]]:
    """(id, tenant_id) of rows still `received` that nobody claimed recently: a crashed worker's leftovers."""
    cutoff = now - stale_after
    rows = (
        InboundMessage.objects.filter(status=InboundStatus.RECEIVED)
        .filter(Q(claimed_at__isnull=True, received_at__lt=cutoff) | Q(claimed_at__lt=cutoff))
        .order_by("id")
        .values_list("id", "tenant_id")[:limit]
    )
    return list(rows)


def has_waiting_inbound() -> bool:
    """True while any row is still `received` (unclaimed, in progress, or left by a crashed worker)."""
    return InboundMessage.objects.filter(status=InboundStatus.RECEIVED).exists()
