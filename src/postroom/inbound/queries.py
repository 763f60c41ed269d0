"""Reads on the ledger and the routes."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q

from postroom.core.localcache import TtlCache
from postroom.inbound.models import InboundMessage, InboundStatus, Route
from postroom.mail.recipients import RecipientCandidate, strip_plus_tag
from postroom.mailboxes.models import Mailbox
from postroom.tenants.models import Tenant
from postroom.tickets.models import Queue, Ticket


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


_MERGE_FIELD = re.compile(r"\{[a-z_]+\}")
_signature_cache: TtlCache[int, tuple[str, ...]] = TtlCache()


def _load_own_signatures(tenant: Tenant) -> tuple[str, ...]:
    texts = [*Queue.objects.filter(tenant=tenant).exclude(signature="").values_list("signature", flat=True)]
    if tenant.disclaimer:
        texts.append(tenant.disclaimer)
    # Merge fields differ per reply; what stays the same is the text around them.
    return tuple(part.strip() for text in texts for part in _MERGE_FIELD.split(text) if len(part.strip()) >= 12)


def list_own_signatures(tenant: Tenant) -> tuple[str, ...]:
    """Our signatures and disclaimers (fixed parts), so that quoted copies of our replies are recognised."""
    return _signature_cache.get_or_load(tenant.pk, lambda: _load_own_signatures(tenant))


@dataclass(frozen=True, slots=True)
class OwnAddresses:
    addresses: frozenset[str]
    domains: frozenset[str]

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        key = strip_plus_tag(address.lower())
        return key in self.addresses or key.rpartition("@")[2] in self.domains


_own_address_cache: TtlCache[int, OwnAddresses] = TtlCache()


def _load_own_addresses(tenant: Tenant) -> OwnAddresses:
    routes = Route.objects.filter(tenant=tenant).values_list("address", flat=True)
    exact = {a.lower() for a in routes if not a.startswith("@")}
    domains = {a[1:].lower() for a in routes if a.startswith("@")}
    exact |= {
        a.lower()
        for a in Queue.objects.filter(tenant=tenant).exclude(from_address="").values_list("from_address", flat=True)
    }
    exact |= {
        a.lower() for a in Mailbox.objects.filter(tenant=tenant).exclude(address="").values_list("address", flat=True)
    }
    return OwnAddresses(frozenset(exact), frozenset(domains))


def get_own_addresses(tenant: Tenant) -> OwnAddresses:
    """The addresses mail to us arrives at (routes, queue and mailbox addresses): never participants."""
    return _own_address_cache.get_or_load(tenant.pk, lambda: _load_own_addresses(tenant))


_agent_address_cache: TtlCache[None, frozenset[str]] = TtlCache()


def _load_agent_addresses() -> frozenset[str]:
    from django.contrib.auth import get_user_model

    emails = get_user_model().objects.filter(is_active=True).exclude(email="").values_list("email", flat=True)
    return frozenset(email.lower() for email in emails)


def is_agent_address(address: str) -> bool:
    """Whether an active user account has this address (agents may add to any ticket).

    Asked for the sender and every To/Cc person of each message: the addresses of the active accounts (agents,
    a few hundred at most) come from the per-process cache; saving a user clears it (inbound/apps.py)."""
    return bool(address) and address.lower() in _agent_address_cache.get_or_load(None, _load_agent_addresses)


def list_participant_keys(ticket: Ticket) -> set[str]:
    """Lower-case addresses of the ticket's participants (the requester is on the ticket row)."""
    from postroom.tickets.models import Participant

    return set(Participant.objects.filter(ticket=ticket).values_list("contact__email_key", flat=True))


def find_organization_id(tenant: Tenant, address: str) -> int | None:
    from postroom.tickets.models import Contact, Organization

    key = address.strip().lower()
    contact_org = Contact.objects.filter(tenant=tenant, email_key=key).values_list("organization_id", flat=True).first()
    if contact_org:
        return int(contact_org)
    domain = key.rpartition("@")[2]
    for organization_id, domains in Organization.objects.filter(tenant=tenant).values_list("pk", "domains"):
        if domain and domain in {str(d).lower() for d in domains or ()}:
            return int(organization_id)
    return None
