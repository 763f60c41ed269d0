"""Tickets with messages written straight through the ticket services: for list, search and merge tests that need
many tickets with chosen times and fields (the inbound pipeline is tested elsewhere and costs ~20 queries each)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from postroom.mail.values import Address
from postroom.tenants.services import get_default_tenant
from postroom.tickets.models import Direction, Message, Queue, Ticket
from postroom.tickets.services import create_ticket, upsert_contact

AT: Final = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)


def get_queue(name: str) -> Queue:
    tenant = get_default_tenant()
    queue, _ = Queue.objects.get_or_create(tenant=tenant, slug=name.lower(), defaults={"name": name})
    return queue


def make_ticket(
    queue: Queue,
    subject: str = "Printer jammed",
    text: str = "The printer on floor 3 is jammed again.",
    *,
    at: dt.datetime = AT,
    requester: str = "jane@example.org",
    **fields: Any,
) -> Ticket:
    """A ticket in `queue` with one inbound message (`text`) sent at `at`; `fields` set status, priority, assignee."""
    tenant = get_default_tenant()
    contact = upsert_contact(tenant, Address("", requester))
    ticket = create_ticket(tenant=tenant, queue=queue, subject=subject, requester=contact, at=at, prefix="PR")
    add_message(ticket, text, at=at, subject=subject)
    if fields:
        Ticket.objects.filter(pk=ticket.pk).update(**fields)
        ticket.refresh_from_db()
    return ticket


def add_message(ticket: Ticket, text: str, *, at: dt.datetime = AT, subject: str = "", **fields: Any) -> Message:
    """A message on the ticket; mail (not notes) moves the ticket's last activity forward, as the services do."""
    direction = fields.get("direction", Direction.INBOUND)
    if direction != Direction.NOTE and at > ticket.last_message_at:
        Ticket.objects.filter(pk=ticket.pk).update(last_message_at=at)
        ticket.last_message_at = at
    return Message.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        direction=fields.pop("direction", Direction.INBOUND),
        author=ticket.requester,
        subject=subject or ticket.subject,
        text=text,
        new_text=text,
        sent_at=at,
        **fields,
    )
