"""Reads on tickets and messages."""

from __future__ import annotations

from collections.abc import Sequence

from postroom.core.db import fetch_row
from postroom.core.localcache import TtlCache
from postroom.tenants.models import Tenant
from postroom.tickets.models import Message, Queue, Ticket


def find_message_by_ids(tenant: Tenant, message_ids: Sequence[str]) -> Message | None:
    """The newest stored message whose Message-ID is one of these (indexed on tenant, message_id)."""
    if not message_ids:
        return None
    return (
        Message.objects.filter(tenant=tenant, message_id__in=list(message_ids))
        .select_related("ticket")
        .order_by("-sent_at", "-id")
        .first()
    )


def find_ticket_by_number(tenant: Tenant, number: int) -> Ticket | None:
    return Ticket.objects.filter(tenant=tenant, number=number).first()


def find_inbound_by_fingerprint(tenant: Tenant, fingerprint: str) -> Message | None:
    """Served by the partial unique index on (tenant, fingerprint) of mail-borne messages; at most one row."""
    # `.exclude(fingerprint="")` repeats the partial index's condition so that generic (prepared) plans use it.
    rows = Message.objects.filter(tenant=tenant, fingerprint=fingerprint).exclude(fingerprint="")
    # No ORDER BY: with `.first()` PostgreSQL may walk the primary key instead of using the unique index.
    return next(iter(rows.select_related("ticket").only("id", "ticket__reference").order_by()[:1]), None)


_default_queue_cache: TtlCache[int, Queue | None] = TtlCache()


def find_default_queue(tenant: Tenant) -> Queue | None:
    """The tenant's default queue (cached for a few seconds per process; a queue change clears the cache)."""
    return _default_queue_cache.get_or_load(
        tenant.pk, lambda: Queue.objects.filter(tenant=tenant, is_default=True).order_by("id").first()
    )


_queue_cache: TtlCache[int, Queue] = TtlCache()


def get_queue(queue_id: int) -> Queue:
    """A queue by id with its policies (cached for a few seconds per process; a queue change clears the cache)."""
    return _queue_cache.get_or_load(queue_id, lambda: Queue.objects.get(pk=queue_id))


def get_matched_ticket(ticket_id: int) -> Ticket:
    """The ticket a message continues, read lean (one primary-key SELECT), with its queue from the cache.

    The requester and tenant load on first use; the persist stage locks and re-reads the row before writing.
    """
    ticket = fetch_row(Ticket, "id = %s", [ticket_id])
    if ticket is None:
        raise Ticket.DoesNotExist(f"no ticket with id {ticket_id}")
    ticket.queue = get_queue(ticket.queue_id)
    return ticket
